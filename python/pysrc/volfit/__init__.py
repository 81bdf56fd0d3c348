"""volfit — implied-volatility surface calibration with a Rust core.

Implied vols to machine precision (Jäckel's *Let's Be Rational*), arbitrage-free SVI / SSVI /
eSSVI / SABR / spline (SVI plus a regularised cubic B-spline correction) fits with Levenberg–Marquardt or quasi-Newton optimisers, a fitted surface with
local vol and density, and the review charts, from Python. Every function takes numpy arrays
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
from typing import Any, Iterable, Optional, Sequence, Union

import numpy as np

from . import _volfit
from ._volfit import FORMATS, MODELS, OPTIMIZERS, SABR_EXPANSIONS, InternalError, VolfitError

__all__ = [
    "VolfitError",
    "InternalError",
    "VolfitValueError",
    "MODELS",
    "OPTIMIZERS",
    "FORMATS",
    "SABR_EXPANSIONS",
    "implied_vol",
    "black_price",
    "sabr_vol",
    "fit_svi",
    "fit_sabr",
    "read_chain",
    "calibrate_surface",
    "Surface",
    "write_charts",
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
