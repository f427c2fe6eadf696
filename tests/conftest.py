"""CUDA tests run under numba's CUDA simulator unless NUMBA_ENABLE_CUDASIM is set already
(NUMBA_ENABLE_CUDASIM=0 runs them on a real GPU).  It must be set before numba.cuda is
first imported, which is why it is set here, before any test module loads.

numba snapshots the environment when it is first imported, and pytest imports numba
before this file when a warning filter (pyproject.toml) names one of numba's warning
classes; numba then has to read its configuration again."""
import os
import sys

os.environ.setdefault("NUMBA_ENABLE_CUDASIM", "1")
if "numba" in sys.modules and "numba.cuda" not in sys.modules:
    import numba.core.config

    numba.core.config.reload_config()
