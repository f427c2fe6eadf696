"""CUDA tests run under numba's CUDA simulator unless NUMBA_ENABLE_CUDASIM is set already
(NUMBA_ENABLE_CUDASIM=0 runs them on a real GPU).  It must be set before numba.cuda is
first imported, which is why it is set here, before any test module loads."""
import os

os.environ.setdefault("NUMBA_ENABLE_CUDASIM", "1")
