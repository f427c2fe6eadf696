"""Reading a live function: its source text and positions, and the values of the names
it reads from outside (closure cells, globals, builtins), looked up when asked."""
from __future__ import annotations

import builtins
import inspect
import textwrap
import types

from ..errors import SourcePos, SourceUnavailableError
from ..rules import registry


def stop_gradient(x):
    """The value of `x`, through which no derivative flows (PyTorch's detach)."""
    return x


class Source:
    """A function's source text and how its positions map back to the file."""

    def __init__(self, pyfunc):
        try:
            lines, first = inspect.getsourcelines(pyfunc)
            self.file = inspect.getsourcefile(pyfunc) or inspect.getfile(pyfunc)
        except (OSError, TypeError) as exc:
            raise SourceUnavailableError(
                f"cannot read the source of {getattr(pyfunc, '__qualname__', pyfunc)!r}: {exc}") from None
        raw = "".join(lines)
        self.text = textwrap.dedent(raw)
        self.indent = len(lines[0]) - len(lines[0].lstrip())
        self.first_line = first
        self.lines = raw.splitlines()
        self.func = pyfunc.__qualname__

    def pos(self, rng) -> SourcePos:
        line = rng.start.line
        text = self.lines[line - 1] if line - 1 < len(self.lines) else ""
        return SourcePos(self.file, self.first_line + line - 1, rng.start.column + self.indent,
                         self.first_line + rng.end.line - 1, rng.end.column + self.indent,
                         self.func, text)


def resolve_nonlocal(f, n: str):
    """(found, value) of a name that is not local: closure cell, then global, then builtin."""
    if n in f.__code__.co_freevars and f.__closure__:
        cell = f.__closure__[f.__code__.co_freevars.index(n)]
        try:
            return True, cell.cell_contents
        except ValueError:
            return False, None
    if n in f.__globals__:
        return True, f.__globals__[n]
    if hasattr(builtins, n):
        return True, getattr(builtins, n)
    return False, None


def nonlocal_names(fn: ir.Function) -> set[str]:
    return getattr(fn, "nonlocals", set())


def unwrap(pyfunc):
    """The function under a functools.wraps decorator (its __wrapped__), else itself."""
    return getattr(pyfunc, "__wrapped__", None) or pyfunc


def is_user_function(obj) -> bool:
    return isinstance(obj, types.FunctionType) and obj.__name__ != "<lambda>" \
        and registry.scalar_rule(obj) is None and obj is not stop_gradient \
        and registry.runtime_rule(obj) is None
