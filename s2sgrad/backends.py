"""Backends: where the generated code runs.

- "python": the generated module is plain Python and NumPy (codegen.PythonPrinter);
- "numba":  the same IR printed by codegen.NumbaPrinter, typed tapes (tapes.py), every
            function compiled with numba.njit in nopython mode and cached on disk
            (loader.load_file);
- "cuda":   a scalar function of scalar arguments as CUDA device functions and a
            kernel over arrays of points (cuda.py).

numba compiles a function on its first call, for the types of that call's arguments,
so compile errors surface there; `compile_error` turns them into an S2SGradError that
points at the user's statement the failing generated line came from.
"""
from __future__ import annotations

import re

import numpy as np

from .errors import CompileError

BACKENDS = ("python", "numba", "cuda")

_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def check(backend: str) -> None:
    if backend not in BACKENDS:
        raise ValueError(f"backend={backend!r}: expected one of {', '.join(map(repr, BACKENDS))}")


def number_type(v) -> str | None:
    """"bool", "int" or "float" for a number argument (the element type of its tapes)."""
    if isinstance(v, (bool, np.bool_)):
        return "bool"
    if isinstance(v, (int, np.integer)):
        return "int"
    if isinstance(v, (float, np.floating)):
        return "float"
    return None


def is_numba_error(exc: BaseException) -> bool:
    from numba.core.errors import NumbaError
    return isinstance(exc, NumbaError)


def compiled_count(fn) -> int:
    """How many signatures a numba dispatcher has compiled (or loaded from its cache)."""
    return len(getattr(fn, "signatures", ()))


def failed_to_compile(exc: BaseException, fn, compiled_before: int) -> bool:
    """Whether a call failed compiling, not running: numba's own errors, or anything
    raised by a first call that compiled nothing (numba's internal assertions).  Each
    variant is generated for one combination of argument types, so a function that
    compiled once runs its later calls."""
    return is_numba_error(exc) or compiled_before == compiled_count(fn) == 0


def compile_error(exc: BaseException, path: str, line_positions: dict, what: str) -> CompileError:
    """numba's error for the generated module at `path`, as a positioned S2SGradError."""
    text = _ANSI.sub("", str(exc))
    name = path.rsplit("/", 1)[-1]
    lines = [int(m.group(2)) for m in re.finditer(r'File "([^"]+)", line (\d+)', text)
             if m.group(1).rsplit("/", 1)[-1] == name]
    lines += [int(m.group(2)) for m in re.finditer(r"at (\S+) \((\d+)\)", text)
              if m.group(1).rsplit("/", 1)[-1] == name]
    pos, generated_line = None, None
    for line in lines:
        generated_line = line
        for k in range(line, 0, -1):  # a line printed for no statement of its own: the one above
            pos = line_positions.get(k)
            if pos is not None:
                break
        if pos is not None:
            break
    told = [ln.strip() for ln in text.splitlines()
            if ln.strip() and not ln.startswith("Failed in") and "pipeline" not in ln]
    summary = " ".join(told[:2]) if told and told[0].endswith(":") else (told[0] if told else "")
    if not is_numba_error(exc):  # numba failed inside, saying nothing of our code
        summary = f"numba failed inside ({type(exc).__name__}{': ' + summary if summary else ''})"
    where = f" (generated {path}, line {generated_line})" if generated_line else f" (generated {path})"
    return CompileError(f"numba cannot compile the {what}: {summary}{where}", pos)
