"""The four ways of differentiating a function, side by side, at one point.

    report = s2sgrad.compare(f, 1.5, 2.0, wrt=(0, 1))
    print(report)          # a table per input: value, error against sympy, time a call
    report.plot()          # the finite-difference error against h (the V), AD as a line

For each input in wrt: sympy's closed form of the derivative (symbolic.py), evaluated to
30 digits as the reference; reverse mode (s2sgrad.grad, its generated code); forward
mode (s2sgrad.jvp, one unit tangent per input); central finite differences
(f(x + h) - f(x - h)) / 2h with h = cbrt(eps) max(1, |x|), the step that balances
truncation error (h**2) against round-off (eps / h).  Each method's error is its
distance from the reference.  Sizes: sympy's count_ops of the closed form as diff gives
it, after simplify, and after simplify and cse; beside them the number of statements of
the adjoint, which grows with the function's statements, not with its closed form.

Inputs in wrt are numbers; integer arguments not in wrt (a loop's length) are held
fixed in the closed form, float ones are substituted into it.  Where the function has no
closed form (a while loop, array code) the report says why and shows the other three,
with their errors against reverse mode.
"""
from __future__ import annotations

import ast
import html
import inspect
import math
import textwrap
import time
from dataclasses import dataclass, field

import numpy as np
import sympy as sp

from .. import api
from ..arguments import normalize_wrt
from ..errors import ArgumentError, ExpressionSwellError, NotClosedFormError
from . import html as html_cells
from . import symbolic

DIGITS = 30  # the reference value's precision


@dataclass
class Method:
    """One way of computing one derivative."""
    name: str
    value: float
    seconds: float | None = None  # one call's time
    note: str = ""
    error: float | None = None    # |value - reference|


@dataclass
class InputReport:
    """Everything compare found for one input of wrt."""
    name: str
    at: float
    methods: list[Method]
    step: float                          # the finite-difference h
    closed_form: sp.Expr | None = None   # simplified, or as diff gave it when too large
    reference: str = "symbolic"          # which method the errors are measured against
    why_not_symbolic: str = ""
    sizes: dict = field(default_factory=dict)  # count_ops: "diff", "simplify", "cse"

    def method(self, name: str) -> Method:
        return next(m for m in self.methods if m.name == name)


class Comparison:
    """The report: `str()` is a terminal table, `_repr_html_` a notebook's, `.plot()` the V."""

    def __init__(self, f, args: tuple, inputs: list[InputReport], adjoint_source: str,
                 adjoint_statements: int, function_statements: int, function_seconds: float):
        self.f, self.args = f, args
        self.inputs = inputs
        self.adjoint_source = adjoint_source
        self.adjoint_statements = adjoint_statements
        self.function_statements = function_statements
        self.function_seconds = function_seconds

    def __getitem__(self, name: str) -> InputReport:
        return next(r for r in self.inputs if r.name == name)

    # ------------------------------------------------------------------ text
    def header(self) -> str:
        at = ", ".join(f"{p}={a!r}" for p, a in zip(inspect.signature(self.f).parameters, self.args))
        return (f"compare {self.f.__name__}({at}); {self.f.__name__} itself takes "
                f"{_duration(self.function_seconds)} a call")

    def rows(self, r: InputReport) -> list[list[str]]:
        out = []
        for m in r.methods:
            if m.error is None:
                error = "(reference)" if m.name == r.reference else "-"
            else:
                error = f"{m.error:.1e}"
            out.append([m.name + (f" ({m.note})" if m.note else ""), repr(m.value), error,
                        _duration(m.seconds) if m.seconds is not None else "-"])
        return out

    def sizes_line(self, r: InputReport) -> str:
        if r.sizes:
            closed = (f"closed form {r.sizes['diff']} ops as diff gives it, {r.sizes['simplify']} "
                      f"simplified, {r.sizes['cse']} after cse")
        else:
            closed = f"no closed form ({r.why_not_symbolic})"
        return (f"sizes: {closed}; adjoint {self.adjoint_statements} statements "
                f"({self.function_statements} in {self.f.__name__})")

    def __str__(self) -> str:
        header = ["method", "value", "error", "time a call"]
        lines = [self.header(), ""]
        for r in self.inputs:
            lines.append(f"d {self.f.__name__} / d {r.name} at {r.name}={r.at!r}"
                         + (f":  {_shortened(r.closed_form)}" if r.closed_form is not None else ""))
            rows = [header] + self.rows(r)
            widths = [max(len(row[k]) for row in rows) for k in range(len(header))]
            rule = "  ".join("-" * w for w in widths)
            for i, row in enumerate(rows):
                lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())
                if i == 0:
                    lines.append(rule)
            lines += [f"error: |value - {r.reference}|", self.sizes_line(r), ""]
        return "\n".join(lines).rstrip() + "\n"

    __repr__ = __str__

    def _repr_html_(self) -> str:
        parts = [f"<p>{html.escape(self.header())}</p>"]
        for r in self.inputs:
            caption = f"d {self.f.__name__} / d {r.name} at {r.name}={r.at!r}"
            if r.closed_form is not None:
                caption += f" = {_shortened(r.closed_form, 400)}"
            parts.append(html_cells.table(["method", "value", f"error vs {r.reference}", "time a call"],
                                          self.rows(r), caption))
            parts.append(f"<p>{html.escape(self.sizes_line(r))}</p>")
        parts.append("<details><summary>generated adjoint</summary>"
                     f"{html_cells.code_html(self.adjoint_source)}</details>")
        return "<div>" + "".join(parts) + "</div>"

    # ------------------------------------------------------------------ the V
    def error_against_step(self, name: str, steps=None):
        """(steps h, |central difference(h) - reference|) for one input."""
        r = self[name]
        steps = np.logspace(-16, 0, 49) if steps is None else np.asarray(steps, dtype=float)
        index = list(inspect.signature(self.f).parameters).index(name)
        ref = r.method(r.reference).value
        errors = np.array([abs(_central(self.f, self.args, index, h) - ref) for h in steps])
        return steps, errors

    def plot(self, name: str | None = None, ax=None, path: str | None = None):
        """The finite-difference error against h on log axes, with the error of reverse and
        forward mode as lines; saved to `path` if given.  Needs matplotlib (the `plot` extra)."""
        try:
            import matplotlib
            if ax is None and path is not None:
                matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError:
            raise ImportError("Comparison.plot needs matplotlib: pip install 's2sgrad[plot]'") from None
        r = self[name] if name is not None else self.inputs[0]
        steps, errors = self.error_against_step(r.name)
        if ax is None:
            _, ax = plt.subplots(figsize=(6.4, 4.0))
        floor = np.finfo(float).eps * max(abs(r.method(r.reference).value), 1.0) / 10  # log axes: no zeros
        ax.loglog(steps, np.maximum(errors, floor), "o-", ms=3, label="central finite difference")
        ax.axvline(r.step, color="gray", ls=":", label=f"h used: {r.step:.1e}")
        for m, style in (("reverse mode", "--"), ("forward mode", "-.")):
            if r.method(m).error is not None:
                ax.axhline(max(r.method(m).error, floor), ls=style, color="C1" if m[0] == "r" else "C2",
                           label=f"{m}: {r.method(m).error:.1e}")
        ax.set_xlabel("step h")
        ax.set_ylabel(f"|error| against {r.reference}")
        ax.set_title(f"d {self.f.__name__} / d {r.name} at {r.name}={r.at!r}")
        ax.legend(fontsize=8)
        if path is not None:
            ax.figure.tight_layout()
            ax.figure.savefig(path, dpi=110)
        return ax.figure


def compare(f, *args, wrt=0, simplify_limit: int = 400) -> Comparison:
    """Symbolic, reverse mode, forward mode and central finite differences of f at args,
    for each input in wrt (numbers).  `simplify_limit`: closed forms with more count_ops
    than this are not simplified (sympy.simplify would take minutes)."""
    names, _ = normalize_wrt(f, wrt)
    params = list(inspect.signature(f).parameters)
    if len(args) != len(params):
        raise ArgumentError(f"compare({f.__name__}, ...) takes one value per parameter {params}; "
                            f"got {len(args)}")
    for name in names:
        value = args[params.index(name)]
        if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
            raise ArgumentError(f"compare differentiates with respect to numbers; {name} is "
                                f"{type(value).__name__}", hint="use s2sgrad.grad and "
                                "s2sgrad.testing.check_grads for array inputs.")
    args = tuple(float(a) if p in names else a for p, a in zip(params, args))
    grads, reverse_seconds, source = _reverse(f, args, names)
    forward = _forward(f, args, names)
    symbolic_part = _symbolic(f, args, names, params, simplify_limit)
    inputs = []
    for k, name in enumerate(names):
        index = params.index(name)
        step = float(np.cbrt(np.finfo(float).eps)) * max(1.0, abs(args[index]))
        fd_seconds = _seconds(lambda: _central(f, args, index, step))
        methods = [Method("reverse mode", grads[k], reverse_seconds, "all inputs in one call"),
                   Method("forward mode", forward[k][0], forward[k][1]),
                   Method("central difference", _central(f, args, index, step), fd_seconds, f"h={step:.1e}")]
        report = InputReport(name, args[index], methods, step)
        _with_reference(report, symbolic_part.get(name), symbolic_part.get("why", ""))
        inputs.append(report)
    return Comparison(f, args, inputs, source, _statements(source, f"grad_{f.__name__}"),
                      _statements(inspect.getsource(f), f.__name__), _seconds(lambda: f(*args)))


def _with_reference(report: InputReport, found, why: str):
    """Errors against the symbolic value where there is one, else against reverse mode."""
    if found is not None:
        exact, value, seconds, closed, sizes = found
        report.methods.insert(0, Method("symbolic", value, seconds, "sympy, evaluated"))
        report.closed_form, report.sizes = closed, sizes
        reference = exact
    else:
        report.reference, report.why_not_symbolic = "reverse mode", why
        reference = sp.Float(report.method("reverse mode").value, DIGITS)
    for m in report.methods:
        if m.name != report.reference:
            m.error = float(abs(sp.Float(m.value, DIGITS) - reference))


def _reverse(f, args, names):
    g = api.grad(f, wrt=tuple(names))
    grads = tuple(float(v) for v in g(*args))
    return grads, _seconds(lambda: g(*args)), g.source


def _forward(f, args, names):
    t = api.jvp(f, wrt=tuple(names))
    out = []
    for k in range(len(names)):
        tangents = [1.0 if j == k else 0.0 for j in range(len(names))]
        out.append((float(t(*args, *tangents)[1]), _seconds(lambda: t(*args, *tangents))))
    return out


def _symbolic(f, args, names, params, simplify_limit):
    """name -> (30-digit value, float value, seconds a call, closed form, sizes), or "why"."""
    fixed = {p: a for p, a in zip(params, args)
             if p not in names and isinstance(a, (int, np.integer)) and not isinstance(a, bool)}
    try:
        form = symbolic.closed_form(f, fixed=fixed)
    except (NotClosedFormError, ExpressionSwellError) as exc:
        return {"why": exc.message}
    point = {form.symbols[p]: sp.Rational(float(a)) for p, a in zip(params, args) if p in form.symbols}
    out = {}
    for name in names:
        d = symbolic.derivative(form, name, simplify=False)
        raw = sp.count_ops(d)
        simple = sp.simplify(d) if raw <= simplify_limit else d
        replacements, reduced = sp.cse(simple)
        shared = sum(sp.count_ops(e) for _, e in replacements) + sp.count_ops(reduced)
        exact = sp.N(simple.subs(point), DIGITS)
        evaluate = sp.lambdify(list(form.symbols.values()), simple, "math")
        values = [float(point[s]) for s in form.symbols.values()]
        sizes = {"diff": int(raw), "simplify": int(sp.count_ops(simple)) if raw <= simplify_limit else "not",
                 "cse": int(shared)}
        out[name] = (exact, float(exact), _seconds(lambda: evaluate(*values)), simple, sizes)
    return out


def _central(f, args, index, h):
    up, down = list(args), list(args)
    up[index] += h
    down[index] -= h
    return (float(f(*up)) - float(f(*down))) / (2 * h)


def _seconds(call, budget: float = 0.02) -> float:
    """One call's time: the best of three rounds of as many calls as fill `budget`."""
    number, start = 1, time.perf_counter()
    call()
    once = max(time.perf_counter() - start, 1e-7)
    number = max(1, min(100_000, int(budget / 3 / once)))
    best = math.inf
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(number):
            call()
        best = min(best, (time.perf_counter() - start) / number)
    return best


def _statements(source: str, name: str) -> int:
    """The statements of the def `name` in `source`, nested ones counted, docstring not."""
    tree = ast.parse(textwrap.dedent(source))
    fn = next(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == name)
    body = fn.body[1:] if ast.get_docstring(fn) is not None else fn.body
    return sum(1 for top in body for n in ast.walk(top) if isinstance(n, ast.stmt))


def _shortened(e, width: int = 100) -> str:
    """A closed form on one line, cut where it would run past `width` (see .closed_form)."""
    text = str(e)
    return text if len(text) <= width else f"{text[:width]}... ({len(text)} characters)"


def _duration(seconds: float) -> str:
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"
