"""volfit.batch on a dask.distributed LocalCluster (two worker processes) and locally, on
the shared Deribit January series (121 snapshot files, ../shared/data/deribit_series)."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

import volfit
import volfit.batch as vb

ROOT = Path(__file__).resolve().parents[2]
SERIES = ROOT.parent / "shared" / "data" / "deribit_series" / "2026-01"
FILES = sorted(SERIES.glob("deribit_options_snapshot_*.csv"))

pytestmark = pytest.mark.skipif(len(FILES) != 121, reason="../shared/data/deribit_series absent")

#: Everything but what differs from run to run (timings) or names this run's directory.
STABLE = [c for c in vb.COLUMNS if c not in vb.TIMING_COLUMNS + ("surface",)]


def stable(table):
    return table[STABLE].reset_index(drop=True)


@pytest.fixture(scope="module")
def cluster():
    from dask.distributed import Client, LocalCluster

    # Two threads per worker, as the docs recommend (tasks run concurrently within a process).
    cl = LocalCluster(n_workers=2, threads_per_worker=2, processes=True,
                      dashboard_address=None)
    client = Client(cl)
    yield client
    client.close()
    cl.close()


@pytest.fixture(scope="module")
def backfill(cluster, tmp_path_factory):
    """The whole series on the cluster, into a fresh directory."""
    out = tmp_path_factory.mktemp("dask")
    return out, vb.calibrate_many(SERIES, client=cluster, out=out)


@pytest.fixture(scope="module")
def single(tmp_path_factory):
    """The whole series in one process, one thread."""
    out = tmp_path_factory.mktemp("single")
    return out, vb.calibrate_many(SERIES, out=out, max_workers=1)


def test_cluster_backfill_equals_single_process_row_for_row(backfill, single):
    (out, table), (_, one) = backfill, single
    assert table.attrs["computed"] == 121 and table.attrs["reused"] == 0
    assert list(table.columns) == list(vb.COLUMNS)
    pd.testing.assert_frame_equal(stable(table), stable(one))
    assert (table["error"] == "").all(), table.loc[table["error"] != "", ["input", "error"]]
    # BTC and ETH in every file, in input order, each underlying's rows by expiry.
    per_file = table.groupby("input", sort=False)["underlying"].unique()
    assert list(per_file.index) == [str(f) for f in FILES]
    assert all(sorted(u) == ["BTC", "ETH"] for u in per_file)
    for _, g in table.groupby(["input", "underlying"], sort=False):
        assert g["t"].is_monotonic_increasing
    # The Parquet files hold the same table: the whole and the 121 parts.
    whole = pd.read_parquet(out / "calibrations.parquet")
    pd.testing.assert_frame_equal(stable(vb._retyped(whole, vb.COLUMNS)), stable(table))
    assert len(list((out / "parts").glob("*.parquet"))) == 121
    assert not list(out.rglob("*.tmp"))


def test_rows_agree_with_the_written_surfaces_and_reports(backfill):
    out, table = backfill
    for (inp, und), g in list(table.groupby(["input", "underlying"], sort=False))[::20]:
        path = g["surface"].iloc[0]
        assert Path(path).is_file() and Path(path).parent.name == und
        surface = volfit.Surface.load(path)
        assert len(surface.params()) == len(g)
        assert surface.forward(g["t"].to_numpy()) == pytest.approx(g["forward"], rel=1e-12)
        report = json.loads((Path(path).parent / "report.json").read_text())
        assert report["input"] == inp and report["options"] == table.attrs["options"]
        fitted = [s for s in report["slices"]]
        assert [s["rmse_iv"] for s in fitted] == list(g["rmse_iv"])
        assert [s["n_quotes"] for s in fitted] == list(g["n_quotes"])
        # The within-spread share is the report's quotes inside their bid/ask.
        assert g["within_spread"].between(0, 1).all()


def test_table_matches_the_cli_on_the_same_file(tmp_path, backfill):
    """An independent path to the same numbers: the volfit binary's report.json."""
    _, table = backfill
    cli = ROOT / "target" / "release" / "volfit"
    if not cli.exists():
        pytest.skip("target/release/volfit not built")
    f = FILES[40]
    subprocess.run([str(cli), "calibrate", str(f), "--out", str(tmp_path), "--no-plots"],
                   check=True, capture_output=True)
    rows = table[table["input"] == str(f)]
    for und in ("BTC", "ETH"):
        report = json.loads((tmp_path / und / "report.json").read_text())
        mine = rows[rows["underlying"] == und]
        assert list(mine["rmse_iv"]) == [s["rmse_iv"] for s in report["slices"]]
        assert [json.loads(p) for p in mine["params"]] == [s["params"] for s in report["slices"]]
        assert bool(mine["calendar_free"].iloc[0]) == report["calendar_free"]


def test_rerun_reuses_every_part(cluster, backfill):
    out, table = backfill
    again = vb.calibrate_many(SERIES, client=cluster, out=out)
    assert again.attrs["computed"] == 0 and again.attrs["reused"] == 121
    pd.testing.assert_frame_equal(again.reset_index(drop=True), table.reset_index(drop=True))
    # Other options are another job: nothing reused.
    other = vb.calibrate_many(FILES[:2], out=out, min_quotes=6)
    assert other.attrs["computed"] == 2 and other.attrs["reused"] == 0


def test_without_reports_and_the_whole_table(tmp_path):
    out = tmp_path / "out"
    got = vb.calibrate_many(FILES[:2], out=out, reports=False, write_table=False)
    assert not list(out.rglob("report.json")) and len(list(out.rglob("surface.json"))) == 4
    assert not (out / "calibrations.parquet").exists()
    assert len(list((out / "parts").glob("*.parquet"))) == 2
    # With reports wanted, the parts made without them are redone.
    again = vb.calibrate_many(FILES[:2], out=out)
    assert again.attrs["computed"] == 2 and len(list(out.rglob("report.json"))) == 4
    pd.testing.assert_frame_equal(stable(got), stable(again))


def test_spark_schema_names_every_column_with_its_type():
    fields = [f.split(" ") for f in vb.SPARK_SCHEMA.split(", ")]
    assert [n for n, _ in fields] == list(vb.COLUMNS)
    kinds = dict(fields)
    assert kinds["as_of"] == kinds["expiry"] == "timestamp"
    assert kinds["n_quotes"] == "bigint" and kinds["rmse_iv"] == "double"
    assert kinds["converged"] == "boolean" and kinds["error"] == "string"


def test_a_corrupt_file_is_an_error_row_and_the_rest_completes(cluster, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    for f in FILES[:4]:
        (src / f.name).symlink_to(f)
    bad = src / "deribit_options_snapshot_20260102T000000Z.csv"
    bad.write_bytes(b"\x00\x01 not a chain \xff\n" * 3)
    out = tmp_path / "out"
    table = vb.calibrate_many(src, client=cluster, out=out)
    errors = table[table["error"] != ""]
    assert list(errors["input"]) == [str(bad)], errors
    assert bad.name in errors["error"].iloc[0]
    assert pd.isna(errors["expiry"].iloc[0]) and errors["underlying"].iloc[0] == ""
    good = table[table["input"] != str(bad)]
    assert good["input"].nunique() == 4 and (good["error"] == "").all()
    # The good files' rows are what they are without the bad one.
    alone = vb.calibrate_many([p for p in sorted(src.glob("*")) if p != bad])
    pd.testing.assert_frame_equal(stable(good), stable(alone))
    # The bad file's verdict is a part too: a rerun does not retry it.
    again = vb.calibrate_many(src, client=cluster, out=out)
    assert again.attrs["reused"] == 5 and again.attrs["computed"] == 0
    # Edited, it is redone.
    bad.write_bytes(b"strike,bid\n1,2\n")
    redo = vb.calibrate_many(src, out=out)
    assert redo.attrs["computed"] == 1
    assert redo.loc[redo["input"] == str(bad), "error"].iloc[0] != ""


def test_a_run_killed_half_way_resumes_to_the_same_table(tmp_path, backfill):
    out = tmp_path / "out"
    script = textwrap.dedent(f"""
        import volfit.batch as vb
        vb.calibrate_many({str(SERIES)!r}, out={str(out)!r}, max_workers=1)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script])
    parts = out / "parts"
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if parts.is_dir() and len(list(parts.glob("*.parquet"))) >= 30:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the run finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done = len(list(parts.glob("*.parquet")))
    assert 30 <= done < 121 and not (out / "calibrations.parquet").exists()
    # Every part left behind is whole.
    for p in parts.glob("*.parquet"):
        pq.read_table(p)
    resumed = vb.calibrate_many(SERIES, out=out)
    assert resumed.attrs["reused"] == done and resumed.attrs["computed"] == 121 - done
    pd.testing.assert_frame_equal(stable(resumed), stable(backfill[1]))
    assert not list(out.rglob("*.tmp"))


def test_bad_options_fail_before_any_work(tmp_path):
    out = tmp_path / "out"
    with pytest.raises(volfit.VolfitValueError, match="model"):
        vb.calibrate_many(FILES[:2], out=out, model="hyperbolic")
    with pytest.raises(volfit.VolfitValueError, match="no_such_option"):
        vb.calibrate_many(FILES[:2], out=out, no_such_option=1)
    with pytest.raises(volfit.VolfitValueError, match="format"):
        vb.calibrate_many(FILES[:2], out=out, format="xlsx")
    with pytest.raises(volfit.VolfitValueError, match="no such file"):
        vb.calibrate_many(tmp_path / "missing*.csv", out=out)
    assert not out.exists()


def test_frames_are_inputs_like_files(tmp_path, backfill):
    _, table = backfill
    f = FILES[7]
    frame = pd.read_csv(f)
    out = tmp_path / "out"
    got = vb.calibrate_many({"jan04": frame}, out=out, max_workers=1)
    assert (got["input"] == "jan04").all()
    want = table[table["input"] == str(f)]
    cols = [c for c in STABLE if c not in ("input",)]
    pd.testing.assert_frame_equal(got[cols].reset_index(drop=True),
                                  want[cols].reset_index(drop=True))
    assert (out / "jan04" / "BTC" / "surface.json").is_file()
    assert vb.calibrate_many({"jan04": frame}, out=out).attrs["reused"] == 1
    changed = frame.iloc[::2]
    assert vb.calibrate_many({"jan04": changed}, out=out).attrs["computed"] == 1


def test_track_many_splits_by_underlying_and_replays_in_order(cluster, tmp_path):
    files = FILES[:6]
    out = tmp_path / "out"
    table = vb.track_many(files, ["BTC", "ETH"], client=cluster, out=out)
    assert list(table.columns) == list(vb.TRACK_COLUMNS)
    assert (table["error"] == "").all(), table[table["error"] != ""]
    for und in ("BTC", "ETH"):
        rows = table[table["underlying"] == und]
        assert list(rows["input"].unique()) == [str(f) for f in files]
        assert rows.groupby("input").size().tolist() == [4] * 6
        # The same replay by hand, in this process.
        tracker = volfit.Tracker(und)
        for f in files:
            tracker.update(str(f))
        last = rows[rows["input"] == str(files[-1])]
        atm30 = last.loc[last["tenor_days"] == 30, "atm_vol"].iloc[0]
        by_hand = json.loads(tracker._t.tenor_samples_json())
        assert atm30 == next(s for s in by_hand if s["days"] == 30)["point"]["atm_vol"]
        assert (out / und / "surface.json").is_file()
        saved = pd.read_parquet(out / und / "timeseries.parquet")
        assert len(saved) == len(rows)
    assert len(pd.read_parquet(out / "track.parquet")) == len(table)


def test_track_many_reports_an_unreadable_snapshot_and_goes_on(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    for f in FILES[:3]:
        (src / f.name).symlink_to(f)
    bad = src / "deribit_options_snapshot_20260101T120000Z.csv"
    bad.write_text("garbage\n")
    table = vb.track_many(src, ["BTC"])
    errors = table[table["error"] != ""]
    assert list(errors["input"]) == [str(bad)]
    assert table[table["error"] == ""]["input"].nunique() == 3


def test_expiries_fitted_in_parallel_give_the_same_rows(backfill):
    _, table = backfill
    files = [str(f) for f in FILES[::30]]
    par = vb.calibrate_many(files, max_workers=2, expiries_in_parallel=True)
    seq = vb.calibrate_many(files, max_workers=2, expiries_in_parallel=False)
    pd.testing.assert_frame_equal(stable(par), stable(seq))
    pd.testing.assert_frame_equal(stable(par),
                                  stable(table[table["input"].isin(files)]))


def test_the_example_backfills_and_resumes(tmp_path):
    example = ROOT / "examples" / "batch_backfill.py"
    glob = str(SERIES / "deribit_options_snapshot_2026010[12]*.csv")
    cmd = [sys.executable, str(example), glob, str(tmp_path / "out"), "--workers", "2"]
    first = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    assert "5 inputs calibrated, 0 reused" in first, first
    assert "0 error rows" in first, first
    again = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    assert "0 inputs calibrated, 5 reused" in again, again
    table = pd.read_parquet(tmp_path / "out" / "calibrations.parquet")
    assert table["input"].nunique() == 5 and (table["error"] == "").all()


def test_a_task_that_raises_on_the_cluster_is_an_error_row_in_its_place(cluster):
    def flaky(task, scale):
        if task % 3 == 1:
            raise RuntimeError(f"task {task} broke")
        return task * scale

    got = vb._run(list(range(7)), flaky, cluster, None,
                  lambda task, e: f"crash {task}: {type(e).__name__}: {e}", scale=10)
    assert got == [0, "crash 1: RuntimeError: task 1 broke", 20, 30,
                   "crash 4: RuntimeError: task 4 broke", 50, 60]
    local = vb._run(list(range(7)), flaky, None, 2,
                    lambda task, e: f"crash {task}: {type(e).__name__}: {e}", scale=10)
    assert local == got
