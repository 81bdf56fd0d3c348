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
    assert volfit.MODELS == ["svi", "ssvi", "essvi", "sabr"]
    assert volfit.OPTIMIZERS == ["lm", "bfgs", "lbfgs"]
    assert "deribit-api" in volfit.FORMATS and volfit.FORMATS[0] == "auto"
    for model in volfit.MODELS:
        assert volfit.calibrate_surface(SAMPLE, model=model).check() is not None
    with pytest.raises(volfit.VolfitError, match="expected svi, ssvi, essvi, sabr"):
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
