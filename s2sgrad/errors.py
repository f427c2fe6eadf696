"""Errors a user can cause, each pointing at the construct in the user's source.

Every error raised by s2sgrad is an S2SGradError subclass.  When the failing construct
is known, the message shows ``file:line:col``, the source line and a caret under the
construct, then a hint saying what the user can do about it.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SourcePos:
    """Where an IR node came from: 1-based line, 0-based column, as Python reports them."""

    file: str
    line: int
    col: int
    end_line: int
    end_col: int
    func: str
    text: str  # the whole source line, without its newline

    def render(self) -> str:
        """`at file:line:col, in func`, the line, and a caret under the construct."""
        indent = len(self.text) - len(self.text.lstrip())
        shown = self.text.strip()
        start = max(self.col - indent, 0)
        # a construct spanning lines is underlined to the end of its first line's code
        stop = self.end_col - indent if self.end_line == self.line else len(shown.split("#")[0].rstrip())
        width = max(stop - start, 1)
        caret = " " * start + "^" * width
        return (f"  at {self.file}:{self.line}:{self.col + 1}, in {self.func}\n"
                f"    {shown}\n"
                f"    {caret}")


class S2SGradError(Exception):
    """Base class of every error s2sgrad raises for a problem in user code or usage."""

    default_hint = ""

    def __init__(self, message: str, pos: SourcePos | None = None, hint: str | None = None):
        self.message = message
        self.pos = pos
        self.hint = self.default_hint if hint is None else hint
        super().__init__(self._format())

    def _format(self) -> str:
        parts = [self.message]
        if self.pos is not None:
            parts.append(self.pos.render())
        if self.hint:
            parts.append(f"  hint: {self.hint}")
        return "\n".join(parts)


class SourceUnavailableError(S2SGradError):
    """The function's source cannot be read (a builtin, a C extension, a lambda in a REPL)."""

    default_hint = "s2sgrad differentiates Python source; define the function in a .py file."


class UnsupportedSyntaxError(S2SGradError):
    """A construct s2sgrad does not differentiate (yield, async, class, global writes...)."""

    default_hint = ("rewrite this part with the supported subset (assignments, if, for, "
                    "while, calls), move it out of the differentiated function, or wrap "
                    "a constant value in s2sgrad.stop_gradient(...).")


class UnsupportedCallError(S2SGradError):
    """An active call to a function that has no derivative rule and no Python source."""

    default_hint = ("s2sgrad has no derivative rule for it: give it one with "
                    "s2sgrad.custom_derivative, write it as a Python function s2sgrad can "
                    "read, or wrap the call in s2sgrad.stop_gradient(...) if its result "
                    "should be a constant.")


class RankUnknownError(UnsupportedCallError):
    """A primitive whose rule depends on an argument's rank, where the rank is not known
    (np.linalg.norm(x, 2): a vector's 2-norm, a matrix's largest singular value)."""


class CallValueNeededError(RankUnknownError):
    """Code that calls a parameter, or reads its attributes: generated for the function
    or object a call passes, so it waits for the first call."""


class RecursiveCallError(S2SGradError):
    """A function that calls itself, directly or through other functions."""

    default_hint = "rewrite the recursion as a loop."


class UndefinedNameError(S2SGradError):
    """A name the function reads that is neither local, global, a closure cell nor a builtin."""

    default_hint = "define the name before calling grad, or pass it as an argument."


class NonScalarOutputError(S2SGradError):
    """grad asked of a function whose output is not a scalar."""

    default_hint = ("grad can only be taken of a scalar output; for a tuple or list output "
                    "use s2sgrad.vjp(f) and pass a cotangent of the output's shape.")


class DictKeyError(S2SGradError):
    """A dict read with a constant key it does not have (Python would raise KeyError)."""


class WrtError(S2SGradError):
    """A `wrt=` argument that names no parameter of the function."""

    default_hint = "name a parameter of the function, by name or by position."


class OptionError(S2SGradError, ValueError):
    """An option of an s2sgrad call with a value it does not take (mode=, which=)."""


class BackendError(OptionError):
    """A `backend=` that names no backend, or an option the backend does not take."""

    default_hint = "use backend='python', 'numba' or 'cuda'."


class CustomRuleError(S2SGradError, ValueError):
    """A custom_derivative's rule that returned the wrong number of cotangents, or one of
    another shape than its argument."""

    default_hint = ("a reverse rule returns one cotangent per parameter of the function, "
                    "each of its argument's shape (the bare value for one parameter).")


class ArgumentError(S2SGradError, TypeError):
    """A derivative called with arguments that do not bind to the function's parameters
    (plus the cotangent or tangents its kind takes), or a callable s2sgrad cannot take."""


class CompileError(S2SGradError):
    """Generated code that a compiled backend (numba, CUDA) cannot compile."""

    default_hint = ("this construct is outside what numba compiles in nopython mode: use "
                    "backend='python' for this function, or rewrite the statement with "
                    "numbers, NumPy arrays and the math module.")


class TapeOverflowError(S2SGradError):
    """A thread pushed more values onto a tape than tape_bound (or the most an automatic
    size gives) leaves room for."""

    default_hint = "call grad again with a larger tape_bound."


class CudaSubsetError(S2SGradError):
    """A construct or argument outside what the cuda backend handles: numbers only."""

    default_hint = ("backend='cuda' takes functions of numbers (float arithmetic, the math "
                    "module, if/for/while, helper functions of numbers); use backend='python' "
                    "or 'numba' for arrays and lists.")


class NotClosedFormError(S2SGradError):
    """Code s2sgrad.symbolic cannot write as one closed-form expression: a while loop, a
    range whose length is known only at run time, array primitives, calls without source."""

    default_hint = ("symbolic() needs code whose every value is one formula of the "
                    "parameters; s2sgrad.grad(f) differentiates this code as it is.")


class ExpressionSwellError(S2SGradError):
    """A closed form that grew past symbolic()'s size limit: expression swell, the reason
    automatic differentiation exists.  `.size` is the size it had reached."""

    default_hint = ("pass a larger max_size= to see it anyway, or compare its size with the "
                    "adjoint's (s2sgrad.compare): the adjoint grows by a constant a statement.")

    def __init__(self, message: str, size: int, pos: SourcePos | None = None, hint: str | None = None):
        self.size = size
        super().__init__(message, pos, hint)


class GraphvizError(S2SGradError):
    """Writing a graph as SVG or PNG without Graphviz's `dot` program installed."""

    default_hint = ("install Graphviz (Debian/Ubuntu: apt-get install graphviz; macOS: brew install "
                    "graphviz), or write the DOT text to a .dot file and render it elsewhere.")
