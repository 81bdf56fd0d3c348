"""Throughput of ``volfit.batch.calibrate_many`` on Dask against ``volfit calibrate DIR``.

    cargo build --release && python/run-tests.sh        # the binary and the wheel
    target/py-venv/bin/python benches/batch_throughput.py [ROUNDS] [DIR]

Interleaves, ROUNDS times (default 8), one run of each: the CLI (``--no-plots``, rayon over files
and expiries), ``calibrate_many`` on a LocalCluster of two worker processes of two threads each
(the configuration the docs recommend: a second thread per worker runs a task while the other
waits on Dask's per-task bookkeeping), the same with one thread each, and ``calibrate_many`` in a
local pool of two threads — each into a fresh directory, with every surface.json and report.json
written. DIR defaults to the shared January 2026 Deribit series. The
machine's noise moves single runs by tens of percent, so it prints each round's ratio to the CLI of
the same round, their median, and the best run of each path. Not a test (no timing assertions).
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLI = ROOT / "target" / "release" / "volfit"
SERIES = ROOT.parent / "shared" / "data" / "deribit_series" / "2026-01"


def main(argv: list[str]) -> int:
    rounds = int(argv[0]) if argv else 8
    inputs = argv[1] if len(argv) > 1 else str(SERIES)
    if not CLI.exists():
        print(f"{CLI} is missing: run cargo build --release first", file=sys.stderr)
        return 2
    import volfit.batch as vb
    from dask.distributed import Client, LocalCluster

    clusters = [LocalCluster(n_workers=2, threads_per_worker=n, processes=True,
                             dashboard_address=None) for n in (2, 1)]
    client, client1 = (Client(c) for c in clusters)
    try:
        slices = int((vb.calibrate_many(inputs, client=client)["error"] == "").sum())  # warm-up
        vb.calibrate_many(inputs, client=client1)
        paths = {
            "volfit calibrate DIR (rayon, 2 cores)": lambda out: subprocess.run(
                [str(CLI), "calibrate", inputs, "--out", out, "--no-plots"], check=True,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
            "calibrate_many, 2 Dask workers x 2 threads": lambda out: vb.calibrate_many(
                inputs, client=client, out=out),
            "calibrate_many, 2 Dask workers x 1 thread": lambda out: vb.calibrate_many(
                inputs, client=client1, out=out),
            "calibrate_many, local pool of 2 threads": lambda out: vb.calibrate_many(
                inputs, out=out, max_workers=2),
        }
        times: dict = {name: [] for name in paths}
        for r in range(rounds):
            for name, run in paths.items():
                out = tempfile.mkdtemp(prefix="volfit-bench-")
                clock = time.perf_counter()
                run(out)
                times[name].append(time.perf_counter() - clock)
                shutil.rmtree(out)
            print(f"round {r + 1}/{rounds}: "
                  + ", ".join(f"{t[-1]:.2f} s" for t in times.values()), flush=True)
    finally:
        for c in (client, client1, *clusters):
            c.close()
    cli = times[next(iter(paths))]
    print(f"\n{slices} slices per run")
    print(f"{'path':42s} {'best s':>7s} {'slices/s':>9s}  per-round ratio to the CLI")
    for name, t in times.items():
        ratios = [a / b for a, b in zip(t, cli)]
        print(f"{name:42s} {min(t):7.2f} {slices / min(t):9.0f}  median {statistics.median(ratios):.2f}"
              f" (range {min(ratios):.2f}-{max(ratios):.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
