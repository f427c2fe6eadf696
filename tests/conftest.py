"""CUDA tests run under numba's CUDA simulator unless NUMBA_ENABLE_CUDASIM is set already
(NUMBA_ENABLE_CUDASIM=0 runs them on a real GPU).  numba reads the variable when it is
first imported, which is why it is set here, before any test module loads (no warning
filter in pyproject.toml may name a numba class: that would import numba first)."""
import os

os.environ.setdefault("NUMBA_ENABLE_CUDASIM", "1")
