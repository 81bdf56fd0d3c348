"""Coefficients of volfit's erfcx polynomial on |y| <= 0.46875 (src/black/special.rs).

A degree-18 Chebyshev fit (mpmath.chebyfit, 50 digits) to erfcx(y) = exp(y^2) erfc(y); its
approximation error is below 3e-18 relative, far under double rounding. Run:
    python3 tests/reference/gen_erfcx_small.py
"""
import mpmath as mp

mp.mp.dps = 50
A = mp.mpf("0.46875")
poly, err = mp.chebyfit(lambda y: mp.exp(y * y) * mp.erfc(y), [-A, A], 19, error=True)
worst = max(abs(mp.polyval(poly, y) / (mp.exp(y * y) * mp.erfc(y)) - 1) for y in mp.linspace(-A, A, 4001))
print(f"// max relative error {mp.nstr(worst, 3)}; coefficients of y^0 .. y^18")
for c in reversed(poly):
    print(f"    {mp.nstr(c, 20, min_fixed=-1, max_fixed=1)},")
