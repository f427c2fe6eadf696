"""Backends: where the generated code runs, one module each.

- "python": plain Python and NumPy (python.py's PythonPrinter);
- "numba":  the same IR printed by numba.py's NumbaPrinter, typed tapes
            (transforms/tapes.py), every function compiled with numba.njit in nopython
            mode and cached on disk (load.load_file);
- "cuda":   a scalar function of scalar arguments as CUDA device functions and a
            kernel over arrays of points (cuda.py).

assemble.py builds one generated module from the passes' output and load.py loads it.
The registry below names each target's module; a target is imported only when asked for
(numba-cuda need not be installed for the others), and adding one is a row here plus a
module defining `Printer`.
"""
from __future__ import annotations

import importlib

from ..errors import BackendError

BACKENDS = {"python": "python", "numba": "numba", "cuda": "cuda"}


def check(backend: str) -> None:
    if backend not in BACKENDS:
        raise BackendError(f"backend={backend!r}: expected one of {', '.join(map(repr, BACKENDS))}")


def module(backend: str):
    """The module of a target (imported on first use)."""
    check(backend)
    return importlib.import_module(f"{__name__}.{BACKENDS[backend]}")


def printer(backend: str):
    """The printer class of a target."""
    return module(backend).Printer
