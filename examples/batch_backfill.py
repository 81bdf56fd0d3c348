"""Backfill a directory of chain snapshots on a Dask cluster into one Parquet table.

    target/py-venv/bin/python examples/batch_backfill.py [INPUTS] [OUT] [--workers N]
        [--scheduler ADDRESS] [--no-reports] [--model MODEL]

INPUTS is a chain file, a directory of them or a glob (default: the shared January 2026
Deribit series, else the sample chain in ``data/``); OUT the results directory (default
``target/backfill``). Without ``--scheduler`` a LocalCluster of N worker processes (two threads
each, a thread more than a core: see volfit.batch) is started here; with it, the job runs on that
cluster (its workers must see INPUTS and OUT at the same paths). Rerunning the same command resumes: inputs already done are
read back from ``OUT/parts`` and only the rest are calibrated.

Needs ``pip install "volfit[batch]"`` (pandas, pyarrow, dask[distributed]).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SERIES = HERE.parent.parent / "shared" / "data" / "deribit_series" / "2026-01"
SAMPLE = HERE.parent / "data" / "sample_chain.csv"


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("inputs", nargs="?", default=str(SERIES if SERIES.is_dir() else SAMPLE))
    ap.add_argument("out", nargs="?", default=str(HERE.parent / "target" / "backfill"))
    ap.add_argument("--workers", type=int, default=2, help="local worker processes (default 2)")
    ap.add_argument("--scheduler", help="address of a running Dask scheduler")
    ap.add_argument("--no-reports", action="store_true", help="write no report.json")
    ap.add_argument("--model", default="spline", help="as volfit calibrate --model")
    a = ap.parse_args(argv)

    import volfit.batch
    from dask.distributed import Client, LocalCluster

    if a.scheduler:
        client = Client(a.scheduler)
    else:
        cluster = LocalCluster(n_workers=a.workers, threads_per_worker=2, processes=True,
                               dashboard_address=None)
        client = Client(cluster)
    try:
        clock = time.perf_counter()
        table = volfit.batch.calibrate_many(a.inputs, client=client, out=a.out,
                                            model=a.model, reports=not a.no_reports)
        wall = time.perf_counter() - clock
    finally:
        client.close()
        if not a.scheduler:
            cluster.close()

    ok = table[table["error"] == ""]
    failed = table[table["error"] != ""]
    print(f"{table.attrs['computed']} inputs calibrated, {table.attrs['reused']} reused from "
          f"{a.out}/parts in {wall:.2f} s")
    print(f"{len(ok)} expiries fitted ({len(ok) / wall:.0f} per second), "
          f"{len(failed)} error rows")
    if len(ok):
        print(f"median RMSE {ok['rmse_iv'].median() * 1e4:.1f} bp of vol, "
              f"median share inside bid/ask {ok['within_spread'].median():.1%}, "
              f"arbitrage-free surfaces {ok.groupby(['input', 'underlying'])['arbitrage_free'].first().mean():.0%}")
    for _, row in failed.head(5).iterrows():
        print(f"  {row['input']} {row['underlying']}: {row['error']}")
    print(f"table: {os.path.join(a.out, 'calibrations.parquet')}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
