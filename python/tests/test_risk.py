"""Greeks off a surface (``Surface.greeks``, ``black_greeks``) against numbers the bindings did not
produce: finite differences of full revaluations computed here in Python from the surface's own
vols and forwards with a hand-written Black-76, an independent Black (py_lets_be_rational),
Deribit's published greeks, and the scalar loop."""

import math
import pathlib

import numpy as np
import pytest

import volfit

ROOT = pathlib.Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared"
SAMPLE = ROOT / "data" / "sample_chain.csv"
DERIBIT = sorted((SHARED / "data" / "deribit").glob("deribit_options_snapshot_*.csv"))


def black(call, f, k, t, vol):
    """Undiscounted Black-76, written out here (Black 1976, eq. 14 without the discount)."""
    s = vol * math.sqrt(t)
    d1 = math.log(f / k) / s + 0.5 * s
    d2 = d1 - s
    n = lambda x: 0.5 * math.erfc(-x / math.sqrt(2.0))
    return f * n(d1) - k * n(d2) if call else k * n(-d2) - f * n(-d1)


@pytest.fixture(scope="module")
def surface():
    return volfit.calibrate_surface(SAMPLE)


def options(s):
    """A spread of calls and puts across strikes at times between and on the expiries."""
    ts = sorted(p["t"] for p in s.params())
    times = [0.5 * (ts[0] + ts[1]), ts[1], 0.5 * (ts[-2] + ts[-1])]
    out = []
    for t in times:
        f = float(s.forward(t))
        for m in (0.8, 0.95, 1.0, 1.1, 1.3):
            out.append(("call" if m >= 1.0 else "put", f * m, t))
            out.append(("put" if m >= 1.0 else "call", f * m, t))
    return out


def revalue(s, kind, k, t, dynamics, scale=1.0, shift=0.0):
    """Full revaluation after every forward is multiplied by ``scale`` and every vol shifted by
    ``shift``: sticky strike reads the base surface at the same strike, sticky moneyness at the
    same K/F, i.e. at strike K/scale on the base surface."""
    f = float(s.forward(t))
    at = k if dynamics == "sticky-strike" else k / scale
    return black(kind == "call", scale * f, k, t, float(s.vol(at, t)) + shift)


def rolled(s, kind, k, t, tau):
    """The value at time to expiry ``tau`` with the forward and log-moneyness of ``t`` held."""
    f = float(s.forward(t))
    w = float(s.total_variance(math.log(k / f), tau))
    return black(kind == "call", f, k, tau, math.sqrt(w / tau))


def differences(v, f, h, e):
    """Central differences of ``v(scale, shift)`` in the forward (relative step ``h``) and the
    vol (step ``e``): price, delta, gamma, vega, volga, vanna."""
    return {
        "price": v(),
        "delta": (v(1 + h) - v(1 - h)) / (2 * h * f),
        "gamma": (v(1 + h) - 2 * v() + v(1 - h)) / (h * f) ** 2,
        "vega": (v(1, e) - v(1, -e)) / (2 * e),
        "volga": (v(1, e) - 2 * v() + v(1, -e)) / e**2,
        "vanna": (v(1 + h, e) - v(1 + h, -e) - v(1 - h, e) + v(1 - h, -e)) / (4 * h * f * e),
    }


def richardson(diff, h, e):
    """Richardson's extrapolation of second-order differences: (4·D(h/2) − D(h))/3, error O(h⁴)."""
    a, b = diff(h, e), diff(h / 2, e / 2)
    return {n: (4 * b[n] - a[n]) / 3 for n in a}


@pytest.mark.parametrize("dynamics", ["sticky-strike", "sticky-moneyness", "sticky-delta"])
def test_greeks_are_finite_differences_of_full_revaluation(surface, dynamics):
    s = surface
    worst = {}
    for kind, k, t in options(s):
        g = s.greeks(kind, k, t, dynamics=dynamics)
        f = float(s.forward(t))
        v = lambda a=1.0, b=0.0: revalue(s, kind, k, t, dynamics, a, b)
        fd = richardson(lambda h, e: differences(v, f, h, e), 1e-3, 1e-3)
        d = 1e-5 * t  # theta: second-order left difference (time walks into the interval before t)
        fd["theta"] = -(3 * rolled(s, kind, k, t, t) - 4 * rolled(s, kind, k, t, t - d)
                        + rolled(s, kind, k, t, t - 2 * d)) / (2 * d)
        assert g["forward"] == f and g["vol"] == float(s.vol(k, t))
        # Relative errors, with a floor where a greek crosses zero (delta 1, vanna 1/σ, …).
        floor = {"price": 1e-9 * f, "delta": 1e-3, "gamma": 1e-6 / f, "vega": 1e-6 * f,
                 "volga": 1e-4 * f, "vanna": 1e-4, "theta": 1e-6 * f}
        for name, want in fd.items():
            err = abs(g[name] - want) / (abs(want) + floor[name])
            worst[name] = max(worst.get(name, 0.0), err)
    tol = {"price": 1e-13, "delta": 1e-5, "gamma": 1e-4, "vega": 1e-6, "volga": 1e-4,
           "vanna": 1e-4, "theta": 1e-4}
    for name, err in worst.items():
        assert err < tol[name], (dynamics, name, err, worst)


def test_sticky_strike_delta_is_black_delta_at_the_surface_vol(surface):
    plb = pytest.importorskip("py_lets_be_rational")
    s = surface
    for kind, k, t in options(s):
        g = s.greeks(kind, k, t)
        f, vol = float(s.forward(t)), float(s.vol(k, t))
        q = 1.0 if kind == "call" else -1.0
        d1 = math.log(f / k) / (vol * math.sqrt(t)) + 0.5 * vol * math.sqrt(t)
        n = 0.5 * math.erfc(-q * d1 / math.sqrt(2.0))
        assert abs(g["delta"] - q * n) < 1e-14
        assert abs(g["price"] / plb.black(f, k, vol, t, q) - 1.0) < 1e-12
    # The skew term: under sticky moneyness a put's delta on a downward skew is more negative.
    f = float(s.forward(0.5))
    sk = s.greeks("put", 0.85 * f, 0.5)
    sm = s.greeks("put", 0.85 * f, 0.5, dynamics="sticky-moneyness")
    slope = (float(s.vol(0.851 * f, 0.5)) - float(s.vol(0.849 * f, 0.5))) / (0.002 * f)
    assert slope < 0
    assert abs(sm["delta"] - (sk["delta"] - sk["vega"] * 0.85 * slope)) < 1e-5


def test_inverse_greeks_are_derivatives_of_the_coin_value(surface):
    s = surface
    for kind, k, t in options(s):
        g = s.greeks(kind, k, t, inverse=True)
        u = s.greeks(kind, k, t)
        f = float(s.forward(t))
        c = lambda a=1.0, b=0.0: revalue(s, kind, k, t, "sticky-strike", a, b) / (a * f)
        fd = richardson(lambda h, e: differences(c, f, h, e), 1e-3, 1e-3)
        assert abs(g["price"] - u["price"] / f) < 1e-15 * f
        assert g["usd_price"] == u["price"]
        floor = {"price": 1e-9, "delta": 1e-3 / f, "gamma": 1e-6 / f**2, "vega": 1e-6,
                 "volga": 1e-4, "vanna": 1e-4 / f}
        tol = {"price": 1e-13, "delta": 1e-5, "gamma": 1e-4, "vega": 1e-6, "volga": 1e-3,
               "vanna": 1e-4}
        for name, want in fd.items():
            err = abs(g[name] - want) / (abs(want) + floor[name])
            assert err < tol[name], (name, kind, k, t, err)
        assert abs(g["premium_adjusted_delta"] - (u["delta"] - u["price"] / f)) < 1e-15
        assert g["deribit_delta"] == u["delta"] and g["deribit_vega"] == u["vega"] / 100.0


def test_vectorised_equals_the_scalar_loop(surface):
    s = surface
    f = float(s.forward(0.4))
    strikes = f * np.linspace(0.7, 1.4, 9)[:, None]
    times = np.array([0.1, 0.4, 1.0])[None, :]
    kinds = np.where(strikes >= f, "call", "put")
    for dyn in volfit.DYNAMICS:
        for inverse in (False, True):
            g = s.greeks(kinds, strikes, times, dynamics=dyn, inverse=inverse)
            assert g["delta"].shape == (9, 3)
            for i in range(9):
                for j in range(3):
                    one = s.greeks(str(kinds[i, 0]), float(strikes[i, 0]), float(times[0, j]),
                                   dynamics=dyn, inverse=inverse)
                    for name, v in one.items():
                        assert isinstance(v, float)
                        assert g[name][i, j] == v, (dyn, inverse, name, i, j)
    b = volfit.black_greeks(["call", "put"], 100.0, [90.0, 110.0], 0.5, [0.3, 0.25])
    for i, (kind, k, v) in enumerate([("call", 90.0, 0.3), ("put", 110.0, 0.25)]):
        one = volfit.black_greeks(kind, 100.0, k, 0.5, v)
        assert all(b[n][i] == one[n] for n in volfit.GREEKS)


def test_an_element_without_greeks_raises_naming_its_index(surface):
    s = surface
    f = float(s.forward(0.5))
    strikes = np.array([f, 0.9 * f, -1.0, f, float("nan")])
    with pytest.raises(ValueError, match=r"index 2: strike must be positive.*2 of 5"):
        s.greeks("call", strikes, 0.5)
    with pytest.raises(volfit.VolfitValueError, match=r"index \(1, 0\): t must be positive"):
        s.greeks("put", [[f], [f]], [[0.5], [0.0]])
    with pytest.raises(volfit.VolfitValueError, match="the option: strike is not finite"):
        s.greeks("put", float("inf"), 0.5)
    with pytest.raises(volfit.VolfitValueError, match="index 1: no Black greeks"):
        volfit.black_greeks("call", 100.0, 100.0, 0.5, [0.2, -0.1])
    with pytest.raises(volfit.VolfitValueError, match="unknown dynamics"):
        s.greeks("call", f, 0.5, dynamics="sticky-vol")
    with pytest.raises(volfit.VolfitValueError, match="errors must be"):
        s.greeks("call", f, 0.5, errors="nan")


def test_errors_mask_masks_what_has_no_answer_and_lists_why(surface):
    s = surface
    f = float(s.forward(0.5))
    strikes = np.array([f, 0.9 * f, -1.0, f, float("nan")])
    g = s.greeks("call", strikes, 0.5, errors="mask")
    assert g["ok"].tolist() == [True, True, False, True, False]
    assert [i for i, _ in g["error"]] == [2, 4]
    assert "positive" in g["error"][0][1] and "finite" in g["error"][1][1]
    good = s.greeks("call", strikes[g["ok"]], 0.5)
    for name in volfit.GREEKS:
        col = g[name]
        assert isinstance(col, np.ma.MaskedArray) and col.mask.tolist() == (~g["ok"]).tolist()
        assert np.array_equal(col.compressed(), good[name])
    one = s.greeks("call", -1.0, 0.5, errors="mask")
    assert one["ok"] is False and one["delta"] is np.ma.masked and one["error"][0][0] == ()


def test_black_greeks_at_deribit_mark_iv_match_deribit_delta_and_vega():
    if not DERIBIT:
        pytest.skip("../shared/data not present")
    pd = pytest.importorskip("pandas")
    for path in DERIBIT:
        d = pd.read_csv(path)
        g = volfit.black_greeks(d["option_type"].to_numpy(), d["underlying"].to_numpy(),
                                d["strike"].to_numpy(), d["time_to_maturity"].to_numpy(),
                                d["implied_volatility"].to_numpy(), inverse=True)
        ddelta = np.abs(g["deribit_delta"] - d["delta"].to_numpy())
        dvega = np.abs(g["deribit_vega"] - d["vega"].to_numpy())
        vega_scale = np.abs(d["vega"].to_numpy()).max()
        # Deribit rounds delta to 5 decimals and prices at its own clock a little off the
        # snapshot's timestamp: the bulk agrees to ~1e-4; premium-adjusted delta is much further.
        assert np.median(ddelta) < 5e-4, (path.name, np.median(ddelta))
        assert np.quantile(ddelta, 0.9) < 2e-3, (path.name, np.quantile(ddelta, 0.9))
        assert np.median(dvega) < 1e-3 * vega_scale, (path.name, np.median(dvega))
        pad = np.abs(g["premium_adjusted_delta"] - d["delta"].to_numpy())
        assert np.median(pad) > 10 * np.median(ddelta)
