"""volfit — implied-volatility surface calibration with a Rust core.

Implied vols to machine precision (Jäckel's *Let's Be Rational*), arbitrage-free SVI / SSVI /
eSSVI / SABR fits with Levenberg–Marquardt or quasi-Newton optimisers, a fitted surface with
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

import json
from typing import Any, Iterable, Optional, Sequence, Union

import numpy as np

from . import _volfit
from ._volfit import FORMATS, MODELS, OPTIMIZERS, SABR_EXPANSIONS, InternalError, VolfitError

__all__ = [
    "VolfitError",
    "InternalError",
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
        """Static-arbitrage check: butterfly per expiry, calendar between expiries."""
        return json.loads(self._s.check_json())

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
                      model: str = "svi", optimizer: str = "lm") -> Surface:
    """Reads a chain file and calibrates a surface: ``model`` one of :data:`MODELS` (``svi``
    by default), ``optimizer`` one of :data:`OPTIMIZERS` (``lm`` by default), ``format`` one
    of :data:`FORMATS`. A file with several underlyings needs ``underlying=``."""
    return Surface(_volfit.Surface.calibrate(str(path), format, underlying, model, optimizer))


def write_charts(surface: Surface, out_dir: str, formats: Iterable[str] = ("png", "svg"),
                 overlay: Optional[str] = "sabr") -> list:
    """The same PNG/SVG charts and report.html as ``volfit calibrate`` (see
    :meth:`Surface.charts`)."""
    return surface.charts(out_dir, formats, overlay)
