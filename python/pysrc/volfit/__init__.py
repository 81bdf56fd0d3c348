"""volfit — implied-volatility surface calibration with a Rust core.

Implied vols to machine precision (Jäckel's *Let's Be Rational*), arbitrage-free SVI / SSVI /
eSSVI / SABR / spline (SVI plus a regularised cubic B-spline correction) fits with Levenberg–Marquardt or quasi-Newton optimisers, a fitted surface with
local vol and density, the review charts, and a live tracker that keeps a surface through
successive snapshots (:class:`Tracker`), from Python. Every function takes numpy arrays
(broadcast against each other) or scalars; errors from the Rust core are raised as
:class:`VolfitError` with the core's message (naming file, line and field where one applies).
A bug in the core (a Rust panic) is raised as :class:`InternalError`, a :class:`VolfitError`,
never as PyO3's ``PanicException`` (a ``BaseException`` that ``except Exception`` misses).

>>> import volfit
>>> p = volfit.black_price("call", 100.0, 110.0, 0.5, 0.25)
>>> round(float(volfit.implied_vol("call", p, 100.0, 110.0, 0.5)), 12)
0.25
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
from typing import Any, Iterable, Optional, Sequence, Union

import numpy as np

from . import _volfit
from ._volfit import (DYNAMICS, FILTER_COORDINATES, FILTERS, FORMATS, MODELS, OPTIMIZERS,
                      SABR_EXPANSIONS, InternalError, VolfitError)

__all__ = [
    "VolfitError",
    "InternalError",
    "VolfitValueError",
    "MODELS",
    "OPTIMIZERS",
    "FORMATS",
    "SABR_EXPANSIONS",
    "FILTERS",
    "FILTER_COORDINATES",
    "implied_vol",
    "black_price",
    "black_greeks",
    "GREEKS",
    "DYNAMICS",
    "sabr_vol",
    "fit_svi",
    "fit_sabr",
    "read_chain",
    "calibrate_surface",
    "Surface",
    "write_charts",
    "Tracker",
]

ArrayLike = Union[float, Sequence[float], np.ndarray]


class VolfitValueError(VolfitError, ValueError):
    """A value volfit cannot use (an extrapolation policy out of its domain, text that is not
    a date): both a :class:`VolfitError` and a ``ValueError``."""


def _value_error(call: Any) -> Any:
    """Runs ``call``, raising the core's (non-internal) errors as :class:`VolfitValueError`."""
    try:
        return call()
    except InternalError:
        raise
    except VolfitValueError:
        raise
    except VolfitError as e:
        raise VolfitValueError(str(e)) from None


def _iso(x: Any) -> str:
    """One expiry as ISO 8601 text: aware datetimes converted to UTC, naive ones (and numpy
    datetime64, which has no zone) taken as UTC, a date as midnight UTC, text passed on for
    the core to parse."""
    if isinstance(x, str):
        return x
    if isinstance(x, np.datetime64):
        if np.isnat(x):
            raise VolfitValueError("expiry is NaT")
        return str(np.datetime_as_string(x, unit="us"))
    if isinstance(x, _dt.datetime):  # pandas Timestamps too
        if x.tzinfo is not None and x.utcoffset() is not None:
            x = x.astimezone(_dt.timezone.utc).replace(tzinfo=None)
        return x.isoformat()
    if isinstance(x, _dt.date):
        return x.isoformat()
    raise VolfitValueError(
        f"expiry must be a datetime, a date, numpy datetime64 or ISO 8601 text, got {type(x).__name__}: {x!r}"
    )


def _instants(expiry: Any) -> np.ndarray:
    """Expiries (one or an array-like of them) as an object array of ISO 8601 text."""
    if isinstance(expiry, (str, _dt.date, np.datetime64)):
        a = np.empty((), dtype=object)
        a[()] = expiry
    else:
        a = np.asarray(expiry)
        if a.dtype.kind != "M":
            a = np.asarray(expiry, dtype=object)
    out = np.empty(a.shape, dtype=object)
    for i, x in np.ndenumerate(a):
        out[i] = _iso(x.to_pydatetime() if hasattr(x, "to_pydatetime") else x)
    return out


_BEFORE_FIRST = ("flat_vol", "refuse")
_AFTER_LAST = ("forward_variance", "refuse")
_WINGS = ("model", "linear")
_BETWEEN = ("auto", "price", "variance")
_POLICY_KEYS = ("min_forward_vol", "before_first", "after_last", "wings", "between",
                "calendar_envelope")


def _real(name: str, v: Any) -> float:
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.integer, np.floating)):
        raise VolfitValueError(f"{name} must be a number, got {type(v).__name__}: {v!r}")
    x = float(v)
    if not math.isfinite(x):
        raise VolfitValueError(f"{name} must be finite, got {x}")
    return x


def _policy_value(key: str, v: Any) -> Any:
    """One setting of :meth:`Surface.with_extrapolation` in the form of ``surface.json``."""
    if key == "min_forward_vol":
        return _real(key, v)
    if key == "calendar_envelope":
        if not isinstance(v, (bool, np.bool_)):
            raise VolfitValueError(f"calendar_envelope must be True or False, got {v!r}")
        return bool(v)
    if key == "wings":
        if v not in _WINGS:
            raise VolfitValueError(f"wings must be one of {list(_WINGS)}, got {v!r}")
        return v
    if key == "between":
        if v not in _BETWEEN:
            raise VolfitValueError(f"between must be one of {list(_BETWEEN)}, got {v!r}")
        return v
    if key == "before_first":
        if v not in _BEFORE_FIRST:
            raise VolfitValueError(f"before_first must be one of {list(_BEFORE_FIRST)}, got {v!r}")
        return v
    # after_last
    if isinstance(v, str):
        if v not in _AFTER_LAST:
            raise VolfitValueError(
                f"after_last must be one of {list(_AFTER_LAST)}, a forward vol, or a dict, got {v!r}")
        return {"kind": v} if v == "refuse" else {"kind": v, "vol": None}
    if isinstance(v, dict):
        kind = v.get("kind")
        if kind not in _AFTER_LAST:
            raise VolfitValueError(f"after_last['kind'] must be one of {list(_AFTER_LAST)}, got {kind!r}")
        extra = set(v) - ({"kind"} if kind == "refuse" else {"kind", "vol"})
        if extra:
            raise VolfitValueError(f"after_last of kind {kind!r}: unknown field(s) {sorted(extra)}")
        if kind == "refuse":
            return {"kind": kind}
        vol = v.get("vol")
        return {"kind": kind, "vol": None if vol is None else _real("after_last vol", vol)}
    return {"kind": "forward_variance", "vol": _real("after_last (a forward vol)", v)}


def _floats(*xs: Any) -> tuple[tuple[int, ...], list[np.ndarray]]:
    """Broadcasts the inputs and returns their shape and flat contiguous float64 copies."""
    arrs = np.broadcast_arrays(*[np.asarray(x, dtype=np.float64) for x in xs])
    shape = arrs[0].shape
    return shape, [np.ascontiguousarray(a, dtype=np.float64).ravel() for a in arrs]


def _kinds(kind: Any) -> np.ndarray:
    """'call'/'put' (or 'c'/'p', or booleans: True = call), scalar or array → bool array."""
    k = np.asarray(kind)
    if k.dtype == bool:
        return k
    lower = np.char.lower(k.astype(str))
    calls = np.isin(lower, ["call", "c"])
    puts = np.isin(lower, ["put", "p"])
    if not np.all(calls | puts):
        bad = k[~(calls | puts)] if k.ndim else k
        raise VolfitError(f"option kind must be 'call' or 'put', got {np.ravel(bad)[:3].tolist()}")
    return calls


def _out(shape: tuple[int, ...], flat: np.ndarray) -> Any:
    return float(flat[0]) if shape == () else flat.reshape(shape)


def implied_vol(kind: Any, price: ArrayLike, forward: ArrayLike, strike: ArrayLike, t: ArrayLike,
                return_reasons: bool = False) -> Any:
    """Implied Black vols of undiscounted (forward) prices.

    Where no vol exists the vol is NaN; with ``return_reasons=True`` the result is
    ``(vols, reasons)`` with ``reasons`` an array of strings (``""`` where a vol exists, else
    ``below_intrinsic``, ``above_upper_bound``, ``non_positive_input``, …).
    """
    calls = _kinds(kind)
    shape, (c, p, f, k, tt) = _floats(calls.astype(np.float64), price, forward, strike, t)
    vols, codes, names = _volfit.implied_vol(c > 0.5, p, f, k, tt)
    if return_reasons:
        r = np.asarray([""] + list(names), dtype=object)[codes]
        return _out(shape, vols), (r[0] if shape == () else r.reshape(shape))
    return _out(shape, vols)


def black_price(kind: Any, forward: ArrayLike, strike: ArrayLike, t: ArrayLike, vol: ArrayLike) -> Any:
    """Undiscounted Black-76 prices."""
    calls = _kinds(kind)
    shape, (c, f, k, tt, v) = _floats(calls.astype(np.float64), forward, strike, t, vol)
    return _out(shape, _volfit.black_price(c > 0.5, f, k, tt, v))


GREEKS = ("price", "delta", "gamma", "vega", "theta", "vanna", "volga")
"""The greek columns of :meth:`Surface.greeks` and :func:`black_greeks`, in order."""

_GREEK_ERRORS = ("raise", "mask")


def _where(shape: tuple[int, ...], i: int) -> str:
    """Element ``i`` of a flattened array of ``shape``, as the caller indexes it."""
    if shape == ():
        return "the option"
    idx = np.unravel_index(i, shape)
    return f"index {int(idx[0])}" if len(shape) == 1 else f"index {tuple(int(j) for j in idx)}"


def _greeks_out(shape: tuple[int, ...], native: Any, errors: str, what: str) -> dict:
    """The native ``(columns, ok, errors)`` as the documented dict (see :meth:`Surface.greeks`)."""
    cols, ok, errs = native
    n = int(ok.size)
    if errors == "raise":
        if errs:
            i, reason = errs[0]
            more = f" ({len(errs)} of {n} elements have none)" if len(errs) > 1 else ""
            raise VolfitValueError(f"{what}: no greeks at {_where(shape, i)}: {reason}{more}")
        return {k: _out(shape, v) for k, v in cols.items()}
    okr = ok.reshape(shape)
    out: dict = {}
    for k, v in cols.items():
        m = np.ma.masked_array(v.reshape(shape), mask=~okr)
        out[k] = m if shape != () else (np.ma.masked if not bool(okr) else float(v[0]))
    out["ok"] = okr if shape != () else bool(okr)
    out["error"] = [(tuple(int(j) for j in np.unravel_index(i, shape)) if len(shape) > 1
                     else (int(i) if shape else ()), r) for i, r in errs]
    return out


def _check_errors_arg(errors: str) -> None:
    if errors not in _GREEK_ERRORS:
        raise VolfitValueError(f"errors must be one of {_GREEK_ERRORS}, got {errors!r}")


def _check_dynamics(dynamics: str) -> str:
    d = str(dynamics).strip().lower().replace("_", "-")
    if d not in DYNAMICS:
        raise VolfitValueError(f"unknown dynamics {dynamics!r}: expected one of {list(DYNAMICS)}")
    return d


def black_greeks(kind: Any, forward: ArrayLike, strike: ArrayLike, t: ArrayLike, vol: ArrayLike,
                 inverse: bool = False, errors: str = "raise") -> dict:
    """Black-76 price and greeks at given vols, undiscounted, per option on one unit.

    Returns a dict of the columns :data:`GREEKS` (``price``, ``delta`` = ∂V/∂F, ``gamma``,
    ``vega`` = ∂V/∂σ per unit of vol — divide by 100 for per vol point —, ``theta`` = ∂V/∂t per
    year at fixed forward, ``vanna`` = ∂²V/∂F∂σ, ``volga`` = ∂²V/∂σ²) plus ``forward`` and
    ``vol``. With ``inverse=True`` the greeks are those of the *coin* value ``C = V/F`` of an
    inverse (Deribit-style, coin-settled) option, with ``usd_price`` = V,
    ``premium_adjusted_delta`` = Δ − C, ``deribit_delta`` = Δ (Deribit's ``delta`` column) and
    ``deribit_vega`` = ∂V/∂σ / 100 (Deribit's ``vega``: USD per vol point). The arguments
    broadcast; ``kind`` is ``"call"``/``"put"`` (or arrays of them). ``errors`` as in
    :meth:`Surface.greeks`.

    >>> g = volfit.black_greeks("call", 100.0, 100.0, 1.0, 0.2)
    >>> round(g["delta"], 12)
    0.539827837277
    """
    _check_errors_arg(errors)
    calls = _kinds(kind)
    shape, (c, f, k, tt, v) = _floats(calls.astype(np.float64), forward, strike, t, vol)
    native = _volfit.black_greeks_table(c > 0.5, f, k, tt, v, bool(inverse))
    return _greeks_out(shape, native, errors, "black_greeks")


def sabr_vol(strike: ArrayLike, forward: float, t: float, alpha: float, beta: float, rho: float,
             nu: float, shift: float = 0.0, expansion: str = "hagan") -> Any:
    """SABR implied vols: ``expansion`` is ``"hagan"`` (Hagan 2002 eq. 2.17a, Black vols of
    F + shift), ``"obloj"`` (Obłój 2008) or ``"normal"`` (Bachelier vols)."""
    shape, (k,) = _floats(strike)
    return _out(shape, _volfit.sabr_vol(k, float(forward), float(t), float(alpha), float(beta),
                                        float(rho), float(nu), float(shift), expansion))


def fit_svi(strikes: ArrayLike, vols: ArrayLike, forward: float, t: float,
            optimizer: str = "lm") -> dict:
    """Fits raw SVI to one smile (Black vols); returns ``{"model": {a, b, rho, m, sigma},
    "report": {...}}`` (the report as in report.json: rmse_iv, iterations, min_g, …)."""
    _, (k, v) = _floats(strikes, vols)
    return json.loads(_volfit.fit_svi_json(k, v, float(forward), float(t), optimizer))


def fit_sabr(strikes: ArrayLike, vols: ArrayLike, forward: float, t: float,
             beta: Optional[float] = None, normal: bool = False, optimizer: str = "lm") -> dict:
    """Fits SABR to one smile: Black vols (β = 1 by default) or, with ``normal=True``, normal
    vols (β = 0.5 by default, Hagan's normal expansion). Returns ``{"model", "report"}``."""
    _, (k, v) = _floats(strikes, vols)
    b = float("nan") if beta is None else float(beta)
    return json.loads(_volfit.fit_sabr_json(k, v, float(forward), float(t), b, bool(normal), optimizer))


def read_chain(path: str, format: str = "auto", underlying: Optional[str] = None,
               as_pandas: Optional[bool] = None, with_report: bool = False) -> Any:
    """Reads an option chain file (Deribit, CBOE, OptionMetrics, IV tables, generic CSV).

    Returns the quotes as a pandas DataFrame when pandas is installed (or ``as_pandas=True``),
    else a dict of numpy arrays (strings as object arrays). Columns: underlying, symbol,
    expiry (ISO 8601), kind, strike, bid, ask, mark, mark_iv, forward (NaN where the file has
    none), line. With ``with_report=True`` returns ``(table, ingest_report)``: rows read and
    every rejected row with its line and reason.
    """
    cols, report = _volfit.read_chain(str(path), format, underlying)
    table = {k: (np.asarray(v, dtype=object) if isinstance(v, list) else v) for k, v in cols.items()}
    if "expiry" in table:
        table["expiry"] = table["expiry"].astype(str)
    use_pandas = as_pandas
    if use_pandas is None:
        try:
            import pandas  # noqa: F401

            use_pandas = True
        except ImportError:
            use_pandas = False
    if use_pandas:
        import pandas as pd

        df = pd.DataFrame(table)
        df["expiry"] = pd.to_datetime(df["expiry"], utc=True)
        table = df
    return (table, json.loads(report)) if with_report else table


class Surface:
    """A calibrated implied-volatility surface.

    Queries broadcast their arguments: ``surface.vol(strikes, 0.25)`` or
    ``surface.vol(K[:, None], T[None, :])`` for a grid.
    """

    def __init__(self, native: Any):
        self._s = native

    @classmethod
    def load(cls, path: str) -> "Surface":
        """Loads a ``surface.json`` written by :meth:`save` or ``volfit calibrate``."""
        return cls(_volfit.Surface.load(str(path)))

    def save(self, path: str) -> None:
        """Writes ``surface.json`` (loads back bit for bit)."""
        self._s.save(str(path))

    def _map(self, f: Any, a: ArrayLike, b: ArrayLike) -> Any:
        shape, (x, y) = _floats(a, b)
        return _out(shape, f(x, y))

    def vol(self, strike: ArrayLike, t: ArrayLike) -> Any:
        """Implied Black vol at strike and time to expiry (years)."""
        return self._map(self._s.vol, strike, t)

    def total_variance(self, k: ArrayLike, t: ArrayLike) -> Any:
        """Total implied variance σ²t at log-forward-moneyness k = ln(K/F(t))."""
        return self._map(self._s.total_variance, k, t)

    def local_vol(self, strike: ArrayLike, t: ArrayLike) -> Any:
        """Dupire local vol (Gatheral 2006 eq. 1.10); NaN where the surface has arbitrage."""
        return self._map(self._s.local_vol, strike, t)

    def density(self, strike: ArrayLike, t: ArrayLike) -> Any:
        """Risk-neutral density of the underlying at expiry t."""
        return self._map(self._s.density, strike, t)

    def extrapolated(self, strike: ArrayLike, t: ArrayLike) -> Any:
        """1.0 where (strike, t) is extrapolated (before the first or after the last expiry,
        or beyond the quoted strikes), 0.0 inside the quotes, NaN outside the domain."""
        return self._map(self._s.extrapolated, strike, t)

    def digital(self, kind: Any, strike: ArrayLike, t: ArrayLike) -> Any:
        """Discounted digital (cash-or-nothing) prices with the smile's slope, -dC/dK."""
        calls = _kinds(kind)
        shape, (c, k, tt) = _floats(calls.astype(np.float64), strike, t)
        return _out(shape, self._s.digital(c > 0.5, k, tt))

    def greeks(self, kind: Any, strike: ArrayLike, t: ArrayLike, dynamics: str = "sticky-strike",
               inverse: bool = False, errors: str = "raise") -> dict:
        """Price and greeks of options read off the surface, undiscounted, per option.

        The option (``kind`` ``"call"``/``"put"``, ``strike``, time to expiry ``t`` in years;
        scalars or arrays, broadcast) is priced with Black-76 at the surface's forward
        ``F(t)`` and vol ``σ(K, t)``; the greeks are derivatives of that value with the smile
        moving as ``dynamics`` says (``volfit::risk::greeks``; Derman 1999, Bergomi 2016 ch. 2):

        * ``"sticky-strike"``: the vol at each strike stays put when the forward moves, so the
          greeks are Black's at the surface vol;
        * ``"sticky-moneyness"``: the smile moves with the forward (σ a function of K/F), so
          ``delta`` = Black delta + vega·∂σ/∂F with ∂σ/∂F = −(K/F)·∂σ/∂K (the skew term);
        * ``"sticky-delta"``: for spot moves the same numbers as sticky moneyness.

        Columns (a dict of numpy arrays of the broadcast shape, floats for scalar input):
        ``price``; ``delta`` = dV/dF and ``gamma`` = d²V/dF² (per unit of *forward*; per unit of
        spot multiply by F/S); ``vega`` and ``volga`` per unit (1.00 = 100 vol points) parallel
        shift of the smile; ``vanna`` = d²V/dF dσ; ``theta`` = −dV/dτ per year (divide by 365.25
        for per day) at fixed forward, the surface read at the same log-moneyness at the shorter
        time; plus ``forward`` and ``vol``, the F(t) and σ(K, t) used. With ``inverse=True`` the
        greek columns are those of the coin value ``C = V/F`` of an inverse (coin-settled,
        Deribit) option, with ``usd_price``, ``premium_adjusted_delta`` (Δ − C),
        ``deribit_delta`` (Δ, Deribit's ``delta``) and ``deribit_vega`` (USD per vol point).

        Where an element has no answer (a strike or t not finite and positive, no vol there, a
        price a double cannot hold) nothing is made up — no NaN stands in for a greek:

        * ``errors="raise"`` (the default): raises :class:`VolfitValueError` (a
          ``ValueError``) naming the first such element's index and the reason;
        * ``errors="mask"``: every column is a ``numpy.ma.MaskedArray`` masked there
          (``np.ma.masked`` for a scalar), with ``ok`` (boolean array, True where the greeks
          exist) and ``error`` (a list of ``(index, reason)``) added.

        The loop runs in Rust with the GIL released.

        >>> g = s.greeks(["call", "put"], [60_000, 50_000], 0.25, dynamics="sticky-moneyness")  # doctest: +SKIP
        """
        _check_errors_arg(errors)
        d = _check_dynamics(dynamics)
        calls = _kinds(kind)
        shape, (c, k, tt) = _floats(calls.astype(np.float64), strike, t)
        native = self._s.greeks(c > 0.5, k, tt, d, bool(inverse))
        return _greeks_out(shape, native, errors, "Surface.greeks")

    def forward(self, t: ArrayLike) -> Any:
        """Forward for expiry t."""
        shape, (x,) = _floats(t)
        return _out(shape, self._s.forward(x))

    def params(self) -> list:
        """Per expiry: t, forward, discount and the model with its parameters."""
        return json.loads(self._s.slices_json())

    def report(self) -> Optional[dict]:
        """The run report (same content as report.json); None for a loaded surface."""
        r = self._s.report_json()
        return None if r is None else json.loads(r)

    def check(self) -> dict:
        """The static-arbitrage verdict of the served surface (what ``volfit check`` prints).

        Keys: ``arbitrage_free`` (no butterfly or calendar arbitrage in the served smiles and
        none on the plane scan); ``butterfly`` (per expiry: t, min_g, free); ``calendar`` (the
        fits' gaps on their quoted ranges, the served smiles' verdict on the real line,
        ``served``: where an expiry is served an earlier one's smile); ``plane``, the dense
        (k, t) scan before, at, between and after the expiries with the wings: ``grid``
        (``k_range``, ``k_points``, ``times``), ``points``, the failing-point counts
        ``calendar``, ``butterfly``, ``local_vol_undefined``, ``by_region`` (``[before, at
        expiry, between, after]``) and ``worst`` (up to 20 failing points); and ``domain``,
        the domain of the verdict in words.
        """
        return json.loads(self._s.check_json())

    def as_of(self) -> Optional[_dt.datetime]:
        """The snapshot time of the data (timezone-aware UTC), when known: the origin of
        :meth:`year_fraction`."""
        a = self._s.as_of()
        if a is None:
            return None
        return _dt.datetime.fromisoformat(a.replace("Z", "+00:00")).astimezone(_dt.timezone.utc)

    def day_count(self) -> str:
        """The day count that turns expiry dates into the surface's year fractions:
        ``"act365"`` (seconds / (365 × 86 400), the default) or ``"act36525"``."""
        return self._s.day_count()

    def year_fraction(self, expiry: Any) -> Any:
        """Year fraction from :meth:`as_of` to ``expiry`` under :meth:`day_count` (the ``t``
        :meth:`vol_at` queries at); NaN for an expiry not after ``as_of``. ``expiry`` as in
        :meth:`vol_at`, one or an array of them."""
        e = _instants(expiry)
        flat = _value_error(lambda: self._s.year_fraction(list(e.ravel())))
        return _out(e.shape, flat)

    def vol_at(self, strike: ArrayLike, expiry: Any) -> Any:
        """Implied Black vol at ``strike`` for an expiry *date*: the vol at
        ``t = year_fraction(expiry)`` (from :meth:`as_of` under :meth:`day_count`).

        ``expiry``: a ``datetime`` (timezone-aware, converted to UTC, or naive, taken as UTC),
        a ``date`` (midnight UTC), a numpy ``datetime64`` or pandas ``Timestamp``, or ISO 8601
        text (``"2026-03-27T08:00:00Z"``; without an offset UTC, a bare date midnight UTC);
        one, or an array of them broadcast against ``strike``. NaN where the surface has no
        vol (an expiry not after ``as_of``, or outside the extrapolation policy). Raises
        :class:`VolfitValueError` for an expiry that is not a date, :class:`VolfitError` for a
        surface without ``as_of``.

        >>> s.vol_at([60_000, 70_000], datetime.datetime(2026, 3, 27, 8, tzinfo=datetime.timezone.utc))  # doctest: +SKIP
        """
        e = _instants(expiry)
        k = np.asarray(strike, dtype=np.float64)
        kb, eb = np.broadcast_arrays(k, e)
        flat = _value_error(lambda: self._s.vol_at(
            np.ascontiguousarray(kb, dtype=np.float64).ravel(), list(eb.ravel())))
        return _out(kb.shape, flat)

    def extrapolation(self) -> dict:
        """How the surface answers outside its expiries (as stored in ``surface.json``):
        ``min_forward_vol`` (each expiry served at least ``min_forward_vol² · Δt`` above the
        previous one), ``before_first`` (``"flat_vol"`` or ``"refuse"``), ``after_last``
        (``{"kind": "forward_variance", "vol": σ∞ or None}`` — None: the last interval's ATM
        forward vol, see :meth:`after_last_vol` — or ``{"kind": "refuse"}``), ``wings``
        (``"model"`` or ``"linear"`` beyond each quoted range) and ``calendar_envelope`` (serve
        fits raised to the previous expiry where they dip)."""
        return json.loads(self._s.extrapolation_json())

    def after_last_vol(self) -> Optional[float]:
        """The forward vol σ∞ after the last expiry, ``w(k, t) = w_n(k) + σ∞²(t − t_n)``;
        None when the policy refuses queries after the last expiry."""
        return self._s.after_last_vol()

    def with_extrapolation(self, **policy: Any) -> "Surface":
        """A new surface with the same fits under another extrapolation policy; the settings
        not given keep their current values (see :meth:`extrapolation`):

        - ``min_forward_vol``: a number in (0, 10];
        - ``before_first``: ``"flat_vol"`` or ``"refuse"`` (NaN before the first expiry);
        - ``after_last``: ``"forward_variance"`` (σ∞ from the last interval), a number (σ∞
          itself, in (0, 10]), ``"refuse"`` (NaN after the last expiry), or the dict of
          :meth:`extrapolation`;
        - ``wings``: ``"model"`` (the fit's own) or ``"linear"`` (linear in total variance
          beyond each quoted range with the edge slope);
        - ``between``: ``"auto"`` (total variance linear in time where that is butterfly-free
          on a dense scan, out-of-the-money prices linear in time elsewhere), ``"price"``
          (prices everywhere: butterfly-free by construction) or ``"variance"``;
        - ``calendar_envelope``: True or False.

        Raises :class:`VolfitValueError` (a ``ValueError``) for an unknown setting or a value
        out of its domain. The new surface has no run report (:meth:`report` is None); this
        one is unchanged.
        """
        unknown = sorted(set(policy) - set(_POLICY_KEYS))
        if unknown:
            raise VolfitValueError(
                f"unknown extrapolation setting(s) {unknown}: expected {list(_POLICY_KEYS)}")
        current = self.extrapolation()
        for key, v in policy.items():
            current[key] = _policy_value(key, v)
        text = json.dumps(current, allow_nan=False)
        return Surface(_value_error(lambda: self._s.with_extrapolation_json(text)))

    def atoms(self, t: float) -> list:
        """The point masses of the risk-neutral distribution at expiry ``t``, as ``[(k,
        mass), …]`` with ``k = ln(K/F(t))``: where the served smile switches from one expiry's
        fit to another's, the call price has a convex kink and ``P(F_T > K)`` drops by
        ``mass``. :meth:`density` is the continuous part; with the atoms it integrates to one.
        Empty when the served smiles at ``t`` are single fits (or ``t`` is not positive)."""
        return [(float(k), float(m)) for k, m in self._s.atoms(float(t))]

    def charts(self, out_dir: str, formats: Iterable[str] = ("png", "svg"),
               overlay: Optional[str] = "sabr") -> list:
        """Writes the CLI's charts (``out_dir/plots/``) and ``out_dir/report.html``; ``overlay``
        is another per-expiry model drawn on the skew charts (``None`` for none). Returns the
        files written."""
        return self._s.charts(str(out_dir), list(formats), overlay)

    def __repr__(self) -> str:
        p = self.params()
        return f"<volfit.Surface: {len(p)} expiries, T {p[0]['t']:.4f}–{p[-1]['t']:.4f}>"


def calibrate_surface(path: str, format: str = "auto", underlying: Optional[str] = None,
                      model: str = "spline", optimizer: str = "lm") -> Surface:
    """Reads a chain file and calibrates a surface: ``model`` one of :data:`MODELS` (``spline``
    by default: SVI plus a regularised cubic B-spline correction in total variance,
    butterfly-free; ``svi``, ``ssvi``, ``essvi``, ``sabr``), ``optimizer`` one of :data:`OPTIMIZERS` (``lm`` by default), ``format`` one
    of :data:`FORMATS`. A file with several underlyings needs ``underlying=``."""
    return Surface(_volfit.Surface.calibrate(str(path), format, underlying, model, optimizer))


def write_charts(surface: Surface, out_dir: str, formats: Iterable[str] = ("png", "svg"),
                 overlay: Optional[str] = "sabr") -> list:
    """The same PNG/SVG charts and report.html as ``volfit calibrate`` (see
    :meth:`Surface.charts`)."""
    return surface.charts(out_dir, formats, overlay)


def _utc(text: str) -> _dt.datetime:
    """RFC 3339 text from the core as a timezone-aware UTC datetime (a ``Z`` suffix and
    fractions of any length too, which ``fromisoformat`` before Python 3.11 refuses)."""
    s = text.replace("Z", "+00:00").replace("z", "+00:00")
    head, sep, frac = s.partition(".")
    if sep:
        digits = len(frac) - len(frac.lstrip("0123456789"))
        s = head + "." + (frac[:digits] + "000000")[:6] + frac[digits:]
    t = _dt.datetime.fromisoformat(s)
    return t.replace(tzinfo=_dt.timezone.utc) if t.tzinfo is None else t.astimezone(_dt.timezone.utc)


_FILTER_PARAMS = ("q", "kappa", "epsilon", "gate", "initial")


def _merge_options(base: dict, given: dict, where: str = "") -> dict:
    """``given`` laid over ``base`` (nested dicts merged key by key); an unknown key is a
    :class:`VolfitValueError` naming the known ones."""
    out = dict(base)
    for key, v in given.items():
        if key not in base:
            raise VolfitValueError(
                f"unknown tracker option {where + key!r}: expected one of {sorted(base)}")
        if isinstance(base[key], dict) and isinstance(v, dict):
            out[key] = _merge_options(base[key], v, f"{where}{key}.")
        else:
            out[key] = v
    return out


def _check_tracker_options(o: dict) -> None:
    """The numbers of the tracker's options in their domains (the core takes them as given)."""
    def num(name: str, v: Any, positive: bool = False) -> float:
        x = _real(name, v)
        if x < 0 or (positive and x == 0):
            raise VolfitValueError(f"{name} must be {'> 0' if positive else '>= 0'}, got {x}")
        return x

    for key in ("quote_tolerance", "forward_tolerance", "time_tolerance", "commit_seconds"):
        num(key, o[key])
    p = o["params"]
    for key in ("q", "initial"):
        v = p[key]
        if not isinstance(v, (list, tuple, np.ndarray)) or len(v) != len(FILTER_COORDINATES):
            raise VolfitValueError(
                f"{key} must be {len(FILTER_COORDINATES)} numbers (one per coordinate "
                f"{list(FILTER_COORDINATES)}), got {v!r}")
        p[key] = [num(f"{key}[{FILTER_COORDINATES[i]}]", x, positive=(key == "initial"))
                  for i, x in enumerate(v)]
    if num("kappa", p["kappa"]) + num("epsilon", p["epsilon"]) == 0:
        raise VolfitValueError("kappa and epsilon are both 0: the quotes would have no noise")
    num("gate", p["gate"], positive=True)


class Tracker:
    """One underlying's surface through time: successive chain snapshots in, the updated
    :class:`Surface` out (the Rust core's ``volfit::live::Tracker``).

    Each :meth:`update` refits only the expiries whose quotes, forward or time moved
    materially, each from its previous state; retires expiries that expired or are no longer
    quoted and lists new ones. With ``filter="kalman"`` (the default) each expiry's smile is
    filtered through time: a Kalman filter on SVI's jump-wings coordinates
    (:data:`FILTER_COORDINATES`: ATM vol, ATM skew ψ, put and call wing slopes p and c,
    minimum vol), quotes with an outlying innovation gated out, and its consistency reported
    (the normalised innovation squared against its χ² band). ``filter="none"`` keeps plain
    refits, each warm-started from the expiry's previous fit. The served surface has the
    calibration's extrapolation policy and calendar envelope.

    ``model``: ``"svi"`` (the Kalman filter needs it), or with ``filter="none"`` also
    ``"sabr"`` or ``"spline"``. ``filter``: one of :data:`FILTERS`. ``options``: fields of
    the core's ``TrackerOptions`` (see :meth:`default_options`; nested dicts are merged into
    the defaults key by key):

    - ``quote_tolerance`` (half-spreads, 0.25), ``forward_tolerance`` (relative, 5e-4),
      ``time_tolerance`` (fraction of the time to expiry, 0.01): what moves an expiry to a
      refit;
    - ``commit_seconds`` (300): updates closer together than this start from the same
      committed prior;
    - ``params``: the filter's noises, a dict of ``q`` (5 variances per year, one per
      coordinate), ``kappa`` (measurement noise in half-spreads), ``epsilon`` (measurement
      noise shared by every quote, vol), ``gate`` (standardised innovation beyond which a
      quote is left out), ``initial`` (5 prior variances of a new expiry) — each of these
      also accepted on its own, ``Tracker("BTC", gate=3.0)``;
    - ``optimizer`` (one of :data:`OPTIMIZERS`), ``fit``, ``slices``: fit and slice-building
      options as in the core;
    - ``extrapolation``: the served surface's policy, the settings of
      :meth:`Surface.with_extrapolation`.

    Raises :class:`VolfitValueError` for options the core refuses (the Kalman filter with a
    model other than SVI, an unknown model or filter, an unknown option, a value out of its
    domain). Safe to share between threads (updates run one at a time, with the GIL
    released).

    >>> tracker = volfit.Tracker("BTC")  # doctest: +SKIP
    >>> for path in snapshots:  # doctest: +SKIP
    ...     report = tracker.update(path)
    ...     s = tracker.surface()
    ...     atm30 = s.vol(s.forward(30 / 365), 30 / 365)
    """

    def __init__(self, underlying: str, model: str = "svi", filter: str = "kalman",
                 **options: Any):
        if not isinstance(model, str) or not isinstance(filter, str):
            raise VolfitValueError(f"model and filter are names, got {model!r} and {filter!r}")
        given = dict(options)
        optimizer = given.pop("optimizer", None)
        if optimizer is not None and optimizer not in OPTIMIZERS:
            raise VolfitValueError(f"optimizer must be one of {list(OPTIMIZERS)}, got {optimizer!r}")
        params = {k: given.pop(k) for k in _FILTER_PARAMS if k in given}
        if params:
            given["params"] = {**given.get("params", {}), **params}
        extrapolation = given.pop("extrapolation", None)
        base = self.default_options()
        opts = _merge_options(base, given)
        if extrapolation is not None:
            if not isinstance(extrapolation, dict):
                raise VolfitValueError(
                    f"extrapolation must be a dict of settings (see Surface.with_extrapolation), got {extrapolation!r}")
            unknown = sorted(set(extrapolation) - set(_POLICY_KEYS))
            if unknown:
                raise VolfitValueError(
                    f"unknown extrapolation setting(s) {unknown}: expected {list(_POLICY_KEYS)}")
            for key, v in extrapolation.items():
                opts["extrapolation"][key] = _policy_value(key, v)
        _check_tracker_options(opts)
        try:
            text = json.dumps(opts, allow_nan=False)
        except (TypeError, ValueError) as e:
            raise VolfitValueError(f"tracker options: {e}") from None
        try:
            self._t = _volfit.Tracker(str(underlying), model, filter, text, optimizer)
        except InternalError:
            raise
        except (VolfitError, ValueError) as e:
            raise VolfitValueError(str(e)) from None

    @staticmethod
    def default_options() -> dict:
        """The core's default ``TrackerOptions`` as a dict (what ``**options`` of
        :class:`Tracker` override)."""
        return json.loads(_volfit.Tracker.default_options_json())

    def options(self) -> dict:
        """The tracker's whole options (as :meth:`default_options`, with the model, filter
        and everything given applied)."""
        return json.loads(self._t.options_json())

    @property
    def underlying(self) -> str:
        """The underlying tracked."""
        return self._t.underlying()

    def _call(self, call: Any) -> Any:
        """Runs a native update: the core's refusals of the caller's values (an update out
        of order, without a time, of another underlying) are raised as
        :class:`VolfitValueError`, everything else as :class:`VolfitError`."""
        try:
            return call()
        except VolfitError:
            raise
        except ValueError as e:
            raise VolfitValueError(str(e)) from None

    def update(self, chain: Any, format: str = "auto") -> dict:
        """Updates the surface with a whole new snapshot of the chain and returns the account
        of the update.

        ``chain`` is either

        - a path to a snapshot file (``str`` or ``os.PathLike``), read with the library's
          reader as :func:`read_chain` reads it (``format`` one of :data:`FORMATS`); or
        - a pandas DataFrame of quotes in a file layout the readers know, read by the same
          reader as the file would be (it is written as CSV text and read, so every row is
          screened and accounted for as in a file): the **Deribit snapshot layout** (the
          frame of ``pandas.read_csv(snapshot)``, rows filtered or edited as you like:
          ``timestamp, instrument_name, underlying, option_type, strike, expiry_datetime,
          bid_price, ask_price, mark_price, implied_volatility, index_price, …``; premiums in
          coin) or volfit's **generic CSV layout** (``expiry, strike, kind`` and ``bid``/``ask``
          or ``bid_iv``/``ask_iv`` or ``iv``; optionally ``underlying, as_of, forward,
          discount, t, spot, mark, symbol, premium_unit`` ("quote" or "coin"); see the
          ``volfit::quotes::generic`` documentation). Datetime columns are written as ISO
          8601 (naive ones taken as UTC). The frame's snapshot time is its ``timestamp`` /
          ``as_of`` rows; the table of :func:`read_chain` has none (and no premium unit), so
          update with the file instead.

        The rows of the tracker's underlying are used (a file may hold several). Updates must
        come in time order.

        Returns a dict: ``as_of`` (the update's time), ``update_micros`` (wall time of the
        update in the core: slices, fits, the new surface), ``expiries_refitted``,
        ``expiries_listed``, ``expiries_retired`` (lists of expiry datetimes),
        ``quotes_used`` (quotes in the surface's slices), ``within_spread`` (share of the
        refitted expiries' two-sided quotes whose fitted vol is inside bid/ask; None when
        nothing was refitted), ``gated`` (quotes the filter's gate left out: expiry, strike,
        mid_iv, innovation, line — for a DataFrame also ``row``, the frame's index label),
        ``nis``, ``nis_dof``, ``nis_band`` (normalised innovation squared over the refitted
        expiries, its degrees of freedom and its two-sided 95% χ² band; None on a first
        update or without the Kalman filter), ``failed`` (expiries whose refit failed, with
        the reason), and ``ingest`` (the reader's account: rows, quotes and every rejected
        row with its line and reason, as :func:`read_chain` ``with_report=True``).

        Raises :class:`VolfitValueError` for an update before the tracker's last, one without
        a snapshot time, or a chain of another underlying (a name that differs only in case);
        :class:`VolfitError` for a file or frame that cannot be read or does not hold the
        tracker's underlying, and when no expiry can be fitted at all. An update refused for
        its time or underlying leaves the tracker as it was.
        """
        if format not in FORMATS:
            raise VolfitValueError(f"format must be one of {list(FORMATS)}, got {format!r}")
        frame = None
        if isinstance(chain, (str, os.PathLike)):
            out = self._call(lambda: self._t.update_path(os.fspath(chain), format))
        elif hasattr(chain, "to_csv") and hasattr(chain, "columns"):
            frame = chain
            text = _frame_csv(chain)
            out = self._call(lambda: self._t.update_text(text, format, "<DataFrame>"))
        else:
            raise VolfitValueError(
                f"chain must be a path to a snapshot file or a pandas DataFrame, got {type(chain).__name__}")
        report, ingest = (json.loads(x) for x in out)
        report["as_of"] = _utc(report["as_of"])
        for key in ("expiries_refitted", "expiries_listed", "expiries_retired"):
            report[key] = [_utc(e) for e in report[key]]
        for g in report["gated"] + report["failed"]:
            g["expiry"] = _utc(g["expiry"])
        if frame is not None:
            for g in report["gated"]:
                line = g.get("line")
                g["row"] = (frame.index[line - 2]
                            if line is not None and 2 <= line < len(frame) + 2 else None)
        report["ingest"] = ingest
        return report

    def surface(self) -> Optional[Surface]:
        """The latest surface (None before the first update): a :class:`Surface` of its own,
        unchanged by later updates (it has no run report: :meth:`Surface.report` is None)."""
        s = self._t.surface()
        return None if s is None else Surface(s)

    def posterior(self, expiry: Any) -> Optional[dict]:
        """The Kalman filter's latest posterior of an expiry: ``{"expiry", "coordinates",
        "mean", "cov", "sd"}`` — ``mean`` (shape 5) and ``cov`` (5 × 5) of the coordinates
        named in ``coordinates`` (:data:`FILTER_COORDINATES`: ``atm_vol``, ``psi``, ``p``,
        ``c``, ``min_vol``; vols and slopes per unit of time, the ATM vol at the expiry's
        forward) and ``sd`` the square roots of ``cov``'s diagonal. None without the Kalman
        filter or for an expiry not tracked.

        ``expiry`` is the expiry *instant* as :meth:`expiries` lists it (Deribit: 08:00 UTC):
        a datetime, pandas Timestamp, numpy datetime64 or ISO 8601 text, as in
        :meth:`Surface.vol_at`.
        """
        e = _iso(expiry.to_pydatetime() if hasattr(expiry, "to_pydatetime") else expiry)
        got = _value_error(lambda: self._t.posterior(e))
        if got is None:
            return None
        mean, cov = np.asarray(got[1], dtype=np.float64), np.asarray(got[2], dtype=np.float64)
        return {"expiry": _utc(got[0]), "coordinates": list(FILTER_COORDINATES),
                "mean": mean, "cov": cov, "sd": np.sqrt(np.maximum(np.diag(cov), 0.0))}

    def expiries(self) -> list:
        """The expiries tracked, in order (timezone-aware UTC datetimes)."""
        return [_utc(e) for e in self._t.expiries()]

    def as_of(self) -> Optional[_dt.datetime]:
        """The time of the latest update (timezone-aware UTC), None before the first."""
        a = self._t.as_of()
        return None if a is None else _utc(a)

    def __repr__(self) -> str:
        o = self.options()
        a = self.as_of()
        return (f"<volfit.Tracker {self.underlying}: {o['model']}, filter {o['filter']}, "
                f"{len(self._t.expiries())} expiries, as of {a.isoformat() if a else 'never'}>")


def _frame_csv(frame: Any) -> str:
    """A DataFrame as CSV text for the readers: datetime columns as ISO 8601 (aware ones in
    UTC with an offset, naive ones as they are, taken as UTC), missing values as empty cells."""
    import pandas as pd

    out = frame.copy(deep=False)
    for col in out.columns:
        s = out[col]
        if pd.api.types.is_datetime64_any_dtype(s):
            if getattr(s.dt, "tz", None) is not None:
                out[col] = s.dt.tz_convert("UTC").dt.strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")
            else:
                out[col] = s.dt.strftime("%Y-%m-%dT%H:%M:%S.%f")
    return out.to_csv(index=False)
