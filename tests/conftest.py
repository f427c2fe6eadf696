"""CUDA tests run under numba's CUDA simulator unless NUMBA_ENABLE_CUDASIM is set already
(NUMBA_ENABLE_CUDASIM=0 runs them on a real GPU).  numba reads the variable when it is
first imported, which is why it is set here, before any test module loads (no warning
filter in pyproject.toml may name a numba class: that would import numba first)."""
import os
import sys

os.environ.setdefault("NUMBA_ENABLE_CUDASIM", "1")

# The shared helper modules (corpus.py, numpy_ops.py, bad_inputs.py, ...) live in this
# folder, and test files in every subfolder import them by name.  pytest's default
# import mode ("prepend") puts this folder on sys.path already, as the rootdir conftest's
# own folder; this says so explicitly and keeps it true under --import-mode=importlib.
TESTS = os.path.dirname(os.path.abspath(__file__))
if TESTS not in sys.path:
    sys.path.insert(0, TESTS)
# benchmarks/ (its problems serve as test inputs too: tests/backends/test_numba_gmm.py,
# tests/test_benchmarks.py) is imported from the repository root
ROOT = os.path.dirname(TESTS)
if ROOT not in sys.path:
    sys.path.append(ROOT)
