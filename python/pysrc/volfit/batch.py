"""Batch calibration of many chains — on a ``dask.distributed`` cluster or locally — into one
tidy table written as Parquet.

:func:`calibrate_many` calibrates chain files (or pandas DataFrames) as ``volfit calibrate
--no-plots`` does, one task per input, each task in the Rust core with the GIL released; the
results come back as one pandas DataFrame with a row per input × underlying × expiry
(:data:`COLUMNS`). :func:`track_many` replays a snapshot series through the live
:class:`volfit.Tracker`, one task per underlying. Neither loses work:

- an input that cannot be read or calibrated becomes a row whose ``error`` says why, and the
  others complete;
- with ``out=``, each input's rows are written as ``out/parts/<name>.parquet`` (after its
  ``surface.json`` and ``report.json`` under ``out/<name>/<UNDERLYING>/``), each file
  atomically (a temporary file renamed over the target), so a run killed at any point
  leaves only whole files; a rerun with the same options skips every input whose part is
  there (the part records the options and the input's size and modification time, or the
  frame's content hash) and calibrates the rest; ``out/calibrations.parquet`` is the whole
  table.

Workers must see the input files and ``out`` at the same paths as the client (a shared
file system or object-store mount), and have the same volfit installed. Give each worker
process one thread more than it has cores (e.g. ``--nthreads 2`` on one core): a task is one
GIL-free Rust call of ~15-25 ms, and Dask spends ~2 ms of bookkeeping between a worker
thread's tasks, which a second thread fills (on the 121-file series on two cores, two
workers of two threads ran at median 1.10x the CLI's wall time, of one thread 1.24x;
``benches/batch_throughput.py``).

>>> import volfit.batch  # doctest: +SKIP
>>> from dask.distributed import Client, LocalCluster  # doctest: +SKIP
>>> client = Client(LocalCluster(n_workers=2, threads_per_worker=2))  # doctest: +SKIP
>>> table = volfit.batch.calibrate_many("snapshots/", client=client, out="backfill/",
...                                     model="spline", min_quotes=5)  # doctest: +SKIP
"""

from __future__ import annotations

import glob as _glob
import hashlib
import json
import os
import re
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Optional

from . import FORMATS, InternalError, VolfitError, VolfitValueError, _frame_csv, _volfit

__all__ = ["calibrate_many", "track_many", "COLUMNS", "TRACK_COLUMNS", "TIMING_COLUMNS",
           "SPARK_SCHEMA", "SCHEMA_VERSION"]

#: Version of the table's layout, stored in every part; a part of another version is redone.
SCHEMA_VERSION = 2

#: The columns of :func:`calibrate_many`'s table and their pandas dtypes. Times are UTC;
#: vols and errors decimals; ``params`` the expiry's fitted parameters as JSON (as in
#: ``report.json``); ``flags`` the review flags' kinds, comma-separated; ``calendar_free``
#: and ``arbitrage_free`` are the surface's verdicts, on each of its rows; ``ingest_micros``,
#: ``total_micros`` the input's reading and whole calibration (the underlying's), per row;
#: ``surface`` the path of the written ``surface.json`` (empty without ``out``); ``error``
#: empty unless that input, underlying or expiry failed (then the reason).
COLUMNS: dict = {
    "input": "string",
    "as_of": "datetime64[ns, UTC]",
    "underlying": "string",
    "expiry": "datetime64[ns, UTC]",
    "t": "float64",
    "forward": "float64",
    "forward_source": "string",
    "model": "string",
    "optimizer": "string",
    "params": "string",
    "n_quotes": "Int64",
    "rmse_iv": "float64",
    "max_abs_err_iv": "float64",
    "within_spread": "float64",
    "converged": "boolean",
    "iterations": "Int64",
    "butterfly_free": "boolean",
    "min_g": "float64",
    "flags": "string",
    "calendar_free": "boolean",
    "arbitrage_free": "boolean",
    "fit_micros": "float64",
    "ingest_micros": "float64",
    "total_micros": "float64",
    "surface": "string",
    "error": "string",
}

#: The columns of :func:`track_many`'s table: a row per snapshot × tenor (``tenor_days`` of
#: ``volfit track``'s ``timeseries.csv``: 7, 30, 90, 180), ``atm_vol``, ``rr25``, ``bf25``
#: decimals read off the tracked surface at constant maturity and ``atm_sd`` the filter's
#: standard deviation of the ATM vol; the update's account; ``error`` empty unless that
#: snapshot's update failed (then one row, the reason).
TRACK_COLUMNS: dict = {
    "input": "string",
    "underlying": "string",
    "as_of": "datetime64[ns, UTC]",
    "tenor_days": "float64",
    "atm_vol": "float64",
    "rr25": "float64",
    "bf25": "float64",
    "atm_sd": "float64",
    "update_micros": "float64",
    "expiries_refitted": "Int64",
    "quotes_used": "Int64",
    "within_spread": "float64",
    "nis": "float64",
    "error": "string",
}

#: :data:`COLUMNS` as a Spark SQL schema (DDL), for ``mapInPandas`` (see the README).
SPARK_SCHEMA = ", ".join(
    f"{c} {dict(string='string', float64='double', Int64='bigint', boolean='boolean').get(t, 'timestamp')}"
    for c, t in COLUMNS.items())

#: The timing columns, which differ from run to run (everything else is reproducible).
TIMING_COLUMNS = ("fit_micros", "ingest_micros", "total_micros", "update_micros")


@dataclass(frozen=True)
class _Input:
    """One input: ``name`` (a safe file-name stem, unique in the batch), ``label`` (the path,
    or the frame's name), ``path`` or ``text`` (a frame as CSV), and its ``fingerprint``."""

    name: str
    label: str
    path: Optional[str]
    text: Optional[str]
    fingerprint: str


def _safe(name: str) -> str:
    """``name`` as one safe path component (letters, digits, ``._-``; others ``_``)."""
    s = re.sub(r"[^A-Za-z0-9._-]", "_", name).strip(".") or "_"
    return s[:120]


def _expand(spec: Any) -> list:
    """A path spec as files: a file, a directory's ``.csv`` / ``.json`` files, or a glob."""
    p = os.fspath(spec)
    if os.path.isdir(p):
        files = sorted(os.path.join(p, f) for f in os.listdir(p)
                       if f.lower().endswith((".csv", ".json"))
                       and os.path.isfile(os.path.join(p, f)))
        if not files:
            raise VolfitValueError(f"{p}: the directory holds no .csv or .json file")
        return files
    if os.path.exists(p):
        return [p]
    files = sorted(_glob.glob(p))
    if not files:
        raise VolfitValueError(f"{p}: no such file, directory, or files matching the pattern")
    return files


def _is_frame(x: Any) -> bool:
    return hasattr(x, "to_csv") and hasattr(x, "columns")


def _file_fingerprint(path: str) -> str:
    try:
        st = os.stat(path)
        return f"file:{st.st_size}:{st.st_mtime_ns}"
    except OSError as e:
        return f"unreadable:{e}"


def _inputs(inputs: Any) -> list:
    """The batch's inputs in order, each named uniquely (a file's stem; a frame's key in a
    dict, else ``frame<i>``; a collision gets a hash of its label)."""
    if isinstance(inputs, (str, os.PathLike)) or _is_frame(inputs):
        inputs = [inputs]
    if isinstance(inputs, dict):
        pairs = [(str(k), v) for k, v in inputs.items()]
    else:
        pairs = [(None, v) for v in inputs]
    raw = []
    for i, (key, item) in enumerate(pairs):
        if _is_frame(item):
            label = key if key is not None else f"frame{i}"
            text = _frame_csv(item)
            digest = hashlib.sha256(text.encode()).hexdigest()
            raw.append((label, label, None, text, f"frame:{digest}"))
        elif isinstance(item, (str, os.PathLike)):
            for f in _expand(item):
                raw.append((Path(f).stem, f, f, None, _file_fingerprint(f)))
        else:
            raise VolfitValueError(
                f"inputs: each input is a path (file, directory or glob) or a pandas DataFrame, "
                f"got {type(item).__name__}")
    seen: dict = {}
    out = []
    for stem, label, path, text, fp in raw:
        name = _safe(stem)
        if name.lower() in seen:
            if seen[name.lower()] == label:
                continue  # the same file given twice
            name = f"{name}-{hashlib.sha1(label.encode()).hexdigest()[:8]}"
        seen[name.lower()] = label
        out.append(_Input(name, label, path, text, fp))
    return out


def _write_atomic(path: Path, data: bytes) -> None:
    """Writes ``data`` to a temporary file beside ``path`` and renames it over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.{uuid.uuid4().hex}.tmp"
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _typed(rows: list, columns: dict) -> Any:
    """The rows (dicts) as a DataFrame with exactly ``columns`` and their dtypes."""
    import pandas as pd

    return _retyped(pd.DataFrame(rows, columns=list(columns)), columns)


def _retyped(frame: Any, columns: dict) -> Any:
    """``frame`` with exactly ``columns`` (missing ones empty) and their dtypes."""
    import pandas as pd

    frame = frame.reindex(columns=list(columns))
    for col, dtype in columns.items():
        if dtype.startswith("datetime64"):
            frame[col] = pd.to_datetime(frame[col], utc=True, format="ISO8601").astype(dtype)
        elif dtype == "string":
            frame[col] = frame[col].astype("string").fillna("")
        else:
            frame[col] = frame[col].astype(dtype)
    return frame


_ARROW_TYPES = {"string": "string", "float64": "float64", "Int64": "int64", "boolean": "bool_"}


def _arrow(rows: list, columns: dict) -> Any:
    """The rows (dicts) as an Arrow table with exactly ``columns`` (see :func:`_arrow_columns`)."""
    return _arrow_columns({c: [r.get(c) for r in rows] for c in columns}, columns)


def _arrow_columns(values: dict, columns: dict) -> Any:
    """``{column: list}`` as an Arrow table with exactly ``columns`` (a missing column is
    empty, a missing string ``""``; times are RFC 3339 text or timezone-aware datetimes).
    Built column by column, without pandas: a task's rows cost microseconds, not the
    milliseconds of a typed DataFrame."""
    import pyarrow as pa

    n = len(next(iter(values.values()))) if values else 0
    arrays = []
    for col, dtype in columns.items():
        v = values.get(col)
        if v is None:
            v = [None] * n
        if dtype.startswith("datetime64"):
            text = [x.isoformat() if hasattr(x, "isoformat") else x for x in v]
            arr = pa.array(text, pa.string()).cast(pa.timestamp("ns", tz="UTC"))
        elif dtype == "string":
            arr = pa.array(["" if x is None else str(x) for x in v], pa.string())
        else:
            arr = pa.array(v, getattr(pa, _ARROW_TYPES[dtype])())
        arrays.append(arr)
    return pa.Table.from_arrays(arrays, names=list(columns))


def _write_parquet(frame: Any, path: Path, meta: Optional[dict] = None) -> None:
    """``frame`` (a DataFrame or an Arrow table) as Parquet at ``path``, atomically; ``meta``
    in the file's metadata."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = frame if isinstance(frame, pa.Table) else pa.Table.from_pandas(
        frame, preserve_index=False)
    if meta is not None:
        table = table.replace_schema_metadata(
            {**(table.schema.metadata or {}), b"volfit": json.dumps(meta).encode()})
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    _write_atomic(path, sink.getvalue().to_pybytes())


def _part_meta(path: Path) -> Optional[dict]:
    """The metadata of a part (its schema only is read), or None when it is missing or
    unreadable."""
    import pyarrow.parquet as pq

    try:
        raw = (pq.read_schema(path).metadata or {}).get(b"volfit")
        return json.loads(raw) if raw else None
    except (OSError, ValueError):
        return None


def _concat(pieces: list, columns: dict) -> Any:
    """Arrow tables (parts read back) and DataFrames (results) as one DataFrame of
    ``columns``, in order."""
    import pyarrow as pa

    tables = [(p if isinstance(p, pa.Table) else pa.Table.from_pandas(p, preserve_index=False))
              .replace_schema_metadata(None) for p in pieces]
    return _retyped(pa.concat_tables(tables).to_pandas(), columns)


def _error_row(label: str, error: str, underlying: str = "", **extra: Any) -> dict:
    return {"input": label, "underlying": underlying, "error": error, **extra}


def _meta(item: _Input, options: str, fmt: str, underlying: Optional[str],
          reports: bool) -> dict:
    return {"schema": SCHEMA_VERSION, "input": item.label, "fingerprint": item.fingerprint,
            "options": json.loads(options), "format": fmt, "underlying": underlying,
            "reports": reports}


def _calibrate_task(item: _Input, fmt: str, underlying: Optional[str], options: str,
                    out: Optional[str], reports: bool = True, parallel: bool = True) -> Any:
    """One input calibrated (in a Dask worker or a local thread): its rows as an Arrow table.
    Never raises for a bad input: the reason is the ``error`` of its row. With ``out``, the
    surfaces and reports are written first and the part last, each atomically."""
    base = None if out is None else str(Path(out) / item.name)
    if base is not None:  # a killed run's unfinished writes of this input
        for d in Path(base).glob("*"):
            _clean_temporaries(d)
    try:
        frame = _arrow_columns(
            _volfit.calibrate_table(item.label, item.label if item.path is None else item.path,
                                    item.text, fmt, underlying, options, base, reports,
                                    parallel), COLUMNS)
    except InternalError:
        raise
    except VolfitError as e:
        frame = _arrow([_error_row(item.label, str(e))], COLUMNS)
    if out is not None:
        _write_parquet(frame, Path(out) / "parts" / f"{item.name}.parquet",
                       _meta(item, options, fmt, underlying, reports))
    return frame


def _run(tasks: list, func: Any, client: Any, max_workers: Optional[int],
         on_crash: Any, **kwargs: Any) -> list:
    """``func(task, **kwargs)`` for every task, on ``client`` (one Dask task each) or in a
    local thread pool; a task that raised (a crashed worker, a core bug) gives
    ``on_crash(task, exc)``. Results in task order."""
    if not tasks:
        return []
    if client is not None:
        from distributed import wait

        futures = client.map(func, tasks, pure=False, **kwargs)
        wait(futures)
        # One bulk transfer of the results (a result() per future fetches them one by one:
        # measured ~12% of the run's wall time on the 121-file series).
        done = [f for f in futures if f.status == "finished"]
        fetched = iter(client.gather(done))
        results = []
        for task, fut in zip(tasks, futures):
            if fut.status == "finished":
                results.append(next(fetched))
                continue
            try:
                e = fut.exception()
            except Exception as err:  # noqa: BLE001 - a cancelled future raises here
                e = err
            results.append(on_crash(task, e))  # every failure becomes an error row
        return results
    workers = max_workers or min(len(tasks), os.cpu_count() or 1)

    def one(task: Any) -> Any:
        try:
            return func(task, **kwargs)
        except Exception as e:  # noqa: BLE001
            return on_crash(task, e)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(one, tasks))


def _clean_temporaries(directory: Path) -> None:
    """Removes the temporary files (``.<name>.<unique>.tmp``, beside their targets) of a
    killed run's unfinished writes in ``directory``."""
    if directory.is_dir():
        for p in directory.glob(".*.tmp"):
            try:
                p.unlink()
            except OSError:
                pass


def calibrate_many(inputs: Any, client: Any = None, out: Any = None, *, format: str = "auto",
                   underlying: Optional[str] = None, max_workers: Optional[int] = None,
                   reports: bool = True, write_table: bool = True,
                   expiries_in_parallel: Optional[bool] = None, **options: Any) -> Any:
    """Calibrates many chains and returns one table (a pandas DataFrame, :data:`COLUMNS`).

    ``inputs``: a path (a chain file, a directory of ``.csv`` / ``.json`` files, or a glob),
    a pandas DataFrame of quotes (any layout the readers know, as :meth:`volfit.Tracker.update`
    takes), or a list of these, or a dict ``{name: DataFrame}``. ``client``: a
    ``dask.distributed.Client`` — one task per input on its workers — or None to calibrate in
    a local thread pool of ``max_workers`` threads (the core releases the GIL; default one
    per CPU). ``out``: a directory for the results (see the module doc: parts, surfaces,
    reports and ``calibrations.parquet``; a rerun resumes), or None to return the table only.
    ``format`` (one of :data:`volfit.FORMATS`), ``underlying`` (only that one of files that
    hold several) and ``options`` are those of ``volfit calibrate`` (its flags' names with
    ``_`` for ``-`` and the same values, e.g. ``model="svi"``, ``calendar="report"``,
    ``min_quotes=3``, ``max_iv_spread="off"``). ``reports=False`` writes no ``report.json``
    (on a Deribit chain it is ~140 KB beside a ~12 KB ``surface.json``; the table keeps the
    per-expiry numbers). ``write_table=False`` leaves out ``out/calibrations.parquet``
    (for callers that run many batches into one ``out``, as the Spark recipe in the README
    does; the parts are the table). ``expiries_in_parallel``: whether each task also fits its
    expiries on the core's own thread pool; by default not on a cluster (the workers' threads
    already fill the cores: a pool per worker process only oversubscribes them — on the 121-file
    series on two cores, best of three 2.79 s without against 3.00 s with) and locally only when
    there are fewer inputs than threads. The results are the same either way.

    Every input × underlying × expiry is a row; an input that cannot be read, an underlying
    with no expiry fitted, or an expiry whose fit failed is a row whose ``error`` says why
    (the others have ``error == ""``). The table is in input order, each underlying's rows
    by expiry. ``table.attrs`` has ``computed`` and ``reused`` (inputs calibrated by this
    call and taken from an earlier run's parts), ``seconds`` (wall time) and ``options``
    (the complete options table, as ``report.json`` echoes it).

    Raises :class:`volfit.VolfitValueError` before any work for an unknown option or a bad
    value, an unknown format, or an input that names no file.
    """
    import pyarrow.parquet as pq

    clock = time.perf_counter()
    if format not in FORMATS:
        raise VolfitValueError(f"format must be one of {list(FORMATS)}, got {format!r}")
    try:
        effective = _volfit.calibration_options_json(json.dumps(options))
    except (VolfitError, ValueError) as e:
        raise VolfitValueError(str(e)) from None
    except TypeError as e:
        raise VolfitValueError(f"calibration options: {e}") from None
    items = _inputs(inputs)
    frames: dict = {}
    todo = []
    if out is not None:
        out = Path(out)
        parts = out / "parts"
        parts.mkdir(parents=True, exist_ok=True)
        _clean_temporaries(parts)
        for item in items:
            part = parts / f"{item.name}.parquet"
            if _part_meta(part) == _meta(item, effective, format, underlying, reports):
                try:
                    frames[item.name] = pq.read_table(part)
                    continue
                except (OSError, ValueError):
                    pass
            todo.append(item)
    else:
        todo = list(items)
    reused = len(frames)

    def crashed(item: _Input, e: BaseException) -> Any:
        # Not written as a part: a crash may be transient, so a rerun tries the input again.
        return _arrow([_error_row(item.label, f"task failed: {type(e).__name__}: {e}")],
                      COLUMNS)

    if expiries_in_parallel is None:
        threads = max_workers or os.cpu_count() or 1
        expiries_in_parallel = client is None and len(todo) < threads
    results = _run(todo, _calibrate_task, client, max_workers, crashed, fmt=format,
                   underlying=underlying, options=effective,
                   out=None if out is None else str(out), reports=reports,
                   parallel=bool(expiries_in_parallel))
    for item, frame in zip(todo, results):
        frames[item.name] = frame
    ordered = [frames[i.name] for i in items]
    table = _concat(ordered, COLUMNS) if ordered else _typed([], COLUMNS)
    if out is not None and write_table:
        _write_parquet(table, out / "calibrations.parquet",
                       {"schema": SCHEMA_VERSION, "options": json.loads(effective)})
    table.attrs.update(computed=len(todo), reused=reused,
                       seconds=time.perf_counter() - clock, options=json.loads(effective))
    return table


def _track_task(task: tuple, model: str, filter: str, fmt: str, options: dict,
                out: Optional[str]) -> Any:
    """One underlying's snapshots replayed through a Tracker: its rows as an Arrow table. A
    snapshot whose update fails is an error row and the replay goes on."""
    from . import Tracker

    underlying, name, items = task
    tracker = Tracker(underlying, model=model, filter=filter, **options)
    rows = []
    for item in items:
        try:
            chain = item.path if item.path is not None else _frame_of(item.text)
            report = tracker.update(chain, fmt)
        except InternalError:
            raise
        except VolfitError as e:
            rows.append(_error_row(item.label, str(e), underlying))
            continue
        common = {
            "input": item.label, "underlying": underlying, "as_of": report["as_of"],
            "update_micros": report["update_micros"],
            "expiries_refitted": len(report["expiries_refitted"]),
            "quotes_used": report["quotes_used"], "within_spread": report["within_spread"],
            "nis": report.get("nis"), "error": "",
        }
        for s in json.loads(tracker._t.tenor_samples_json()):
            p = s.get("point") or {}
            rows.append({**common, "tenor_days": s["days"], "atm_vol": p.get("atm_vol"),
                         "rr25": p.get("rr25"), "bf25": p.get("bf25"),
                         "atm_sd": s.get("atm_sd")})
    frame = _arrow(rows, TRACK_COLUMNS)
    if out is not None:
        surface = tracker.surface()
        d = Path(out) / name
        if surface is not None:
            d.mkdir(parents=True, exist_ok=True)
            surface.save(str(d / "surface.json"))
        _write_parquet(frame, d / "timeseries.parquet")
    return frame


def _frame_of(text: str) -> Any:
    import io

    import pandas as pd

    return pd.read_csv(io.StringIO(text))


def track_many(inputs: Any, underlyings: Iterable[str], client: Any = None, out: Any = None, *,
               model: str = "svi", filter: str = "kalman", format: str = "auto",
               max_workers: Optional[int] = None, **options: Any) -> Any:
    """Replays a series of chain snapshots through the live tracker, one task per underlying
    (each underlying's updates must run in time order, the underlyings in parallel), and
    returns one table (a pandas DataFrame, :data:`TRACK_COLUMNS`): a row per snapshot ×
    tenor, as ``volfit track``'s ``timeseries.csv``.

    ``inputs`` as :func:`calibrate_many` (files are replayed in path order — snapshot files
    named by their time sort so; a snapshot before the tracker's last is an error row);
    ``underlyings``: the underlyings to track (e.g. ``["BTC", "ETH"]``); ``model``,
    ``filter`` and ``options`` those of :class:`volfit.Tracker`. With ``out``, each
    underlying's rows go to ``out/<UNDERLYING>/timeseries.parquet`` and its latest surface to
    ``surface.json`` beside it (atomically), and the whole table to ``out/track.parquet``.
    A snapshot whose update fails (unreadable, no quotes of that underlying, out of order)
    is a row whose ``error`` says why; the replay goes on.
    """
    if format not in FORMATS:
        raise VolfitValueError(f"format must be one of {list(FORMATS)}, got {format!r}")
    names = [str(u) for u in underlyings]
    if not names:
        raise VolfitValueError("underlyings: name at least one underlying to track")
    from . import Tracker

    for u in names:  # options checked before any work
        Tracker(u, model=model, filter=filter, **options)
    clock = time.perf_counter()
    items = _inputs(inputs)
    tasks = [(u, _safe(u), items) for u in names]

    def crashed(task: tuple, e: BaseException) -> Any:
        return _arrow([_error_row("", f"task failed: {type(e).__name__}: {e}", task[0])],
                      TRACK_COLUMNS)

    results = _run(tasks, _track_task, client, max_workers, crashed, model=model,
                   filter=filter, fmt=format, options=options,
                   out=None if out is None else str(out))
    table = _concat(results, TRACK_COLUMNS)
    if out is not None:
        _write_parquet(table, Path(out) / "track.parquet")
    table.attrs.update(seconds=time.perf_counter() - clock)
    return table
