"""High-precision reference values for volfit's pricing tests, computed with mpmath at 60 digits.

Writes, beside this script:
  special_mpmath.csv          fn,x,value          erfcx / erfc / norm_cdf / inverse_norm_cdf
  normalised_black_mpmath.csv x,s,theta,b,vega    normalised Black b(x, s, theta) and db/ds
  bachelier_mpmath.csv        kind,forward,strike,t,vol,price

The formulas are the textbook definitions evaluated in 60-digit arithmetic, so they share no code
and no cancellation-avoidance trick with volfit. Run:  python3 tests/reference/gen_mpmath_reference.py
"""
import csv
import os

import mpmath as mp

mp.mp.dps = 60
HERE = os.path.dirname(os.path.abspath(__file__))


def phi(z):
    return mp.exp(-z * z / 2) / mp.sqrt(2 * mp.pi)


def cdf(z):
    return mp.ncdf(z)


def black(x, s, theta):
    x = mp.mpf(x)
    s = mp.mpf(s)
    return theta * (mp.exp(x / 2) * cdf(theta * (x / s + s / 2)) - mp.exp(-x / 2) * cdf(theta * (x / s - s / 2)))


def g(v):
    return mp.nstr(v, 25) if v != 0 else "0"


def special():
    rows = []
    for x in [-26, -10, -5, -3, -1, -0.5, -0.46875, -0.3, -1e-8, 0, 1e-10, 0.1, 0.46875, 0.47, 1, 2.5, 4, 4.0001,
              6, 10, 26, 100, 1e5]:
        x = mp.mpf(x)
        rows.append(("erfcx", x, mp.exp(x * x) * mp.erfc(x)))
    for x in [-5, -1, -0.46875, -0.2, 0, 0.2, 0.46875, 0.5, 1, 3, 4, 4.5, 8, 15, 26]:
        x = mp.mpf(x)
        rows.append(("erfc", x, mp.erfc(x)))
    for x in [-38, -30, -20, -10.5, -10, -9.9, -5, -2, -1, -0.1, 0, 0.5, 1, 3, 8]:
        x = mp.mpf(x)
        rows.append(("norm_cdf", x, cdf(x)))
    for p in ["1e-300", "1e-100", "1e-20", "1e-8", "0.01", "0.075", "0.2", "0.5", "0.7", "0.925", "0.99", "0.999999"]:
        p = mp.mpf(float(p))  # the double nearest the decimal, as the Rust test parses it
        with mp.workdps(700):  # 2p − 1 must not round to −1 for p = 1e-300
            z = mp.sqrt(2) * mp.erfinv(2 * p - 1)
        rows.append(("inverse_norm_cdf", p, z))
    with open(os.path.join(HERE, "special_mpmath.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["fn", "x", "value"])
        for fn, x, v in rows:
            w.writerow([fn, g(x), g(v)])


def normalised():
    xs = [0, 1e-10, 1e-6, 1e-3, 0.05, 0.3, 1, 2.5, 5, 10, 20, 40]
    ss = [1e-4, 1e-3, 0.01, 0.05, 0.1, 0.2, 0.21, 0.3, 0.5, 1, 2, 3, 5, 8, 12, 20, 30]
    with open(os.path.join(HERE, "normalised_black_mpmath.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["x", "s", "theta", "b", "vega"])
        for ax in xs:
            for x in ([ax, -ax] if ax else [0]):
                for s in ss:
                    for theta in (1, -1):
                        b = black(x, s, theta)
                        if b < mp.mpf("1e-300"):
                            continue
                        vega = phi(mp.mpf(x) / s + mp.mpf(s) / 2) * mp.exp(mp.mpf(x) / 2)
                        w.writerow([g(mp.mpf(x)), g(mp.mpf(s)), theta, g(b), g(vega)])


def bachelier():
    with open(os.path.join(HERE, "bachelier_mpmath.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["kind", "forward", "strike", "t", "vol", "price"])
        for fwd, k in [(0.02, 0.02), (0.02, 0.025), (0.02, 0.01), (-0.004, 0.0), (0.03, 0.10), (100, 160), (100, 40)]:
            for t in [0.1, 1, 10]:
                for vol in [0.001, 0.0065, 0.02, 15]:
                    for kind, theta in (("call", 1), ("put", -1)):
                        fm, km, tm, vm = mp.mpf(fwd), mp.mpf(k), mp.mpf(t), mp.mpf(vol)
                        sv = vm * mp.sqrt(tm)
                        d = (fm - km) / sv
                        price = theta * (fm - km) * cdf(theta * d) + sv * phi(d)
                        if price < mp.mpf("1e-300"):
                            continue
                        w.writerow([kind, fwd, k, t, vol, g(price)])


if __name__ == "__main__":
    special()
    normalised()
    bachelier()
