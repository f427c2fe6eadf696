"""Reading a live function: its source text and positions, and the values of the names
it reads from outside (closure cells, globals, builtins), looked up when asked."""
from __future__ import annotations

import builtins
import functools
import inspect
import textwrap
import types

from .. import ir
from ..errors import SourcePos, SourceUnavailableError
from ..rules import registry


def stop_gradient(x):
    """The value of `x`, through which no derivative flows (PyTorch's detach)."""
    return x


class Source:
    """A function's source text and how its positions map back to the file."""

    def __init__(self, pyfunc):
        # the function's own code: inspect would follow a functools.wraps decorator's
        # __wrapped__ to the function it decorates, whose meaning may differ
        code = getattr(pyfunc, "__code__", pyfunc)
        try:
            lines, first = inspect.getsourcelines(code)
            self.file = inspect.getsourcefile(code) or inspect.getfile(code)
        except (OSError, TypeError) as exc:
            raise SourceUnavailableError(
                f"cannot read the source of {getattr(pyfunc, '__qualname__', pyfunc)!r}: {exc}") from None
        raw = "".join(lines)
        self.text = textwrap.dedent(raw)
        self.indent = len(lines[0]) - len(lines[0].lstrip())
        self.first_line = first
        self.lines = raw.splitlines()
        self.func = pyfunc.__qualname__

    def first_line_pos(self) -> SourcePos:
        """The position of the whole first line (where no finer node is known)."""
        text = self.lines[0] if self.lines else ""
        return SourcePos(self.file, self.first_line, self.indent, self.first_line, len(text),
                         self.func, text)

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
    """The function a functools.cache / lru_cache wrapper calls, which computes the same;
    anything else is itself.  A def decorated with functools.wraps is the wrapper, which
    may compute something else (10 * f(x)): it is differentiated as its own code."""
    if isinstance(pyfunc, functools._lru_cache_wrapper):  # noqa: SLF001 - functools' own type
        return pyfunc.__wrapped__
    return pyfunc


def is_user_function(obj) -> bool:
    return isinstance(obj, types.FunctionType) \
        and registry.scalar_rule(obj) is None and obj is not stop_gradient \
        and registry.runtime_rule(obj) is None
