#!/usr/bin/env bash
# Builds the volfit wheel into a virtual environment and runs the Python tests and the
# notebooks (executed headlessly). Needs python3 (>= 3.9) with venv and pip; everything else
# is installed from PyPI into the venv (target/py-venv, reused between runs).
set -euo pipefail
cd "$(dirname "$0")"
VENV="${VOLFIT_VENV:-../target/py-venv}"
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
"$VENV/bin/pip" install -q --disable-pip-version-check "maturin>=1.16,<2" numpy pytest pandas \
  nbmake nbclient ipykernel QuantLib py_lets_be_rational "dask[distributed]" pyarrow
rm -rf ../target/wheels
"$VENV/bin/maturin" build --release --quiet -o ../target/wheels
"$VENV/bin/pip" install -q --disable-pip-version-check --force-reinstall --no-deps ../target/wheels/volfit-*.whl
"$VENV/bin/python" -m pytest -q tests
"$VENV/bin/python" -m pytest -q --nbmake ../notebooks
