"""The numba backend: the same IR printed by `NumbaPrinter` (every function decorated with
numba.njit, typed tapes from transforms/tapes.py) and numba's errors made positioned.

numba compiles a function on its first call, for the types of that call's arguments,
so compile errors surface there; `compile_error` turns them into an S2SGradError that
points at the user's statement the failing generated line came from.
"""
from __future__ import annotations

import re

import numpy as np

from ..errors import CompileError
from .. import ir
from .python import PREC, PythonPrinter

_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def number_type(v) -> str | None:
    """"bool", "int" or "float" for a number argument (the element type of its tapes);
    for a dict, a tuple of its values' in key order."""
    if isinstance(v, dict):
        return tuple(number_type(x) for x in v.values())
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
    return len(getattr(fn, "overloads", ()))  # (`signatures` makes a list of them)


def failed_to_compile(exc: BaseException, fn, compiled_before: int) -> bool:
    """Whether a call failed compiling, not running: numba's own errors, or anything
    raised by a first call that compiled nothing (numba's internal assertions).  Each
    variant is generated for one combination of argument types, so a function that
    compiled once runs its later calls."""
    return is_numba_error(exc) or compiled_before == compiled_count(fn) == 0


def user_code_compiles(f, args, kwargs) -> bool | None:
    """Whether numba.njit compiles the user's function itself for these arguments: True,
    False (numba refuses it), or None (not known: it raised something else, such as
    calling a helper that is not compiled)."""
    import warnings
    import numba
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # reflected lists, ...
            numba.njit(f)(*args, **kwargs)
    except Exception as exc:  # noqa: BLE001 (any failure of the user's code: not known)
        if is_numba_error(exc) and "Untyped global name" not in str(exc):
            return False
        return None
    return True


FAULT_IS_OURS = ("numba compiles this function itself, so the fault is s2sgrad's: its numba support does "
                 "not cover the code it generated for this statement (not your code); use backend='python' "
                 "for this function meanwhile.")


def compile_error(exc: BaseException, path: str, line_positions: dict, what: str,
                  user_compiles: bool | None = None) -> CompileError:
    """numba's error for the generated module at `path`, as a positioned S2SGradError;
    `user_compiles` (user_code_compiles) says whose fault it is."""
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
    if user_compiles:
        return CompileError(f"numba cannot compile the {what} that s2sgrad generated: {summary}{where}",
                            pos, FAULT_IS_OURS)
    return CompileError(f"numba cannot compile the {what}: {summary}{where}", pos)


class _Line(str):
    """A printed line that remembers the user statement it came from (for compile errors)."""
    pos = None


class NumbaPrinter(PythonPrinter):
    """Prints IR for the `numba` target: the same Python, compiled by numba.njit.

    Differences from Python: every function is decorated; reversed ranges become ranges
    with a negative step (numba has no `reversed`); typed tapes (tapes.py) are an array,
    a count and, before a for loop, a reservation of room.  Each printed line keeps the
    position of the statement it came from, so a numba compile error can point at the
    user's line.
    """

    cache = True  # off for a module holding objects passed in at load (assemble.py)

    @property
    def decorator(self) -> str:
        # NumPy's error model: 1.0 / 0.0 is inf, not a ZeroDivisionError (derivative code
        # never raises where the function does not, as on the python target)
        return f'@numba.njit(cache={self.cache}, error_model="numpy")'

    def block(self, stmts, indent):
        lines: list[str] = []
        current = None  # a generated statement belongs to the user statement above it
        for s in stmts:
            current = s.pos or current
            for line in getattr(self, "_stmt_" + type(s).__name__)(s, indent):
                if not isinstance(line, _Line):
                    line = _Line(line)
                if line.pos is None:
                    line.pos = current
                lines.append(line)
        if all(line.lstrip().startswith("#") for line in lines):  # nothing but comments
            lines.append(_Line(" " * indent + "pass"))
        return lines

    def _print_Call(self, e):
        if isinstance(e.func, ir.Lib) and (e.func.module, e.func.attr) == ("builtins", "float") \
                and len(e.args) == 1:
            return f"np.float64({self.expr(e.args[0])})", PREC["atom"]  # numba has no float(bool)
        if any(k == "dtype" and isinstance(v, ir.Lib) and (v.module, v.attr) == ("builtins", "float")
               for k, v in e.kwargs):  # numba takes NumPy's dtypes only: float is np.float64
            e = ir.Call(e.func, e.args, [(k, ir.Lib("numpy", "float64") if k == "dtype" else v)
                                         for k, v in e.kwargs], e.method, e.prop)
        if isinstance(e.func, ir.Lib) and (e.func.module, e.func.attr) == ("numpy", "linalg.norm"):
            # numba knows no ord='fro'; it is the default for matrices anyway
            fro = [a for a in e.args[1:] if isinstance(a, ir.Const) and a.value == "fro"]
            if fro:
                e = ir.Call(e.func, [a for a in e.args if a not in fro], e.kwargs, e.method, e.prop)
            if any(k == "ord" and isinstance(v, ir.Const) and v.value == "fro" for k, v in e.kwargs):
                e = ir.Call(e.func, e.args, [(k, v) for k, v in e.kwargs if k != "ord"], e.method, e.prop)
        return super()._print_Call(e)

    def function_lines(self, fn: ir.Function) -> list[str]:
        return [self.decorator] + super().function_lines(fn)

    def positions(self, fn: ir.Function) -> list:
        """The source position of each line `function(fn)` prints (None where unknown)."""
        out = []
        for line in self.function_lines(fn):  # a docstring may span lines
            out += [getattr(line, "pos", None)] * (line.count("\n") + 1)
        return out

    def _range(self, s) -> str:
        if not s.reverse and s.limit is None:
            return super()._range(s)
        args = list(s.args)
        a, b, step = (ir.Const(0), args[0], ir.Const(1)) if len(args) == 1 else \
            (args[0], args[1], args[2] if len(args) == 3 else ir.Const(1))
        A, B = self.expr(a, PREC["+"]), self.expr(b, PREC["+"])
        zero = isinstance(a, ir.Const) and a.value == 0
        if isinstance(step, ir.Const) and step.value == 1:
            stop = B
            if s.limit is not None:
                limit = self.expr(s.limit, PREC["+"])
                stop = f"min({limit}, {B})" if zero else f"min({A} + {limit}, {B})"
            if not s.reverse:
                return f"range({stop})" if zero else f"range({A}, {stop})"
            return f"range({stop} - 1, {'-1' if zero else A + ' - 1'}, -1)"
        S = self.expr(step, PREC["*"])
        trips = f"len(range({A}, {B}, {S}))"  # the first `limit` of them, for a limit
        if s.limit is not None:
            trips = f"min({self.expr(s.limit)}, {trips})"
        if not s.reverse:
            return f"range({A}, {A} + {S} * {trips}, {S})"
        return f"range({A} + {S} * ({trips} - 1), {A} - {S}, -{S})"

    # ------------------------------------------------------------------ typed tapes
    def _stmt_TapeNew(self, s, ind):
        pad = " " * ind
        if s.sized_later:
            return [f"{pad}{s.count.id} = 0"]
        made = s.room or f"np.empty(0, np.{s.dtype})"
        return [f"{pad}{s.tape.id} = {made}", f"{pad}{s.count.id} = 0"]

    def _stmt_TapeReserve(self, s, ind):
        # the check is inline: a call (even one returning its argument) costs more than
        # the loop it guards when it sits in an inner loop
        pad, extra = " " * ind, self.expr(s.extra, PREC["+"] + 1)
        if s.fresh is not None and s.room is not None:  # the lent array, made anew if too small
            return [f"{pad}{s.tape.id} = {s.room}",
                    f"{pad}if {s.tape.id}.shape[0] < {self.expr(s.extra, PREC['compare'] + 1)}:",
                    f"{pad}    {s.tape.id} = np.empty({self.expr(s.extra)}, np.{s.fresh})"]
        if s.fresh is not None:  # still the empty tape: made at its size
            return [f"{pad}{s.tape.id} = np.empty({self.expr(s.extra)}, np.{s.fresh})"]
        return [f"{pad}if {s.count.id} + {extra} > {s.tape.id}.shape[0]:",
                f"{pad}    {s.tape.id} = tape_reserve({s.tape.id}, {s.count.id} + {extra})"]

    def _stmt_TapePush(self, s, ind):
        pad = " " * ind
        lines = []
        if s.checked:
            lines += [f"{pad}if {s.count.id} == {s.tape.id}.shape[0]:",
                      f"{pad}    {s.tape.id} = tape_reserve({s.tape.id}, 2 * {s.count.id} + 16)"]
        return lines + [f"{pad}{s.tape.id}[{s.count.id}] = {self.expr(s.value)}", f"{pad}{s.count.id} += 1"]

    def _stmt_TapePop(self, s, ind):
        pad = " " * ind
        lines = [f"{pad}{s.count.id} -= 1"]
        if s.into is not None:
            lines.append(f"{pad}{self._target(s.into)} = {s.tape.id}[{s.count.id}]")
        return lines


Printer = NumbaPrinter  # the backend registry's name for this target's printer
