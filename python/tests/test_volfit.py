"""Tests of the volfit Python package against outside numbers, round trips and the CLI's files."""

import json
import math
import pathlib
import threading

import numpy as np
import pytest

import volfit

ROOT = pathlib.Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared"
SAMPLE = ROOT / "data" / "sample_chain.csv"


def test_implied_vol_round_trips_black_prices_on_a_grid():
    vol = np.linspace(0.05, 2.0, 40)[:, None, None]
    strike = np.linspace(50.0, 200.0, 31)[None, :, None]
    t = np.array([0.01, 0.5, 5.0])[None, None, :]
    kind = np.where(strike >= 100.0, "call", "put")
    price = volfit.black_price(kind, 100.0, strike, t, vol)
    assert price.shape == (40, 31, 3)
    back = volfit.implied_vol(kind, price, 100.0, strike, t)
    ok = np.isfinite(back)
    assert ok.mean() > 0.95
    assert np.max(np.abs(back[ok] / np.broadcast_to(vol, back.shape)[ok] - 1.0)) < 1e-11


def test_no_vol_is_nan_with_a_reason():
    vols, reasons = volfit.implied_vol(
        ["call", "put", "call", "call"], [5.0, 5.0, 120.0, float("nan")], 100.0, 110.0, 1.0,
        return_reasons=True,
    )
    assert math.isfinite(vols[0]) and reasons[0] == ""
    assert math.isnan(vols[1]) and reasons[1] == "below_intrinsic"
    assert math.isnan(vols[2]) and reasons[2] == "above_upper_bound"
    assert math.isnan(vols[3]) and reasons[3] == "non_finite_input"


def test_scalars_in_scalars_out():
    p = volfit.black_price("c", 100.0, 100.0, 1.0, 0.2)
    assert isinstance(p, float) and abs(p - 7.965567455405804) < 1e-13
    with pytest.raises(volfit.VolfitError, match="call"):
        volfit.black_price("straddle", 100.0, 100.0, 1.0, 0.2)


def test_sabr_matches_quantlib_reference():
    path = SHARED / "reference" / "quantlib_sabr_interpolation_vols.csv"
    if not path.exists():
        pytest.skip("../shared/reference not present")
    rows = np.loadtxt(path, delimiter=",", skiprows=1)
    v = volfit.sabr_vol(rows[:, 0], 0.039, 1.0, 0.3, 0.6, 0.01, 0.02)
    assert np.max(np.abs(v - rows[:, 1])) < 1e-12
    with pytest.raises(volfit.VolfitError, match="rho"):
        volfit.sabr_vol(0.04, 0.039, 1.0, 0.3, 0.6, 1.5, 0.02)


def test_fits_recover_known_smiles():
    k = np.linspace(70.0, 140.0, 15)
    truth = volfit.sabr_vol(k, 100.0, 0.5, 0.25, 1.0, -0.4, 0.9)
    fit = volfit.fit_sabr(k, truth, 100.0, 0.5)
    assert abs(fit["model"]["rho"] + 0.4) < 1e-8 and fit["report"]["rmse_iv"] < 1e-12
    svi = volfit.fit_svi(k, truth, 100.0, 0.5)
    assert svi["report"]["butterfly_free"] and svi["report"]["rmse_iv"] < 5e-3
    for opt in ["bfgs", "lbfgs"]:
        assert volfit.fit_sabr(k, truth, 100.0, 0.5, optimizer=opt)["report"]["rmse_iv"] < 1e-5


def test_read_chain_accounts_for_every_row():
    table, report = volfit.read_chain(SAMPLE, as_pandas=False, with_report=True)
    assert set(["strike", "bid", "ask", "kind", "expiry", "line"]) <= set(table)
    assert len(table["strike"]) + len(report["rejected"]) == report["rows"] == 506
    assert set(table["kind"]) == {"call", "put"}
    with pytest.raises(volfit.VolfitError, match="no_such.csv"):
        volfit.read_chain(ROOT / "no_such.csv")


def test_read_chain_several_underlyings_needs_a_choice():
    path = SHARED / "data" / "deribit" / "deribit_options_snapshot_20260215T153420Z.csv"
    if not path.exists():
        pytest.skip("../shared/data not present")
    with pytest.raises(volfit.VolfitError, match="BTC, ETH"):
        volfit.read_chain(path)
    eth = volfit.read_chain(path, underlying="ETH", as_pandas=False)
    assert set(eth["underlying"]) == {"ETH"}


def test_surface_queries_persistence_and_report(tmp_path):
    s = volfit.calibrate_surface(SAMPLE)
    report = s.report()
    for key in ["input", "format", "underlying", "as_of", "model", "optimizer", "ingest",
                "slices", "calendar_free", "timing_micros"]:
        assert key in report
    assert report["underlying"] == "BTC" and len(report["slices"]) == 10
    # Grid query by broadcasting.
    K = np.linspace(70_000.0, 130_000.0, 7)
    T = np.array([0.1, 0.5])
    grid = s.vol(K[:, None], T[None, :])
    assert grid.shape == (7, 2) and np.all(np.isfinite(grid))
    lv = s.local_vol(K, 0.5)
    assert np.all(lv > 0)
    assert abs(float(s.forward(0.0)) - 95_000.0) < 1e-9
    # Persistence: same vols bit for bit.
    path = tmp_path / "surface.json"
    s.save(path)
    back = volfit.Surface.load(path)
    assert np.array_equal(back.vol(K[:, None], T[None, :]), grid)
    assert back.report() is None
    assert json.loads(path.read_text())["format"] == "volfit-surface"
    assert s.check()["arbitrage_free"]


def test_charts_are_the_clis(tmp_path):
    s = volfit.calibrate_surface(SAMPLE)
    files = volfit.write_charts(s, tmp_path, formats=["png"])
    pngs = [f for f in files if f.endswith(".png")]
    assert len(pngs) == 15
    html = (tmp_path / "report.html").read_text()
    for f in pngs:
        assert "plots/" + pathlib.Path(f).name in html
        assert pathlib.Path(f).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    s.save(tmp_path / "s.json")
    with pytest.raises(volfit.VolfitError, match="fit report"):
        volfit.Surface.load(tmp_path / "s.json").charts(tmp_path / "again")


def test_threads_share_a_surface():
    s = volfit.calibrate_surface(SAMPLE)
    K = np.linspace(60_000.0, 140_000.0, 20_000)
    want = s.vol(K, 0.3)
    out = [None] * 4

    def work(i):
        out[i] = s.vol(K, 0.3)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert all(np.array_equal(o, want) for o in out)


def test_invalid_queries_are_nan_and_lists_come_from_the_library():
    s = volfit.calibrate_surface(SAMPLE)
    bad = s.vol(np.array([np.nan, -1.0, 0.0, 100_000.0, 100_000.0]),
                np.array([0.5, 0.5, 0.5, -1.0, np.nan]))
    assert np.all(np.isnan(bad))
    assert np.isnan(s.local_vol(-1.0, 0.5)) and np.isnan(s.density(100_000.0, -1.0))
    assert volfit.MODELS == ["svi", "ssvi", "essvi", "sabr", "spline"]
    assert volfit.OPTIMIZERS == ["lm", "bfgs", "lbfgs"]
    assert "deribit-api" in volfit.FORMATS and volfit.FORMATS[0] == "auto"
    for model in volfit.MODELS:
        assert volfit.calibrate_surface(SAMPLE, model=model).check() is not None
    with pytest.raises(volfit.VolfitError, match="expected svi, ssvi, essvi, sabr, spline"):
        volfit.calibrate_surface(SAMPLE, model="heston")


def _no_panic(call):
    """Runs ``call``: it returns, or raises a VolfitError; anything else (PyO3's
    ``PanicException`` is a ``BaseException``) fails the test."""
    try:
        return call()
    except volfit.VolfitError:
        return None
    except BaseException as e:  # noqa: BLE001 - the point is to see what leaks
        pytest.fail(f"{type(e).__module__}.{type(e).__name__} leaked: {e}")


def test_internal_error_is_a_volfit_error():
    assert issubclass(volfit.InternalError, volfit.VolfitError)
    assert issubclass(volfit.InternalError, Exception)


def test_hostile_inputs_give_values_or_volfit_errors_never_panics(tmp_path):
    inf, nan = float("inf"), float("nan")
    extreme = np.array([0.0, -1.0, nan, inf, -inf, 5e-324, 1e-300, 1e300, 1.7976931348623157e308])
    empty = np.array([], dtype=np.float64)
    for args in [(extreme, 100.0, 100.0, 1.0), (1.0, extreme, 100.0, 1.0),
                 (1.0, 100.0, extreme, 1.0), (1.0, 100.0, 100.0, extreme), (empty,) * 4]:
        v = _no_panic(lambda: volfit.implied_vol("call", *args))
        assert v is not None and not np.any(np.isinf(v)) and not np.any(np.asarray(v) == 0.0)
        p = _no_panic(lambda: volfit.black_price("put", *args))
        assert p is not None and not np.any(np.isinf(p))
    for ex in volfit.SABR_EXPANSIONS:
        for beta in [0.0, 0.5, 1.0]:
            v = _no_panic(lambda: volfit.sabr_vol(extreme, 0.03, 1.0, 0.03, beta, -0.3, 0.4,
                                                  expansion=ex))
            if v is not None:
                assert not np.any(np.isinf(v)) and not np.any(v <= 0.0), (ex, beta, v)
    for k, v in [(empty, empty), ([100.0], [0.2]), ([90.0, 100.0, 110.0], [nan, 0.2, inf]),
                 ([-1.0, 0.0, 1e308], [0.2, 0.2, 0.2]), ([90.0, 110.0], [0.2])]:
        _no_panic(lambda: volfit.fit_svi(k, v, 100.0, 0.5))
        _no_panic(lambda: volfit.fit_sabr(k, v, 100.0, 0.5))
        _no_panic(lambda: volfit.fit_sabr(k, v, 100.0, 0.5, normal=True))
    (tmp_path / "empty.csv").write_bytes(b"")
    (tmp_path / "binary.csv").write_bytes(bytes(range(256)) * 4)
    (tmp_path / "header.csv").write_bytes(b"kind,price,forward,strike,t\r\ncall,\xff,1,1,1\r\n")
    for path in [tmp_path, tmp_path / "empty.csv", tmp_path / "binary.csv", tmp_path / "header.csv"]:
        for fmt in volfit.FORMATS:
            _no_panic(lambda: volfit.read_chain(path, format=fmt))
            _no_panic(lambda: volfit.calibrate_surface(path, format=fmt))
    s = volfit.calibrate_surface(SAMPLE, model="sabr")
    for q in [s.vol, s.local_vol, s.density]:
        out = _no_panic(lambda: q(extreme[:, None], extreme[None, :]))
        assert out is not None and not np.any(np.isinf(out))
    assert not np.any(np.isinf(_no_panic(lambda: s.total_variance(extreme[:, None], extreme))))
    # The extreme queries: a finite positive vol or NaN, never 0 or inf.
    v = s.vol(np.array([1e308, 100_000.0, 100_000.0, 100_000.0]),
              np.array([0.5, 1e5, 1e300, 5e-324]))
    assert np.all(np.isnan(v) | ((v > 0.0) & np.isfinite(v))), v
    assert v[3] > 0.0


def test_extreme_scales_through_python():
    # σ(λP, λF, λK) = σ(P, F, K). At the money σ = 2√2·erfinv(P/F) in closed form; mpmath at
    # the exact binary inputs: 0.25132269371014806842…, …07594…, …05926… (P/F differs in the
    # last bits between the three).
    v = volfit.implied_vol("call", [10.0, 1e154, 1e-201], [100.0, 1e155, 1e-200],
                           [100.0, 1e155, 1e-200], 1.0)
    want = np.array([0.25132269371014806842, 0.25132269371014807594, 0.25132269371014805926])
    assert np.all(np.abs(v / want - 1.0) <= 4 * np.finfo(float).eps), v / want - 1.0
    v, reasons = volfit.implied_vol("call", 1e-300, 1e10, 1e10, 1.0, return_reasons=True)
    assert math.isnan(v) and reasons == "unrepresentable"


def test_spline_beats_svi_inside_the_spread_and_stays_arbitrage_free():
    path = SHARED / "data" / "spx_gatheral" / "spx_ivols_20170424.csv"
    if not path.exists():
        pytest.skip("../shared/data not present")
    reports = {m: volfit.calibrate_surface(str(path), model=m).report() for m in ("svi", "spline")}
    median = {m: float(np.median([s["within_spread"] for s in r["slices"]])) for m, r in reports.items()}
    assert reports["spline"]["model"] == "spline"
    # Same quotes, 28 expiries: SVI's median expiry has about 80% of its quotes inside bid/ask.
    assert [s["n_quotes"] for s in reports["spline"]["slices"]] == [s["n_quotes"] for s in reports["svi"]["slices"]]
    assert median["spline"] > median["svi"], median
    assert reports["spline"]["arbitrage_free"] and reports["spline"]["calendar_free"]
    assert all(s["butterfly_free"] for s in reports["spline"]["slices"])


def test_extrapolated_and_digital_on_a_real_surface():
    path = SHARED / "data" / "spx_gatheral" / "spx_ivols_20170424.csv"
    s = volfit.calibrate_surface(str(path))
    slices = s.report()["slices"]
    t_mid, t_last = slices[len(slices) // 2]["t"], slices[-1]["t"]
    f = float(s.forward(t_mid))
    # Inside the quotes at the forward of an expiry; extrapolated after the last one and far
    # in strike; NaN outside the domain.
    assert s.extrapolated(f, t_mid) == 0.0
    assert s.extrapolated(f, 2 * t_last) == 1.0
    assert s.extrapolated(20 * f, t_mid) == 1.0
    assert math.isnan(s.extrapolated(-1.0, t_mid))
    # Digital = -dC/dK of the undiscounted call times a discount factor: call + put digitals
    # are that one discount factor at every strike, and the call digital matches the finite
    # difference of the surface's own vols up to it.
    k = f * np.linspace(0.9, 1.1, 9)
    c, p = s.digital("call", k, t_mid), s.digital("put", k, t_mid)
    d = c + p
    assert np.allclose(d, d[0], rtol=0, atol=1e-14) and 0.9 < d[0] < 1.1  # PV can exceed 1 in the file
    h = 1e-5 * k
    up = volfit.black_price("call", f, k + h, t_mid, s.vol(k + h, t_mid))
    dn = volfit.black_price("call", f, k - h, t_mid, s.vol(k - h, t_mid))
    assert np.allclose(c / d[0], -(up - dn) / (2 * h), rtol=0, atol=2e-6)


# --- Dates, extrapolation policy, atoms and the plane scan (issue 15) ----------------------

BTC_FILE = SHARED / "data" / "deribit" / "deribit_options_snapshot_20260215T153420Z.csv"


@pytest.fixture(scope="module")
def btc():
    if not BTC_FILE.exists():
        pytest.skip("../shared/data not present")
    return volfit.calibrate_surface(BTC_FILE, underlying="BTC")


def _file_rows():
    """The BTC rows of the snapshot, read with the csv module (not volfit)."""
    import csv

    with open(BTC_FILE, newline="") as f:
        return [r for r in csv.DictReader(f) if r["currency"] == "BTC"]


def test_vol_at_is_the_vol_at_the_hand_computed_act365_year_fraction(btc):
    import datetime as dt

    rows = _file_rows()
    as_of = dt.datetime.fromisoformat(rows[0]["timestamp"])
    assert btc.as_of() == as_of and btc.day_count() == "act365"
    # The file's time_to_maturity is ACT/365.25 from the snapshot: the surface's ACT/365 year
    # fraction is it times 365.25/365.
    row = next(r for r in rows if r["expiry_datetime"].startswith("2026-03-27"))
    expiry = dt.datetime.fromisoformat(row["expiry_datetime"])
    t_hand = (expiry - as_of).total_seconds() / (365 * 86400)
    assert abs(float(btc.year_fraction(expiry)) / t_hand - 1) < 1e-9
    assert abs(t_hand / (float(row["time_to_maturity"]) * 365.25 / 365) - 1) < 1e-6
    K = np.array([50_000.0, 60_000.0, 70_000.0, 80_000.0, 100_000.0])
    want = btc.vol(K, t_hand)
    assert np.all(np.isfinite(want))
    got = btc.vol_at(K, expiry)
    assert got.shape == K.shape and np.allclose(got, want, rtol=1e-9, atol=0)
    # The same instant written every accepted way gives the same vols bit for bit.
    plus2 = dt.timezone(dt.timedelta(hours=2))
    for e in [expiry.astimezone(plus2), expiry.replace(tzinfo=None), "2026-03-27T08:00:00Z",
              "2026-03-27T10:00:00+02:00", "2026-03-27 08:00", "2026-03-27T08:00:00",
              np.datetime64("2026-03-27T08:00"), __import__("pandas").Timestamp(expiry)]:
        assert np.array_equal(btc.vol_at(K, e), got), e
    # A bare date is midnight UTC; an expiry between fitted ones is interpolated.
    t_mid = (dt.datetime(2026, 5, 1, tzinfo=dt.timezone.utc) - as_of).total_seconds() / (365 * 86400)
    assert np.allclose(btc.vol_at(K, dt.date(2026, 5, 1)), btc.vol(K, t_mid), rtol=1e-9, atol=0)
    assert np.allclose(btc.vol_at(K, "2026-05-01"), btc.vol(K, t_mid), rtol=1e-9, atol=0)
    # Broadcast over strikes and expiries.
    grid = btc.vol_at(K[:, None], [expiry, "2026-05-01"])
    assert grid.shape == (5, 2) and np.array_equal(grid[:, 0], got)
    assert isinstance(btc.vol_at(70_000.0, expiry), float)
    # At a fitted expiry's own date the vol is the slice's, exactly.
    p = btc.params()[3]
    assert btc.vol_at(70_000.0, p["expiry"]) == btc.vol(70_000.0, p["t"])
    # Before the snapshot: no vol. Not a date: a ValueError that is a VolfitError.
    assert math.isnan(btc.vol_at(70_000.0, "2026-02-01"))
    for bad in ["27 March 2026", "2026-13-01", 3.5, None]:
        with pytest.raises(ValueError) as e:
            btc.vol_at(70_000.0, bad)
        assert isinstance(e.value, volfit.VolfitError)


def test_vol_at_survives_save_and_load(btc, tmp_path):
    btc.save(tmp_path / "s.json")
    back = volfit.Surface.load(tmp_path / "s.json")
    assert back.as_of() == btc.as_of() and back.day_count() == btc.day_count()
    K = np.linspace(50_000.0, 90_000.0, 9)
    assert np.array_equal(back.vol_at(K, "2026-04-01T00:00Z"), btc.vol_at(K, "2026-04-01T00:00Z"))


def test_vol_at_needs_an_as_of(tmp_path):
    s = volfit.calibrate_surface(SAMPLE)
    s.save(tmp_path / "s.json")
    doc = json.loads((tmp_path / "s.json").read_text())
    doc["as_of"] = None
    (tmp_path / "s.json").write_text(json.dumps(doc))
    back = volfit.Surface.load(tmp_path / "s.json")
    assert back.as_of() is None
    with pytest.raises(volfit.VolfitError, match="as_of"):
        back.vol_at(100_000.0, "2030-01-01")


def test_extrapolation_policy_default_and_after_last(btc):
    pol = btc.extrapolation()
    assert pol == {"min_forward_vol": 0.01, "before_first": "flat_vol",
                   "after_last": {"kind": "forward_variance", "vol": None},
                   "wings": "model", "between": "auto", "calendar_envelope": True}
    ts = [p["t"] for p in btc.params()]
    t_n = ts[-1]
    k = np.array([-0.5, 0.0, 0.4])

    def w(s, t):
        return s.total_variance(k, t)

    # After the last expiry: w(k, t) = w_n(k) + σ∞²(t − t_n), with σ∞ = after_last_vol().
    sig = btc.after_last_vol()
    assert 0.01 <= sig < 2.0
    for t in [1.1 * t_n, 2.0 * t_n]:
        assert np.allclose(w(btc, t), w(btc, t_n) + sig**2 * (t - t_n), rtol=1e-12, atol=0)
    fixed = btc.with_extrapolation(after_last=0.8)
    assert fixed.after_last_vol() == 0.8
    assert fixed.extrapolation()["after_last"] == {"kind": "forward_variance", "vol": 0.8}
    assert np.allclose(w(fixed, 2 * t_n), w(btc, t_n) + 0.64 * t_n, rtol=1e-12, atol=0)
    # Refused after the last expiry: NaN there, by t and by date, the rest unchanged.
    refuse = btc.with_extrapolation(after_last="refuse")
    assert refuse.extrapolation()["after_last"] == {"kind": "refuse"}
    assert refuse.after_last_vol() is None
    F = float(btc.forward(t_n))
    assert np.all(np.isnan(refuse.vol(F * np.exp(k), 1.5 * t_n)))
    assert np.isnan(refuse.vol_at(F, "2027-06-01"))
    assert not np.isnan(btc.vol_at(F, "2027-06-01"))
    mid = 0.5 * (ts[4] + ts[5])
    assert np.array_equal(refuse.vol(F * np.array([0.8, 1.0, 1.2]), mid),
                          btc.vol(F * np.array([0.8, 1.0, 1.2]), mid))
    assert refuse.report() is None and btc.report() is not None
    assert btc.extrapolation() == pol  # the original surface is unchanged
    # The policy is stored with the surface.
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        refuse.save(pathlib.Path(d) / "s.json")
        back = volfit.Surface.load(pathlib.Path(d) / "s.json")
    assert back.extrapolation() == refuse.extrapolation()
    assert np.isnan(back.vol(F, 1.5 * t_n))


def test_extrapolation_before_first_and_min_forward_vol(btc):
    ts = [p["t"] for p in btc.params()]
    k = np.array([-0.3, 0.0, 0.2])
    t = 0.4 * ts[0]
    # Flat vol before the first expiry at each k: w(k, t) = w_1(k)·t/t_1.
    assert np.allclose(btc.total_variance(k, t), btc.total_variance(k, ts[0]) * t / ts[0],
                       rtol=1e-12, atol=0)
    refuse = btc.with_extrapolation(before_first="refuse")
    assert np.all(np.isnan(refuse.total_variance(k, t)))
    assert np.all(np.isfinite(refuse.total_variance(k, ts[0])))
    # Each expiry served at least σ_min²·Δt above the previous one at every k.
    s = btc.with_extrapolation(min_forward_vol=0.3)
    kk = np.linspace(-1.5, 1.5, 61)
    for a, b in zip(ts, ts[1:]):
        gap = s.total_variance(kk, b) - s.total_variance(kk, a)
        assert np.all(gap >= 0.09 * (b - a) * (1 - 1e-9)), (a, b, gap.min())
    assert s.check()["arbitrage_free"]
    # Linear wings: beyond the first expiry's quoted range w has no curvature (the second
    # difference of total variance vanishes), inside it nothing changes.
    lin = btc.with_extrapolation(wings="linear")
    assert lin.extrapolation()["wings"] == "linear"
    hi = max(q["k"] for q in btc.report()["slices"][0]["quotes"])
    far = np.array([hi + 0.5, hi + 1.0, hi + 1.5])
    w = lin.total_variance(far, ts[0])
    assert abs(w[0] - 2 * w[1] + w[2]) < 1e-12 * w[1]
    assert lin.total_variance(0.0, ts[0]) == btc.total_variance(0.0, ts[0])


@pytest.mark.parametrize("policy, what", [
    ({"min_forward_vol": 0.0}, "min_forward_vol"),
    ({"min_forward_vol": -0.1}, "min_forward_vol"),
    ({"min_forward_vol": float("nan")}, "min_forward_vol"),
    ({"min_forward_vol": 11.0}, "min_forward_vol"),
    ({"min_forward_vol": "0.1"}, "min_forward_vol"),
    ({"min_forward_vol": True}, "min_forward_vol"),
    ({"before_first": "linear"}, "before_first"),
    ({"after_last": "nope"}, "after_last"),
    ({"after_last": -0.2}, "after_last"),
    ({"after_last": float("inf")}, "after_last"),
    ({"after_last": {"kind": "flat"}}, "after_last"),
    ({"after_last": {"kind": "refuse", "vol": 0.3}}, "after_last"),
    ({"after_last": None}, "after_last"),
    ({"calendar_envelope": 1}, "calendar_envelope"),
    ({"sigma_min": 0.1}, "sigma_min"),
])
def test_bad_extrapolation_values_are_value_errors(policy, what):
    s = volfit.calibrate_surface(SAMPLE)
    with pytest.raises(ValueError, match=what) as e:
        s.with_extrapolation(**policy)
    assert isinstance(e.value, volfit.VolfitError)
    assert not isinstance(e.value, volfit.InternalError)


def _sinh_grid(lo, hi, n, scale=0.02, extra=()):
    k = scale * np.sinh(np.linspace(np.arcsinh(lo / scale), np.arcsinh(hi / scale), n))
    return np.unique(np.concatenate([k, np.asarray(extra, dtype=float)]))


def test_atoms_with_the_density_integrate_to_one_on_a_real_chain(btc):
    ts = [p["t"] for p in btc.params()]
    served = btc.check()["calendar"]["served"]
    assert served, "the BTC chain has expiries served an earlier smile"
    t_borrow = served[0]["t"]
    for t in [t_borrow, 0.5 * (ts[4] + ts[5])]:
        atoms = btc.atoms(t)
        assert atoms and all(m > 0 and math.isfinite(m) for _, m in atoms), atoms
        F = float(btc.forward(t))
        # ∫ density dK on a grid dense near the money, wide in the wings (the fitted left wing
        # holds mass below K = 1e-5·F), with the atoms' k as breakpoints.
        ka = [a for a, _ in atoms]
        k = _sinh_grid(-200.0, 200.0, 200_001, extra=ka + [np.nextafter(a, -np.inf) for a in ka])
        K = F * np.exp(k)
        d = btc.density(K, t)
        assert np.all(np.isfinite(d)) and np.all(d >= 0)
        continuous = np.trapezoid(d * K, k) if hasattr(np, "trapezoid") else np.trapz(d * K, k)
        total = continuous + sum(m for _, m in atoms)
        assert abs(total - 1.0) < 2e-6, (t, continuous, total)
    assert 1.0 - continuous > 1e-4  # without the atoms it would not
    # Each mass is the jump of the digital −∂C/∂K across its strike, from Black prices of the
    # surface's vols by one-sided second-order differences.
    t = t_borrow
    F = float(btc.forward(t))
    for ka, mass in btc.atoms(t):
        if mass < 1e-8:
            continue
        K0 = F * math.exp(ka)
        h = 1e-5 * K0

        def c(K):
            return volfit.black_price("call", F, K, t, btc.vol(K, t))

        right = (-3 * c(K0) + 4 * c(K0 + h) - c(K0 + 2 * h)) / (2 * h)
        left = (3 * c(K0) - 4 * c(K0 - h) + c(K0 - 2 * h)) / (2 * h)
        assert abs((right - left) / mass - 1) < 1e-3, (ka, mass, right - left)
    assert btc.atoms(-1.0) == [] and btc.atoms(float("nan")) == []
    assert btc.atoms(0.5 * ts[0]) == []  # before the first expiry: its fit, scaled


def test_check_exposes_the_plane_scan(btc):
    c = btc.check()
    plane = c["plane"]
    n = len(btc.params())
    grid = plane["grid"]
    # 5 times before the first expiry, every expiry, 5 inside each interval, 5 after.
    assert len(grid["times"]) == 5 + n + 5 * (n - 1) + 5
    assert grid["k_points"] == 161 and plane["points"] == len(grid["times"]) * 161
    assert grid["k_range"][0] <= -1.0 and grid["k_range"][1] >= 1.0
    assert plane["calendar"] == plane["butterfly"] == plane["local_vol_undefined"] == 0
    assert plane["by_region"] == [0, 0, 0, 0] and plane["worst"] == []
    assert c["arbitrage_free"] and "(k, t)" in c["domain"]
    # The scan's verdict, seen through the queries: local vol finite and positive at every
    # grid point.
    T = np.array(grid["times"])[None, :]
    k = np.linspace(grid["k_range"][0], grid["k_range"][1], grid["k_points"])[:, None]
    lv = btc.local_vol(btc.forward(T) * np.exp(k), T)
    assert np.all(np.isfinite(lv) & (lv > 0))
    # The raw fits (no calendar envelope) cross: the scan finds it and names the points.
    raw = btc.with_extrapolation(calendar_envelope=False).check()
    assert not raw["arbitrage_free"] and raw["plane"]["calendar"] > 0
    assert sum(raw["plane"]["by_region"]) > 0
    worst = next(p for p in raw["plane"]["worst"] if p["region"] == "between")
    assert worst["failure"] == "calendar" and worst["value"] < 0
    # There w falls in t at fixed k on the raw fits, and not on the served surface.
    t2 = worst["t"] * np.array([1 - 1e-6, 1 + 1e-6])
    raw_w = btc.with_extrapolation(calendar_envelope=False).total_variance(worst["k"], t2)
    served_w = btc.total_variance(worst["k"], t2)
    assert raw_w[1] < raw_w[0] and served_w[1] > served_w[0]


# The live tracker (issue 17) on consecutive January 2026 Deribit snapshots.
SERIES = SHARED / "data" / "deribit_series" / "2026-01"
REPORT_KEYS = {"as_of", "update_micros", "expiries_refitted", "expiries_listed",
               "expiries_retired", "quotes_used", "within_spread", "gated", "nis", "nis_dof",
               "nis_band", "failed", "ingest"}


@pytest.fixture(scope="module")
def january():
    files = sorted(SERIES.glob("deribit_options_snapshot_*.csv"))
    if len(files) < 5:
        pytest.skip("../shared/data/deribit_series not present")
    return files[:5]


def _atm30(surface):
    t = 30.0 / 365.0
    return float(surface.vol(surface.forward(t), t))


def test_tracker_follows_five_january_btc_snapshots(january):
    import datetime as dt

    kalman = volfit.Tracker("BTC")
    assert kalman.surface() is None and kalman.as_of() is None and kalman.expiries() == []
    assert kalman.underlying == "BTC"
    assert kalman.options()["filter"] == "kalman" and kalman.options()["model"] == "svi"
    atm_k, atm_i, reports = [], [], []
    for i, f in enumerate(january):
        r = kalman.update(f)
        reports.append(r)
        assert REPORT_KEYS <= set(r)
        assert r["quotes_used"] > 0 and r["update_micros"] > 0
        assert isinstance(r["as_of"], dt.datetime) and r["as_of"].tzinfo is not None
        assert r["as_of"] == kalman.as_of() == kalman.surface().as_of()
        assert r["ingest"]["rows"] == r["ingest"]["quotes"] + len(r["ingest"]["rejected"])
        assert 0.0 <= r["within_spread"] <= 1.0
        if i == 0:
            # The first update lists every expiry and has no prediction to test.
            assert r["expiries_listed"] == r["expiries_refitted"] == kalman.expiries()
            assert r["nis"] is None and r["nis_band"] is None
        else:
            assert r["nis"] is not None and r["nis_dof"] > 0
            lo, hi = r["nis_band"]
            assert 0 < lo < r["nis_dof"] < hi
        atm_k.append(_atm30(kalman.surface()))
        independent = volfit.Tracker("BTC", filter="none")  # a new tracker per snapshot
        ri = independent.update(f)
        assert ri["quotes_used"] > 0 and ri["nis"] is None and ri["gated"] == []
        atm_i.append(_atm30(independent.surface()))
    assert reports[0]["as_of"] < reports[-1]["as_of"]
    for path in (atm_k, atm_i):
        assert np.all(np.isfinite(path)) and np.all((np.array(path) > 0.2) & (np.array(path) < 1.5))
    # Five snapshots are too few to compare the paths' smoothness (on these the filtered
    # 30-day ATM moves by 0.50 vol points per snapshot, independent fits' by 0.47): the month
    # in notebooks/04_live_tracking.ipynb does; here the two paths stay close.
    assert np.max(np.abs(np.array(atm_k) - np.array(atm_i))) < 0.02
    # The posterior of a tracked expiry: the filter's coordinates, a covariance.
    e = kalman.expiries()[len(kalman.expiries()) // 2]
    post = kalman.posterior(e)
    assert post["coordinates"] == list(volfit.FILTER_COORDINATES) == \
        ["atm_vol", "psi", "p", "c", "min_vol"]
    assert post["expiry"] == e and post["mean"].shape == (5,) and post["cov"].shape == (5, 5)
    assert np.allclose(post["cov"], post["cov"].T) and np.all(np.linalg.eigvalsh(post["cov"]) > 0)
    assert np.array_equal(post["sd"], np.sqrt(np.diag(post["cov"])))
    assert 0.2 < post["mean"][0] < 1.5 and 0 < post["sd"][0] < 0.1
    # By text, by pandas Timestamp; None for an expiry not tracked and without the filter.
    import pandas as pd

    assert np.array_equal(kalman.posterior(e.isoformat())["mean"], post["mean"])
    assert np.array_equal(kalman.posterior(pd.Timestamp(e))["mean"], post["mean"])
    assert kalman.posterior("2030-01-01T08:00:00Z") is None
    assert independent.posterior(e) is None
    # A surface is a snapshot: later updates do not move it.
    s = kalman.surface()
    before = _atm30(s)
    assert "BTC" in repr(kalman) and "kalman" in repr(kalman)
    assert s.check()["arbitrage_free"]
    assert _atm30(s) == before


def test_tracker_takes_dataframes_through_the_readers(january):
    import pandas as pd

    by_path, by_frame = volfit.Tracker("BTC"), volfit.Tracker("BTC")
    for f in january[:2]:
        rp = by_path.update(f)
        rf = by_frame.update(pd.read_csv(f))
        assert rf["quotes_used"] == rp["quotes_used"] and rf["as_of"] == rp["as_of"]
        assert rf["expiries_refitted"] == rp["expiries_refitted"]
        assert rf["ingest"]["quotes"] == rp["ingest"]["quotes"]
    t = np.array([0.02, 30 / 365, 0.25])
    K = by_path.surface().forward(t)
    assert np.allclose(by_frame.surface().vol(K, t), by_path.surface().vol(K, t), rtol=1e-12)
    # A frame edited in pandas: parsed datetime columns, ETH rows dropped.
    df = pd.read_csv(january[2], parse_dates=["timestamp", "expiry_datetime"])
    r = by_frame.update(df[df["currency"] == "BTC"])
    assert r["quotes_used"] > 0 and r["as_of"] == by_frame.as_of()
    # volfit's generic CSV layout (quote-currency premiums here: a made-up smile).
    as_of, expiry = pd.Timestamp("2026-02-13T11:28:00Z"), pd.Timestamp("2026-03-20T16:00:00Z")
    T = (expiry - as_of).total_seconds() / (365 * 86400)  # ACT/365
    K = np.array([80.0, 90.0, 95.0, 100.0, 105.0, 110.0, 120.0])
    vol = 0.3 + 0.5 * np.log(K / 100.0) ** 2
    kind = np.where(K >= 100.0, "call", "put")
    mid = volfit.black_price(kind, 100.0, K, T, vol)
    generic = pd.DataFrame({
        "underlying": "XYZ", "expiry": expiry.isoformat(), "kind": kind, "strike": K,
        "bid": mid * 0.98, "ask": mid * 1.02, "forward": 100.0, "as_of": as_of,
    })
    xyz = volfit.Tracker("XYZ", filter="none")
    r = xyz.update(generic)
    assert r["quotes_used"] == 7
    t = float(xyz.surface().year_fraction(expiry))
    assert abs(t - T) < 1e-6 and abs(float(xyz.surface().vol(100.0, t)) - 0.3) < 0.005
    with pytest.raises(volfit.VolfitValueError, match="no snapshot time"):
        volfit.Tracker("XYZ").update(generic.drop(columns="as_of"))


def test_tracker_errors_are_volfit_errors_with_the_librarys_messages(january, tmp_path):
    for kw, what in [
        (dict(model="spline"), "Kalman filter runs on SVI"),
        (dict(model="ssvi", filter="none"), "svi, sabr or spline"),
        (dict(model="heston"), "heston"),
        (dict(filter="particle"), "unknown filter"),
        (dict(bogus=1), "unknown tracker option 'bogus'"),
        (dict(params={"kapa": 1.0}), "unknown tracker option 'params.kapa'"),
        (dict(gate=-1.0), "gate must be > 0"),
        (dict(q=[0.1, 0.1]), "q must be 5 numbers"),
        (dict(quote_tolerance=float("nan")), "must be finite"),
        (dict(optimizer="newton"), "optimizer must be one of"),
        (dict(extrapolation={"after_last": "flat"}), "after_last"),
    ]:
        with pytest.raises(volfit.VolfitValueError, match=what):
            volfit.Tracker("BTC", **kw)
    # The options that do go through.
    t = volfit.Tracker("BTC", model="spline", filter="none", optimizer="bfgs",
                       extrapolation={"after_last": "refuse"})
    o = t.options()
    assert o["model"] == "spline" and o["filter"] == "none" and o["fit"]["optimizer"] == "bfgs"
    assert o["extrapolation"]["after_last"] == {"kind": "refuse"}
    o = volfit.Tracker("BTC", gate=3.0, params={"kappa": 0.5}, commit_seconds=0).options()
    assert o["params"]["gate"] == 3.0 and o["params"]["kappa"] == 0.5
    assert o["params"]["q"] == volfit.Tracker.default_options()["params"]["q"]
    # Updates out of order are refused and leave the tracker as it was.
    k = volfit.Tracker("BTC")
    k.update(january[1])
    at, surface = k.as_of(), _atm30(k.surface())
    with pytest.raises(volfit.VolfitValueError, match="before the tracker's last"):
        k.update(january[0])
    assert k.as_of() == at and _atm30(k.surface()) == surface
    assert k.update(january[2])["quotes_used"] > 0
    # Another underlying, a missing file, a bad argument.
    with pytest.raises(volfit.VolfitValueError, match="chain of BTC, tracker of btc"):
        volfit.Tracker("btc").update(january[0])
    with pytest.raises(volfit.VolfitError, match="no underlying"):
        volfit.Tracker("SOL").update(january[0])
    with pytest.raises(volfit.VolfitError, match="no_such.csv"):
        k.update(tmp_path / "no_such.csv")
    with pytest.raises(volfit.VolfitValueError, match="path to a snapshot file or a pandas"):
        k.update(42)
    with pytest.raises(volfit.VolfitValueError, match="format must be one of"):
        k.update(january[3], format="excel")
    with pytest.raises(volfit.VolfitValueError, match="not an ISO 8601"):
        k.posterior("next friday")
    assert volfit.FILTERS == ["kalman", "none"]
