"""Random small Python/NumPy programs for s2sgrad's differential fuzzer (issue #12).

`generate(seed, index, config)` writes one module: a function `f` and zero to two helpers
it calls.  Every variable's shape is tracked while the program is written, so what comes
out runs by construction (the fuzzer still runs it before judging, and discards the rare
program that does not).  Each construct is a weighted choice in `Config` (a weight of 0
switches it off), and each program records the constructs it used (`Program.features`),
so a run can say which constructs are refused or go wrong.

What a program may contain (the weights' keys):

* parameters: arrays of random small shapes (size-1 axes, 0-d arrays), numbers, an int
  trip count `n`, a parameter with a default; a random subset of the parameters as wrt,
  the others still used and reassigned inside;
* expressions: `+ - * /` with broadcasting, element-wise math (sin, cos, tanh, arctan,
  exp, log of a positive, sqrt of a positive, `**` with constant and variable exponents,
  square, abs, maximum/minimum, clip, where), reductions (sum/mean/max/min/prod, as
  functions and methods, over everything, an axis, a tuple of axes, keepdims), matmul /
  dot / np.matmul of compatible shapes, transposes, indexing and slicing (also by a loop
  counter), reshape, np.full / ones * a, scalar `a if c else b`, `math.*` on numbers,
  calls of the helpers (keyword arguments, defaults, tuple results);
* statements: new variables, reassignments (of parameters too), augmented assignments
  (`x += ...` on a parameter array included), copies written into by element, slice,
  column, boolean mask, repeated integer indices and `y[:] = ...`, `for` loops over
  `range(n)` / a literal / `len(x)` (nested too, with element writes by the counter),
  `if`/`elif`/`else` on values and on `and`/`or`/`not` conditions (helpers called in
  them), bounded `while` loops, `break`, early `return`, lists built by `append` and read
  back by index or iteration, tuple unpacking from a helper, swaps, and a loop counter
  reusing a name bound before;
* issue 13: list comprehensions (filters, enumerate/zip targets) and `sum(... for ...)`,
  `sum(xs)` / `sum(xs, start)`, `for i, v in enumerate(...)`, `for a, b in zip(...)`, a
  list of pairs `for U, c in pairs` (inside enumerate too), lists joined with `+`,
  lambdas and defs in f's body called there (reading f's numbers as closures), a helper
  given one of them (`apply_fn(g, x)`), a dict parameter `p` read by constant key
  (`p["W"]`, `p.get("b", 0.0)`, in wrt too) and passed to helpers whole or as `**p`,
  dict literals built in the body (`{**p, "u": ...}`), a helper with `**kw`, an object
  parameter `obj` (fields and an `act` method; never in wrt), a method differentiated
  bound to an object (`grad(Model(A, s).f)`), `a = b = e`, `del v`, `import numpy as np`
  at the top of f, and np.roll / triu / tril / sort / diagonal / mod / linspace / arange
  and scipy.special (expit, erf, gammaln, xlogy, xlog1py, log_ndtr).

Inputs are drawn separately (`draw_inputs`), away from kinks by the judge's instrumented
run; values are kept moderate by construction (contractions in loops, bounded factors).
"""
from __future__ import annotations

import dataclasses
import math
import random
import re

import numpy as np

# ----------------------------------------------------------------------------- weights
# Relative weights of each kind of statement, expression, write, condition and unary
# function; probabilities of the parameter options.  A weight of 0 turns a construct off.
STATEMENTS = {
    "assign": 3.0, "reassign": 1.6, "aug": 1.2, "aug_param": 0.1, "copy_write": 1.4,
    "write": 0.8, "for": 1.3, "if": 1.2, "while": 0.5, "list": 0.6, "tuple_call": 0.6,
    "swap": 0.15, "break": 0.25, "early_return": 0.25, "counter_reuse": 0.2,
    # issue 13: comprehensions, sum(...) of a generator, enumerate/zip/pair loops, lists
    # joined with +, local functions, dict literals, a = b = e, del
    "comprehension": 0.35, "gen_sum": 0.25, "enumerate": 0.3, "zip": 0.25, "pairs": 0.15,
    "list_concat": 0.25, "lambda": 0.3, "local_def": 0.2, "dict_literal": 0.2,
    "chained": 0.15, "del": 0.1,
}
EXPRESSIONS = {
    "leaf": 2.0, "binop": 3.0, "div": 0.5, "unary": 2.6, "maximum": 0.5, "clip": 0.2,
    "where": 0.4, "reduce": 1.0, "reduce_axis": 0.9, "reduce_keepdims": 0.4, "matmul": 0.7,
    "transpose": 0.3, "index": 0.9, "slice": 0.5, "newaxis": 0.2, "reshape": 0.15,
    "full": 0.12, "helper": 0.7, "ternary": 0.2, "math": 0.3,
    # issue 13: local functions and methods called, a helper given a function, helpers
    # taking the dict parameter or **kwargs, lists read back, and the new rules
    "local_call": 0.8, "fn_arg": 0.3, "method_call": 0.6, "dict_helper": 0.5,
    "kwargs_helper": 0.2, "list_read": 0.5, "roll": 0.15, "triu": 0.1, "sort": 0.1,
    "diagonal": 0.1, "mod": 0.08, "linspace": 0.1, "arange": 0.08, "special": 0.2,
}
UNARY = {
    "sin": 1.0, "cos": 1.0, "tanh": 1.0, "arctan": 0.3, "exp": 0.7, "log": 0.7,
    "sqrt": 0.6, "pow": 0.8, "varpow": 0.25, "square": 0.3, "abs": 0.5, "neg": 0.3,
}
REDUCTIONS = {"sum": 3.0, "mean": 1.5, "max": 1.0, "min": 0.5, "prod": 0.5}
MATMUL = {"@": 2.0, "dot": 1.0, "matmul": 1.0}
WRITES = {
    "index": 1.0, "aug_index": 0.8, "slice": 0.8, "column": 0.7, "mask": 0.4,
    "fancy": 0.3, "full_slice": 0.25, "loop_index": 0.8,
}
CONDITIONS = {"sum": 1.0, "scalar": 1.0, "max": 0.4, "andor": 0.6, "not": 0.15,
              "helper": 0.35, "int": 0.4, "any": 0.15}
OPTIONS = {
    "n_params_max": 4,        # array/number parameters (an int n may come on top)
    "p_array": 0.7,           # a parameter is an array (else a number) ...
    "p_zero_d": 0.08,         # ... or a 0-d array
    "p_size1": 0.25,          # an axis of a drawn shape has size 1
    "p_rank3": 0.05,          # an array parameter of rank 3
    "p_int_param": 0.45,      # f takes a trip count n
    "p_default_param": 0.15,  # f has a parameter with a default (scale=0.5)
    "p_partial_wrt": 0.5,     # wrt is a proper subset of the differentiable parameters
    "p_reassign_inactive": 0.7,  # a parameter not in wrt is reassigned inside
    "p_kw_call": 0.15,        # the derivative (and f) is called with a keyword argument
    "p_builtin_abs": 0.3,     # abs(e) rather than np.abs(e)
    "p_helpers": 0.45,        # per helper slot (two slots)
    "p_tuple_helper": 0.5,
    "p_array_output": 0.22,
    "p_tuple_output": 0.05,
    "statements_min": 2,
    "statements_max": 7,
    "max_depth": 2,           # nesting of compound statements
    "p_dict_param": 0.15,     # f takes a dict of parameters p = {"W": ..., "b": ..., "c": ...}
    "p_object_param": 0.12,   # f takes an object obj (never in wrt) whose fields it reads
    "p_method_target": 0.06,  # what is differentiated is a method, grad(Model(...).f)
    "p_local_import": 0.08,   # f's body starts with `import numpy as np` / `import math`
}

OBJECT_CLASS = "Cfg"     # the class of an object parameter (fields A, s; method act)
METHOD_CLASS = "Model"   # the class whose method f is differentiated (fields A, s)
APPLY = "apply_fn"       # the helper taking a function argument
SPECIAL = "sc"           # scipy.special, imported as this name when used


@dataclasses.dataclass
class Config:
    statements: dict = dataclasses.field(default_factory=lambda: dict(STATEMENTS))
    expressions: dict = dataclasses.field(default_factory=lambda: dict(EXPRESSIONS))
    unary: dict = dataclasses.field(default_factory=lambda: dict(UNARY))
    reductions: dict = dataclasses.field(default_factory=lambda: dict(REDUCTIONS))
    writes: dict = dataclasses.field(default_factory=lambda: dict(WRITES))
    conditions: dict = dataclasses.field(default_factory=lambda: dict(CONDITIONS))
    options: dict = dataclasses.field(default_factory=lambda: dict(OPTIONS))
    matmul: dict = dataclasses.field(default_factory=lambda: dict(MATMUL))

    def for_numba(self) -> "Config":
        """These weights without what numba's NumPy lacks (axis= on most reductions,
        keepdims, clip of numbers, np.matmul, math of 0-d arrays, lists as indices, ...),
        for the programs also judged on backend="numba": numba should compile most."""
        return self.override(
            "expressions.reduce_axis=0,expressions.reduce_keepdims=0,expressions.clip=0,"
            "expressions.math=0,expressions.newaxis=0,expressions.reshape=0,matmul.matmul=0,"
            "matmul.dot=0,writes.fancy=0,options.p_zero_d=0,options.p_builtin_abs=0,"
            "conditions.any=0,options.p_dict_param=0,options.p_object_param=0,"
            "options.p_method_target=0,expressions.fn_arg=0,expressions.method_call=0,"
            "expressions.dict_helper=0,expressions.kwargs_helper=0,expressions.special=0,"
            "expressions.sort=0,statements.dict_literal=0")

    def override(self, spec: str) -> "Config":
        """`"statements.while=0,options.p_array=1"`: a copy with these entries changed."""
        out = dataclasses.replace(self, **{f.name: dict(getattr(self, f.name))
                                           for f in dataclasses.fields(self)})
        for item in filter(None, (s.strip() for s in spec.split(","))):
            key, _, value = item.partition("=")
            table, _, name = key.partition(".")
            d = getattr(out, table)
            if name not in d:
                raise KeyError(f"no weight {key!r}; known: {', '.join(sorted(d))}")
            d[name] = type(d[name])(float(value)) if isinstance(d[name], (int, float)) else value
        return out


@dataclasses.dataclass
class Param:
    name: str
    kind: str            # "array" | "float" | "zero_d" | "int" | "default" | "dict" | "object"
    shape: tuple | None  # arrays: the shape; else None
    entries: tuple = ()  # dicts and objects: ((key or field, shape or None), ...)


@dataclasses.dataclass
class Program:
    """One generated module and how f is called and differentiated."""

    seed: int
    index: int
    source: str
    params: list          # [Param], in f's order
    wrt: tuple            # names of the differentiated parameters, in wrt's order
    wrt_form: str         # "name" | "pos" | "tuple"  (how wrt= is written)
    kw: tuple = ()        # parameters passed by keyword
    omitted: tuple = ()   # parameters left at their defaults
    args: dict | None = None  # name -> value, set by the judge's input draw
    features: frozenset = frozenset()
    numba: bool = False   # also judged on backend="numba"
    method: bool = False  # f is a method of METHOD_CLASS, differentiated bound to an object
    self_param: Param | None = None  # that object's fields (args["self"] holds their values)

    def wrt_spec(self):
        names = [p.name for p in self.params]
        if self.wrt_form == "name" and len(self.wrt) == 1:
            return self.wrt[0]
        if self.wrt_form == "pos" and len(self.wrt) == 1:
            return names.index(self.wrt[0])
        # a tuple, of names and positions mixed (deterministically by position parity)
        return tuple(names.index(w) if names.index(w) % 2 else w for w in self.wrt)

    def call_parts(self, values: dict | None = None):
        """(positional, keyword) arguments of a call of f at `values` (default: args)."""
        values = self.args if values is None else values
        pos, kw = [], {}
        for p in self.params:
            if p.name in self.omitted:
                continue
            if p.name in self.kw:
                kw[p.name] = values[p.name]
            else:
                pos.append(values[p.name])
        return pos, kw

    def replace(self, **changes) -> "Program":
        return dataclasses.replace(self, **changes)


# ----------------------------------------------------------------------------- shapes
def bshape(a, b):
    """The broadcast of two shapes (None: a number or 0-d); False if they do not broadcast."""
    if a is None:
        return b
    if b is None:
        return a
    try:
        return tuple(np.broadcast_shapes(a, b))
    except ValueError:
        return False


def fits(sub, shape) -> bool:
    """sub broadcasts to exactly shape."""
    return bshape(sub, shape) == shape


def fmt_shape(shape) -> str:
    return f"({shape[0]},)" if len(shape) == 1 else "(" + ", ".join(map(str, shape)) + ")"


def drop_axis(shape, k):
    out = shape[:k] + shape[k + 1:]
    return out or None


# what a helper's or local function's body (operands of unknown shape) does not use
ELEMENTWISE_OFF = {"math", "ternary", "local_call", "fn_arg", "method_call", "dict_helper",
                   "kwargs_helper", "list_read"}

CONSTANTS = ["0.5", "1.5", "0.3", "-0.7", "2.0", "0.25", "1.2", "-0.4"]


VIEW_SUFFIX = r"(\[.*\]|\.T|\.reshape\(.*\)|\.ravel\(\))?"
VIEW = r"\w+" + VIEW_SUFFIX  # a name, or a view of one


class Var:
    """kind: "num" | "arr" | "int" | "list" (shape: its elements'; bound: its largest
    length; length: its length where known) | "fn" (a local function: arity, closure)."""
    __slots__ = ("name", "kind", "shape", "fresh", "param", "bound", "readonly", "alt",
                 "length", "arity", "closure")

    def __init__(self, name, kind, shape=None, fresh=True, param=False, bound=None,
                 readonly=False, alt=None, length=None, arity=1, closure=False):
        self.name, self.kind, self.shape = name, kind, shape
        self.fresh, self.param, self.bound = fresh, param, bound  # bound: ints lie in [0, bound)
        # readonly: a dict entry, object field or loop item: read, never assigned or written
        self.readonly, self.alt = readonly, alt  # alt: another spelling (p.get("b", 0.0))
        self.length, self.arity, self.closure = length, arity, closure


class NoWay(Exception):
    """A production that cannot make the requested shape from what is in scope."""


@dataclasses.dataclass
class Helper:
    name: str
    tuple_out: bool
    has_k: bool
    lines: list


class _Gen:
    def __init__(self, rng: random.Random, config: Config):
        self.rng, self.c, self.o = rng, config, config.options
        self.env: dict[str, Var] = {}
        self.features: set[str] = set()
        self.helpers: list[Helper] = []
        self.counter = 0
        self.loop_depth = 0
        self.output = "scalar"
        self.out_shape = None
        self.elementwise = False  # inside a helper: operands of unknown shape
        self.receivers: list[str] = []   # objects whose `act` method f may call
        self.dicts: list[Param] = []      # dict parameters
        self.dict_helpers: list[tuple] = []  # (helper name, dict name, called with **)
        self.needs: set[str] = set()      # module-level code the body uses (APPLY, ...)
        self.local_import = ""            # f's first line, when it imports locally
        self.in_while_test = False

    # ------------------------------------------------------------------ utilities
    def pick(self, table: dict, allowed=None):
        items = [(k, w) for k, w in table.items() if w > 0 and (allowed is None or k in allowed)]
        if not items:
            raise NoWay("nothing allowed")
        total = sum(w for _, w in items)
        r = self.rng.random() * total
        for k, w in items:
            r -= w
            if r <= 0:
                return k
        return items[-1][0]

    def fresh_name(self, prefix="v"):
        self.counter += 1
        return f"{prefix}{self.counter}"

    def const(self):
        return self.rng.choice(CONSTANTS)

    def threshold(self):
        return f"{self.rng.uniform(-0.8, 0.8):.3f}"

    def arrays(self):
        return [v for v in self.env.values() if v.kind == "arr"]

    def numbers(self):
        return [v for v in self.env.values() if v.kind == "num"]

    def ints(self):
        return [v for v in self.env.values() if v.kind == "int"]

    def lists(self):
        return [v for v in self.env.values() if v.kind == "list"]

    def functions(self):
        return [v for v in self.env.values() if v.kind == "fn"]

    def spell(self, v):
        return v.alt if v.alt and self.rng.random() < 0.35 else v.name

    def is_view(self, src):
        """src is (a view of) a name, a dict entry or an object field: not a new array."""
        if re.fullmatch(VIEW, src):
            return True
        for v in self.env.values():
            for spelling in (v.name, v.alt) if v.readonly else ():
                if spelling and src.startswith(spelling) and \
                        re.fullmatch(VIEW_SUFFIX, src[len(spelling):]):
                    return True
        return False

    def reachable(self):
        """Array shapes an expression can have: those of variables, their pairwise
        broadcasts, and the transposes of matrices."""
        shapes = {v.shape for v in self.arrays()}
        out = set(shapes)
        for a in shapes:
            for b in shapes:
                s = bshape(a, b)
                if s:
                    out.add(s)
            if len(a) == 2:
                out.add(a[::-1])
        return out

    def subshapes(self, shape):
        """Shapes (None included) that broadcast to exactly `shape`."""
        subs = [None] + [s for s in self.reachable() if fits(s, shape)]
        return subs

    def choose_shape(self, p_number=0.25):
        shapes = sorted(self.reachable(), key=str)
        if not shapes or self.rng.random() < p_number:
            return None
        return self.rng.choice(shapes)

    # ------------------------------------------------------------------ expressions
    def expr(self, shape, depth):
        """Source of an expression of this shape (None: a number)."""
        if depth <= 0:
            return self.leaf(shape)
        allowed = set(self.c.expressions) - (ELEMENTWISE_OFF if self.elementwise else set())
        for _ in range(12):
            kind = self.pick(self.c.expressions, allowed)
            try:
                src = getattr(self, "e_" + kind)(shape, depth)
            except NoWay:
                continue
            self.features.add("expr." + kind)
            return src
        return self.leaf(shape)

    def leaf(self, shape):
        rng = self.rng
        if shape is None:
            options = [("const", 1.0)]
            if self.numbers():
                options.append(("num", 2.5))
            if self.ints():
                options.append(("int", 0.4))
            if self.arrays():
                options.append(("reduce", 0.6))
            kind = self.pick(dict(options))
            if kind == "const":
                return self.const()
            if kind == "num":
                return self.spell(rng.choice(self.numbers()))
            if kind == "int":
                self.features.add("expr.int_as_float")
                return f"(0.3 * {rng.choice(self.ints()).name})"
            v = rng.choice(self.arrays())
            self.features.add("expr.reduce")
            return f"np.sum({v.name})"
        exact = [v for v in self.arrays() if v.shape == shape]
        transposed = [v for v in self.arrays() if len(v.shape) == 2 and v.shape[::-1] == shape
                      and v.shape != shape]
        pairs = [(a, b) for a in self.arrays() for b in self.arrays()
                 if bshape(a.shape, b.shape) == shape and a.shape != shape and b.shape != shape]
        options = []
        if exact:
            options.append(("exact", 4.0))
        if transposed:
            options.append(("T", 1.0))
        if pairs:
            options.append(("pair", 1.0))
        if not options:
            raise NoWay(f"no variable of shape {shape}")
        kind = self.pick(dict(options))
        if kind == "exact":
            return self.spell(rng.choice(exact))
        if kind == "T":
            self.features.add("expr.transpose")
            return f"{rng.choice(transposed).name}.T"
        a, b = rng.choice(pairs)
        self.features.add("expr.broadcast_pair")
        return f"({a.name} {rng.choice('+*-')} {b.name})"

    def can(self, shape):
        return shape is None or shape in self.reachable()

    def operand_pair(self, shape):
        cands = [None] + sorted(self.reachable(), key=str)
        pairs = [(a, b) for a in cands for b in cands if bshape(a, b) == shape]
        if shape is not None:
            # favour one operand of the full shape
            pairs += [(shape, s) for s in self.subshapes(shape)] * 2
        if not pairs:
            raise NoWay("no operands")
        a, b = self.rng.choice(pairs)
        if self.rng.random() < 0.5:
            a, b = b, a
        if a != b and None not in (a, b) and shape not in (a, b):
            self.features.add("expr.broadcast_up")
        return a, b

    def e_leaf(self, shape, depth):
        return self.leaf(shape)

    def e_binop(self, shape, depth):
        a, b = self.operand_pair(shape)
        op = self.rng.choice(["+", "-", "*", "*"])
        return f"({self.expr(a, depth - 1)} {op} {self.expr(b, depth - 1)})"

    def e_div(self, shape, depth):
        a, b = self.operand_pair(shape)
        den = self.expr(b, depth - 1)
        if self.rng.random() < 0.5:
            return f"({self.expr(a, depth - 1)} / (1.5 + {den} * {den}))"
        return f"({self.expr(a, depth - 1)} / (2.0 + np.cos({den})))"

    def e_unary(self, shape, depth):
        fn = self.pick(self.c.unary)
        self.features.add("unary." + fn)
        e = self.expr(shape, depth - 1)
        if fn in ("sin", "cos", "tanh", "arctan"):
            return f"np.{fn}({e})"
        if fn == "exp":
            return f"np.exp(0.5 * {e})" if self.rng.random() < 0.6 else f"np.exp(-{e} * {e})"
        if fn == "log":
            return self.rng.choice([f"np.log(1.5 + np.sin({e}))", f"np.log({e} * {e} + 0.5)",
                                    f"np.log1p({e} * {e})"])
        if fn == "sqrt":
            return self.rng.choice([f"np.sqrt({e} * {e} + 0.3)", f"np.sqrt(np.exp({e}))"])
        if fn == "pow":
            return f"{e} ** {self.rng.choice(['2', '3', '2.0'])}"
        if fn == "varpow":
            sub = self.rng.choice(self.subshapes(shape)) if shape is not None else None
            return f"(1.2 + np.cos({e})) ** {self.expr(sub, depth - 1)}"
        if fn == "square":
            return f"np.square({e})"
        if fn == "abs":
            return f"abs({e})" if self.rng.random() < self.o["p_builtin_abs"] else f"np.abs({e})"
        return f"(-{e})"

    def e_maximum(self, shape, depth):
        fn = self.rng.choice(["maximum", "maximum", "minimum"])
        if self.rng.random() < 0.3:
            return f"np.{fn}({self.expr(shape, depth - 1)}, 0.0)"
        a, b = self.operand_pair(shape)
        return f"np.{fn}({self.expr(a, depth - 1)}, {self.expr(b, depth - 1)})"

    def e_clip(self, shape, depth):
        return f"np.clip({self.expr(shape, depth - 1)}, -0.5, 0.6)"

    def e_where(self, shape, depth):
        cond_shape = self.rng.choice(self.subshapes(shape)) if shape is not None else None
        a, b = self.operand_pair(shape)
        c = self.expr(cond_shape, depth - 1)
        return (f"np.where({c} > {self.threshold()}, {self.expr(a, depth - 1)}, "
                f"{self.expr(b, depth - 1)})")

    def reduction(self, operand, axis_src=None, keepdims=False):
        fn = self.pick(self.c.reductions)
        self.features.add("reduce." + fn)
        method = self.rng.random() < 0.25
        args = []
        if axis_src is not None:
            args.append(f"axis={axis_src}")
            self.features.add("kw.axis")
        if keepdims:
            args.append("keepdims=True")
            self.features.add("kw.keepdims")
        if method:
            self.features.add("reduce.method")
            base = operand if operand.isidentifier() else f"({operand})"
            return f"{base}.{fn}({', '.join(args)})"
        return f"np.{fn}({', '.join([operand] + args)})"

    def e_reduce(self, shape, depth):
        if shape is not None:
            raise NoWay("full reduction gives a number")
        shapes = sorted(self.reachable(), key=str)
        if not shapes:
            raise NoWay("no arrays")
        t = self.rng.choice(shapes)
        return self.reduction(self.expr(t, depth - 1))

    def e_reduce_axis(self, shape, depth):
        cands = []
        for t in sorted(self.reachable(), key=str):
            for k in range(len(t)):
                if drop_axis(t, k) == shape:
                    cands.append((t, str(k if self.rng.random() < 0.7 else k - len(t))))
            if len(t) >= 2:
                for k1 in range(len(t)):
                    for k2 in range(k1 + 1, len(t)):
                        rest = tuple(d for i, d in enumerate(t) if i not in (k1, k2)) or None
                        if rest == shape:
                            cands.append((t, f"({k1}, {k2})"))
        if not cands:
            raise NoWay("no axis")
        t, axis = self.rng.choice(cands)
        if axis.startswith("("):
            self.features.add("kw.axis_tuple")
        return self.reduction(self.expr(t, depth - 1), axis)

    def e_reduce_keepdims(self, shape, depth):
        if shape is None:
            raise NoWay("keepdims keeps an array")
        cands = []
        for t in sorted(self.reachable(), key=str):
            if len(t) != len(shape):
                continue
            diff = [i for i in range(len(t)) if t[i] != shape[i]]
            if len(diff) == 1 and shape[diff[0]] == 1:
                cands.append((t, diff[0]))
        if not cands:
            raise NoWay("no keepdims")
        t, k = self.rng.choice(cands)
        return self.reduction(self.expr(t, depth - 1), str(k), keepdims=True)

    def e_matmul(self, shape, depth):
        shapes = sorted(self.reachable(), key=str)
        cands = []
        for a in shapes:
            for b in shapes:
                if len(a) > 2 or len(b) > 2 or a[-1] != b[0]:
                    continue
                out = a[:-1] + b[1:]
                if (out or None) == shape:
                    cands.append((a, b))
        if not cands:
            raise NoWay("no matmul")
        a, b = self.rng.choice(cands)
        ea, eb = self.expr(a, depth - 1), self.expr(b, depth - 1)
        form = self.pick(self.c.matmul)
        self.features.add("matmul." + form)
        if form == "@":
            return f"({ea} @ {eb})"
        return f"np.{form}({ea}, {eb})"

    def e_transpose(self, shape, depth):
        if shape is None or len(shape) != 2 or shape[::-1] not in self.reachable():
            raise NoWay("no transpose")
        e = self.expr(shape[::-1], depth - 1)
        if self.rng.random() < 0.3:
            return f"np.transpose({e})"
        return f"{e}.T" if e.isidentifier() else f"({e}).T"

    def index_sources(self, shape):
        """(source, how) pairs indexing a variable down to `shape`."""
        rng = self.rng
        out = []
        for v in self.arrays():
            t = v.shape
            idx_ints = [i for i in self.ints() if i.bound is not None and i.bound <= t[0]]
            if drop_axis(t, 0) == shape:
                i = rng.randrange(-t[0], t[0])
                out.append((f"{v.name}[{i}]", "index"))
                for iv in idx_ints:
                    out.append((f"{v.name}[{iv.name}]", "index_counter"))
            if len(t) == 2 and shape == (t[0],):
                out.append((f"{v.name}[:, {rng.randrange(t[1])}]", "index_column"))
            if len(t) == 2 and shape is None:
                out.append((f"{v.name}[{rng.randrange(t[0])}, {rng.randrange(-t[1], t[1])}]",
                            "index_element"))
        return out

    def e_index(self, shape, depth):
        cands = self.index_sources(shape)
        if not cands:
            raise NoWay("no index")
        src, how = self.rng.choice(cands)
        self.features.add("expr." + how)
        return src

    def e_slice(self, shape, depth):
        if shape is None:
            raise NoWay("a slice is an array")
        rng = self.rng
        cands = []
        for v in self.arrays():
            t = v.shape
            if len(t) != len(shape):
                continue
            if t[1:] == shape[1:] and shape[0] < t[0]:
                a = rng.randrange(t[0] - shape[0] + 1)
                cands.append(f"{v.name}[{a}:{a + shape[0]}]")
                cands.append(f"{v.name}[{-shape[0]}:]")
                if (t[0] + 1) // 2 == shape[0]:
                    cands.append(f"{v.name}[::2]")
                if shape[0] == t[0] - 1:
                    cands.append(f"{v.name}[:-1]")
            if len(t) == 2 and t[0] == shape[0] and shape[1] < t[1]:
                a = rng.randrange(t[1] - shape[1] + 1)
                cands.append(f"{v.name}[:, {a}:{a + shape[1]}]")
            if t == shape and t[0] > 1:
                cands.append(f"{v.name}[::-1]")
        if not cands:
            raise NoWay("no slice")
        return rng.choice(cands)

    def e_newaxis(self, shape, depth):
        if shape is None or len(shape) < 2:
            raise NoWay("newaxis")
        cands = []
        for v in self.arrays():
            if shape[0] == 1 and v.shape == shape[1:]:
                cands.append(f"{v.name}[None]")
                cands.append(f"np.expand_dims({v.name}, 0)")
            if len(shape) == 2 and shape[1] == 1 and v.shape == (shape[0],):
                cands.append(f"{v.name}[:, None]")
        if not cands:
            raise NoWay("newaxis")
        return self.rng.choice(cands)

    def e_reshape(self, shape, depth):
        if shape is None:
            raise NoWay("reshape")
        size = math.prod(shape)
        cands = [v for v in self.arrays() if math.prod(v.shape) == size and v.shape != shape]
        if not cands:
            raise NoWay("reshape")
        v = self.rng.choice(cands)
        if len(shape) == 1 and self.rng.random() < 0.5:
            return f"{v.name}.ravel()"
        return f"{v.name}.reshape({fmt_shape(shape)})"

    def e_full(self, shape, depth):
        if shape is None:
            raise NoWay("full makes an array")
        a = self.expr(None, depth - 1)
        form = self.rng.choice(["full", "full", "ones", "full_like"])
        self.features.add("full." + form)
        if form == "full":
            return f"np.full({fmt_shape(shape)}, {a})"
        if form == "ones":
            return f"(np.ones({fmt_shape(shape)}) * {a})"
        like = [v for v in self.arrays() if v.shape == shape]
        if not like:
            return f"np.full({fmt_shape(shape)}, {a})"
        return f"np.full_like({self.rng.choice(like).name}, {a})"

    def helper_call(self, helper: Helper, shape, depth, want_tuple=False):
        a, b = self.operand_pair(shape) if shape is not None else (None, None)
        ea, eb = self.expr(a, depth - 1), self.expr(b, depth - 1)
        rng = self.rng
        style = rng.random()
        if style < 0.35:
            args = [ea, eb]
        elif style < 0.6:
            args = [ea, eb, f"scale={self.const()}"]
            self.features.add("helper.kwarg")
        elif style < 0.8:
            args = [ea, f"b={eb}"]
            self.features.add("helper.kwarg")
        else:
            args = [f"b={eb}", f"a={ea}"]
            self.features.add("helper.kwarg")
        if helper.has_k and rng.random() < 0.4:
            args.append(f"k={rng.randint(0, 3)}")
        self.features.add("helper.call")
        call = f"{helper.name}({', '.join(args)})"
        if helper.tuple_out and not want_tuple:
            self.features.add("helper.tuple_index")
            return f"{call}[{rng.randrange(2)}]"
        return call

    def e_helper(self, shape, depth):
        if not self.helpers:
            raise NoWay("no helpers")
        return self.helper_call(self.rng.choice(self.helpers), shape, depth)

    def e_ternary(self, shape, depth):
        if shape is not None:
            raise NoWay("ternary of numbers")
        return f"({self.expr(None, depth - 1)} if {self.cond(depth - 1)} else {self.expr(None, depth - 1)})"

    def e_math(self, shape, depth):
        if shape is not None:
            raise NoWay("math takes numbers")
        e = self.expr(None, depth - 1)
        fn = self.rng.choice(["sin", "cos", "tanh", "exp", "sqrt", "log", "atan"])
        self.features.add("math." + fn)
        if fn == "exp":
            return f"math.exp(0.5 * {e})"
        if fn == "sqrt":
            return f"math.sqrt({e} * {e} + 0.3)"
        if fn == "log":
            return f"math.log(1.5 + math.sin({e}))"
        return f"math.{fn}({e})"

    # ------------------------------------------------------------------ conditions
    def cond(self, depth=1, helpers=True):
        kind = self.pick(self.c.conditions, None if helpers else set(self.c.conditions) - {"helper"})
        self.features.add("cond." + kind)
        t = self.threshold()
        op = self.rng.choice([">", "<"])
        if kind == "sum" or (kind == "max" and not self.reachable()):
            shape = self.choose_shape(p_number=0.2)
            e = self.expr(shape, max(depth, 1))
            red = "np.sum" if shape is not None else ""
            return f"{red}({e}) {op} {t}" if red else f"{e} {op} {t}"
        if kind == "scalar":
            return f"{self.expr(None, max(depth, 1))} {op} {t}"
        if kind == "max":
            shape = self.rng.choice(sorted(self.reachable(), key=str))
            fn = self.rng.choice(["np.max", "np.mean", "np.min"])
            return f"{fn}({self.expr(shape, 1)}) {op} {t}"
        if kind == "andor":
            return f"{self.cond_simple()} {self.rng.choice(['and', 'or'])} {self.cond_simple()}"
        if kind == "not":
            return f"not {self.cond_simple()}"
        if kind == "helper":
            if not self.helpers:
                return self.cond_simple()
            h = self.rng.choice(self.helpers)
            call = self.helper_call(h, self.choose_shape(0.3), 1)
            test = f"np.sum({call}) {op} {t}"
            if self.rng.random() < 0.6:
                self.features.add("cond.helper_in_boolop")
                return f"{test} {self.rng.choice(['and', 'or'])} {self.cond_simple()}" \
                    if self.rng.random() < 0.5 else f"{self.cond_simple()} {self.rng.choice(['and', 'or'])} {test}"
            return test
        if kind == "any":
            shape = self.choose_shape(p_number=0.0)
            if shape is None:
                return self.cond_simple()
            return f"np.{self.rng.choice(['any', 'all'])}({self.expr(shape, 1)} {op} {t})"
        # int conditions
        ints = self.ints()
        if not ints:
            return self.cond_simple()
        v = self.rng.choice(ints)
        if self.rng.random() < 0.5:
            return f"{v.name} % 2 == 0"
        return f"{v.name} {self.rng.choice(['>', '>=', '<'])} {self.rng.randint(0, 2)}"

    def cond_simple(self):
        t = self.threshold()
        shape = self.choose_shape(p_number=0.4)
        e = self.expr(shape, 1)
        if shape is not None:
            return f"np.sum({e}) > {t}"
        return f"{e} {self.rng.choice(['>', '<'])} {t}"

    # ------------------------------------------------------------------ statements
    def block(self, pad, depth, n=None):
        lines = []
        n = n if n is not None else self.rng.randint(1, 3)
        for _ in range(n):
            more, stop = self.statement(pad, depth)
            lines += more
            if stop:
                break
        return lines

    def scoped(self, fn):
        """Run fn; variables it binds go out of scope afterwards (ints of loops excepted
        when the caller re-adds them)."""
        saved = dict(self.env)
        out = fn()
        # shapes never change (a Var's freshness is updated in place); a name a loop
        # reused as its counter gets its own Var back
        self.env = saved
        return out

    def statement(self, pad, depth):
        """(lines, stops): stops when the statement returns or breaks."""
        allowed = set(self.c.statements)
        if depth >= self.o["max_depth"]:
            allowed -= {"for", "if", "while", "list", "enumerate", "zip", "pairs"}
        if self.loop_depth == 0 or depth == 0:
            allowed.discard("break")
        for _ in range(20):
            kind = self.pick(self.c.statements, allowed)
            try:
                lines, stops = getattr(self, "s_" + kind)(pad, depth)
            except NoWay:
                continue
            self.features.add("stmt." + kind)
            return lines, stops
        return self.s_assign(pad, depth)

    def targets(self, in_place=False):
        out = []
        for v in self.env.values():
            if v.kind not in ("num", "arr") or v.readonly:
                continue
            if in_place and v.kind == "arr" and not (v.fresh or v.param):
                continue
            out.append(v)
        return out

    def bind(self, name, shape, src=None):
        """A new variable; it may be written into in place unless src is (a view of) a name."""
        kind = "num" if shape is None else "arr"
        view = src is not None and self.is_view(src)
        self.env[name] = Var(name, kind, shape, fresh=not view)

    def s_assign(self, pad, depth):
        shape = self.choose_shape()
        name = self.fresh_name()
        src = self.expr(shape, self.rng.randint(1, 3))
        self.bind(name, shape, src)
        return [f"{pad}{name} = {src}"], False

    def s_reassign(self, pad, depth):
        cands = self.targets()
        if not cands:
            raise NoWay("nothing to reassign")
        v = self.rng.choice(cands)
        if v.param:
            self.features.add("stmt.reassign_param")
        sub = self.rng.choice(self.subshapes(v.shape)) if v.shape is not None else None
        if self.loop_depth:
            e = self.expr(sub, self.rng.randint(1, 2))
            form = self.rng.choice([f"0.5 * {v.name} + 0.5 * np.sin({e})",
                                    f"np.tanh({v.name} + {e})",
                                    f"{v.name} * np.cos({e})"])
        else:
            form = self.expr(v.shape, self.rng.randint(1, 3))
        v.fresh = not self.is_view(form)
        return [f"{pad}{v.name} = {form}"], False

    def s_aug(self, pad, depth, params_only=False):
        cands = [v for v in self.targets(in_place=True) if (v.param if params_only else not v.param)]
        if params_only:
            cands = [v for v in cands if v.kind == "arr"]
        if not cands:
            raise NoWay("nothing to update")
        v = self.rng.choice(cands)
        sub = self.rng.choice(self.subshapes(v.shape)) if v.shape is not None else None
        e = self.expr(sub, self.rng.randint(1, 2))
        op = self.rng.choice(["+=", "-=", "*="])
        if op == "*=":
            e = f"np.cos({e})" if self.rng.random() < 0.7 else "0.9"
        elif self.loop_depth:
            e = f"0.3 * np.sin({e})"
        return [f"{pad}{v.name} {op} {e}"], False

    def s_aug_param(self, pad, depth):
        self.features.add("stmt.aug_param")
        return self.s_aug(pad, depth, params_only=True)

    def write_lines(self, pad, y: Var):
        """One write into the fresh array y."""
        rng = self.rng
        t = y.shape
        kinds = set(self.c.writes)
        if len(t) < 2:
            kinds.discard("column")
        if not [i for i in self.ints() if i.bound is not None and i.bound <= t[0]]:
            kinds.discard("loop_index")
        kind = self.pick(self.c.writes, kinds)
        self.features.add("write." + kind)

        def value(target_shape, depth=2):
            if target_shape is None:
                return self.expr(None, rng.randint(1, depth))
            sub = rng.choice(self.subshapes(target_shape))
            return self.expr(sub, rng.randint(1, depth))

        rest = drop_axis(t, 0)
        if kind == "index":
            i = rng.randrange(-t[0], t[0])
            if len(t) == 2 and rng.random() < 0.3:
                j = rng.randrange(t[1])
                return [f"{pad}{y.name}[{i}, {j}] = {value(None)}"]
            return [f"{pad}{y.name}[{i}] = {value(rest)}"]
        if kind == "aug_index":
            i = rng.randrange(t[0])
            op = rng.choice(["+=", "-=", "*="])
            v = value(rest)
            if op == "*=":
                v = f"np.cos({v})"
            return [f"{pad}{y.name}[{i}] {op} {v}"]
        if kind == "slice":
            if t[0] < 2:
                return [f"{pad}{y.name}[0:1] = {value(t)}"]
            a = rng.randrange(t[0] - 1)
            b = rng.randrange(a + 1, t[0] + 1)
            op = rng.choice(["=", "+="])
            return [f"{pad}{y.name}[{a}:{b}] {op} {value(((b - a),) + t[1:])}"]
        if kind == "column":
            j = rng.randrange(-t[1], t[1])
            op = rng.choice(["=", "+=", "-="])
            return [f"{pad}{y.name}[:, {j}] {op} {value((t[0],) if len(t) == 2 else None)}"]
        if kind == "mask":
            same = [v for v in self.arrays() if v.shape == t and v.name != y.name]
            base = y.name if not same or rng.random() < 0.5 else rng.choice(same).name
            mask = f"{base} > {self.threshold()}"
            form = rng.random()
            if form < 0.4:
                return [f"{pad}{y.name}[{mask}] = {value(None)}"]
            if form < 0.7:
                return [f"{pad}{y.name}[{mask}] *= {rng.choice(['0.5', '2.0', '-1.0'])}"]
            return [f"{pad}{y.name}[{mask}] = {y.name}[{mask}] ** 2"]
        if kind == "fancy":
            k = rng.randint(2, 3)
            idx = [rng.randrange(t[0]) for _ in range(k)]
            if rng.random() < 0.5 and t[0] > 0:
                idx[1] = idx[0]  # a repeated index
                self.features.add("write.fancy_repeated")
            op = rng.choice(["=", "+="])
            return [f"{pad}{y.name}[{idx}] {op} {value((k,) + t[1:])}"]
        if kind == "full_slice":
            if rng.random() < 0.5:
                return [f"{pad}{y.name}[:] = {y.name} * {y.name}"]
            return [f"{pad}{y.name}[:] = {value(t)}"]
        # loop_index: y[i] with a counter known to be in range
        iv = rng.choice([i for i in self.ints() if i.bound is not None and i.bound <= t[0]])
        return [f"{pad}{y.name}[{iv.name}] = 0.5 * {y.name}[{iv.name}] + {value(rest, 1)}"]

    def s_copy_write(self, pad, depth):
        src = [v for v in self.arrays()]
        if not src:
            raise NoWay("no arrays to copy")
        x = self.rng.choice(src)
        name = self.fresh_name("y")
        form = self.rng.choice([f"{x.name}.copy()", f"{x.name}.copy()", f"np.copy({x.name})"])
        lines = [f"{pad}{name} = {form}"]
        y = Var(name, "arr", x.shape, fresh=True)
        self.env[name] = y
        for _ in range(self.rng.randint(1, 3)):
            lines += self.write_lines(pad, y)
        return lines, False

    def s_write(self, pad, depth):
        cands = [v for v in self.arrays() if v.fresh and not v.param and not v.readonly]
        if not cands:
            raise NoWay("no fresh arrays")
        return self.write_lines(pad, self.rng.choice(cands)), False

    def trip_count(self):
        """(source, bound, literal trip count or None)."""
        rng = self.rng
        options = [("lit", 1.0)]
        if "n" in self.env and self.env["n"].kind == "int" and self.env["n"].param:
            options.append(("n", 2.0))
        if self.arrays():
            options.append(("len", 0.6))
        kind = self.pick(dict(options))
        if kind == "lit":
            k = rng.randint(1, 3)
            self.features.add("loop.literal")
            return f"{k}", k, k
        if kind == "n":
            self.features.add("loop.n")
            if rng.random() < 0.2:
                return "n + 1", 4, None
            return "n", 3, None
        v = rng.choice(self.arrays())
        self.features.add("loop.len")
        if rng.random() < 0.5:
            return f"len({v.name})", v.shape[0], v.shape[0]
        k = rng.randrange(len(v.shape))
        return f"{v.name}.shape[{k}]", v.shape[k], v.shape[k]

    def loop_name(self):
        return "ijk"[min(self.loop_depth, 2)]

    def s_for(self, pad, depth, counter=None):
        tc, bound, literal = self.trip_count()
        name = counter or self.loop_name()
        if self.loop_depth:
            self.features.add("loop.nested")
        head = f"{pad}for {name} in range({tc}):"
        if self.rng.random() < 0.1 and literal is None:
            head = f"{pad}for {name} in range(1, {tc}):"

        def body():
            self.env[name] = Var(name, "int", bound=bound)
            self.loop_depth += 1
            try:
                return self.block(pad + "    ", depth + 1)
            finally:
                self.loop_depth -= 1
        lines = [head] + self.scoped(body)
        if literal and literal >= 1 and name not in self.env and self.rng.random() < 0.5:
            self.env[name] = Var(name, "int", bound=literal)  # still bound after the loop
            self.features.add("loop.counter_after")
        return lines, False

    def s_counter_reuse(self, pad, depth):
        ints = [v for v in self.ints() if not v.name.startswith("w")]
        lines = []
        if ints and self.rng.random() < 0.6:
            name = self.rng.choice(ints).name
        else:
            name = self.fresh_name("k")
            lines.append(f"{pad}{name} = {self.rng.randint(1, 3)}")
            self.env[name] = Var(name, "int", bound=4)
            shape = self.choose_shape()
            nv = self.fresh_name()
            lines.append(f"{pad}{nv} = {self.expr(shape, 1)} * (0.2 * {name})")
            self.bind(nv, shape)
        more, stop = self.s_for(pad, depth, counter=name)
        return lines + more, stop

    def s_if(self, pad, depth):
        lines = [f"{pad}if {self.cond(1)}:"]
        lines += self.scoped(lambda: self.block(pad + "    ", depth + 1))
        r = self.rng.random()
        if r < 0.2:
            self.features.add("stmt.elif")
            lines.append(f"{pad}elif {self.cond(1)}:")
            lines += self.scoped(lambda: self.block(pad + "    ", depth + 1))
            r = 0.0
        if r < 0.55:
            lines.append(f"{pad}else:")
            lines += self.scoped(lambda: self.block(pad + "    ", depth + 1))
        return lines, False

    def s_while(self, pad, depth):
        w = self.fresh_name("w")
        tc, bound, _ = self.trip_count()
        # s2sgrad refuses a helper called in a while condition: only now and then
        self.in_while_test = True  # a comprehension or sum(...) there is refused (README)
        try:
            cond = self.cond(1, helpers=self.rng.random() < 0.15)
        finally:
            self.in_while_test = False
        test = f"{w} < {tc} and ({cond})" if self.rng.random() < 0.6 else f"({cond}) and {w} < {tc}"
        lines = [f"{pad}{w} = 0", f"{pad}while {test}:", f"{pad}    {w} += 1"]

        def body():
            self.loop_depth += 1
            try:
                return self.block(pad + "    ", depth + 1)
            finally:
                self.loop_depth -= 1
        lines += self.scoped(body)
        return lines, False

    def s_break(self, pad, depth):
        word = "break" if self.rng.random() < 0.8 else "continue"
        self.features.add("stmt." + word)
        return [f"{pad}if {self.cond_simple()}:", f"{pad}    {word}"], False

    def s_early_return(self, pad, depth):
        return [f"{pad}if {self.cond_simple()}:", f"{pad}    return {self.return_expr()}"], False

    def s_list(self, pad, depth):
        rng = self.rng
        acc = self.fresh_name("acc")
        shape = self.choose_shape(p_number=0.4)
        tc, bound, literal = self.trip_count()
        name = self.loop_name()
        lines = [f"{pad}{acc} = []", f"{pad}for {name} in range({tc}):"]

        def body():
            self.env[name] = Var(name, "int", bound=bound)
            self.loop_depth += 1
            try:
                return [f"{pad}    {acc}.append({self.expr(shape, 2)})"]
            finally:
                self.loop_depth -= 1
        lines += self.scoped(body)
        self.features.add("list.append")
        out = self.fresh_name()
        if literal and rng.random() < 0.5:
            self.features.add("list.index")
            k = rng.choice([0, -1, literal - 1])
            lines.append(f"{pad}{out} = {acc}[{k}] * {rng.choice(CONSTANTS)}")
            self.bind(out, shape)
        else:
            self.features.add("list.iterate")
            item = self.fresh_name("item")
            lines.append(f"{pad}{out} = 0.0")
            if shape is None:
                lines.append(f"{pad}for {item} in {acc}:")
                lines.append(f"{pad}    {out} = {out} + {item} * {rng.choice(CONSTANTS)}")
            else:
                lines.append(f"{pad}for {item} in {acc}:")
                lines.append(f"{pad}    {out} = {out} + np.sum({item} * {item})")
            self.bind(out, None)
        return lines, False

    def s_tuple_call(self, pad, depth):
        hs = [h for h in self.helpers if h.tuple_out]
        if not hs:
            raise NoWay("no tuple helper")
        shape = self.choose_shape(p_number=0.3)
        call = self.helper_call(self.rng.choice(hs), shape, 2, want_tuple=True)
        p, q = self.fresh_name("p"), self.fresh_name("q")
        self.bind(p, shape)
        self.bind(q, shape)
        return [f"{pad}{p}, {q} = {call}"], False

    def s_swap(self, pad, depth):
        vs = self.targets()
        pairs = [(a, b) for a in vs for b in vs if a.name < b.name and a.shape == b.shape
                 and a.kind == b.kind]
        if not pairs:
            raise NoWay("no pair to swap")
        a, b = self.rng.choice(pairs)
        a.fresh = b.fresh = a.fresh and b.fresh
        return [f"{pad}{a.name}, {b.name} = {b.name}, {a.name}"], False

    # ------------------------------------------------------------------ issue 13: sequences
    def sequence(self, ints=True):
        """Something to iterate: (source, element kind, element shape, length or None,
        largest length).  Rows of an array, a list in scope, or a range."""
        rng = self.rng
        options = []
        for v in self.arrays():
            options.append(("rows", v, 1.0))
        for v in self.lists():
            options.append(("list", v, 1.5))
        if ints:
            options.append(("range", None, 0.6))
        if not options:
            raise NoWay("nothing to iterate")
        total = sum(w for _, _, w in options)
        r = rng.random() * total
        for kind, v, w in options:
            r -= w
            if r <= 0:
                break
        if kind == "rows":
            shape = drop_axis(v.shape, 0)
            return v.name, "num" if shape is None else "arr", shape, v.shape[0], v.shape[0], v
        if kind == "list":
            return v.name, "num" if v.shape is None else "arr", v.shape, v.length, v.bound, v
        tc, bound, literal = self.trip_count()
        return f"range({tc})", "int", None, literal, bound, None

    def item(self, name, kind, shape, bound):
        if kind == "int":
            return Var(name, "int", bound=bound)
        return Var(name, kind, shape, fresh=False, readonly=True)

    def iteration(self):
        """(for-clause text after `for `, item Vars, length or None, largest length, the
        sequences' Vars): a plain, enumerate or zip target, zip inside enumerate too."""
        rng = self.rng
        u = rng.random()
        src, kind, shape, length, bound, sv = self.sequence()
        names = [self.fresh_name("t")]
        items = [self.item(names[0], kind, shape, bound)]
        seqs = [sv]
        if u < 0.35:
            self.features.add("loop.zip")
            src2, kind2, shape2, length2, bound2, sv2 = self.sequence()
            names.append(self.fresh_name("u"))
            items.append(self.item(names[1], kind2, shape2, bound2))
            seqs.append(sv2)
            lengths = [x for x in (length, length2)]
            length = None if None in lengths else min(lengths)
            bound = min(bound, bound2)
            target, src = f"{names[0]}, {names[1]}", f"zip({src}, {src2})"
        else:
            target = names[0]
        if rng.random() < 0.4:
            self.features.add("loop.enumerate")
            i = self.fresh_name("i")
            start = 1 if rng.random() < 0.2 else 0
            items.append(Var(i, "int", bound=bound + start))
            if "," in target:
                self.features.add("loop.nested_destructure")
                target = f"({target})"
            target = f"{i}, {target}"
            src = f"enumerate({src}, {start})" if start else f"enumerate({src})"
        return f"{target} in {src}", items, length, bound, [v for v in seqs if v is not None]

    def with_items(self, items, fn, seqs=()):
        """fn() with the items in scope and the iterated sequences read-only meanwhile
        (a loop over a sequence its body rebinds or writes into is refused)."""
        def run():
            for v in items:
                self.env[v.name] = v
            saved = [(v, v.readonly) for v in seqs]
            for v in seqs:
                v.readonly = True
            try:
                return fn()
            finally:
                for v, ro in saved:
                    v.readonly = ro
        return self.scoped(run)

    def item_filter(self, items):
        v = self.rng.choice(items)
        t = self.threshold()
        if v.kind == "int":
            return f"{v.name} % 2 == 0" if self.rng.random() < 0.5 else f"{v.name} > 0"
        if v.kind == "arr":
            return f"np.sum({v.name}) > {t}"
        return f"{v.name} > {t}"

    def s_comprehension(self, pad, depth):
        rng = self.rng
        clause, items, length, bound, seqs = self.iteration()
        shape = self.choose_shape(p_number=0.45)
        filtered = rng.random() < 0.3
        parts = self.with_items(items, lambda: (self.expr(shape, 2), self.item_filter(items)), seqs)
        elem, cond = parts
        acc = self.fresh_name("acc")
        tail = f" if {cond}" if filtered else ""
        if filtered:
            self.features.add("comprehension.filter")
        lines = [f"{pad}{acc} = [{elem} for {clause}{tail}]"]
        nonempty = bool(length) and not filtered
        self.env[acc] = Var(acc, "list", shape, bound=bound, length=length if not filtered else None)
        out = self.fresh_name()
        r = rng.random()
        if nonempty and r < 0.5:
            form = rng.choice([f"sum({acc})", f"{acc}[0]", f"{acc}[-1]"])
            self.features.add("builtin.sum" if form.startswith("sum") else "list.index")
            lines.append(f"{pad}{out} = {form}")
            self.bind(out, shape)
        elif shape is not None and r < 0.75:
            self.features.add("builtin.sum_start")
            lines.append(f"{pad}{out} = sum({acc}, np.zeros({fmt_shape(shape)}))")
            self.bind(out, shape)
        elif shape is None:
            self.features.add("builtin.sum")
            lines.append(f"{pad}{out} = sum({acc}{', 0.0' if rng.random() < 0.3 else ''})")
            self.bind(out, None)
        else:
            self.features.add("stmt.gen_sum")
            e = self.fresh_name("e")
            lines.append(f"{pad}{out} = sum(np.sum({e} * {e}) for {e} in {acc})")
            self.bind(out, None)
        return lines, False

    def s_gen_sum(self, pad, depth):
        clause, items, length, bound, seqs = self.iteration()
        filtered = self.rng.random() < 0.3
        shape = self.choose_shape(p_number=0.6) if length and not filtered else None
        elem, cond = self.with_items(items, lambda: (self.expr(shape, 2), self.item_filter(items)), seqs)
        tail = f" if {cond}" if filtered else ""
        out = self.fresh_name()
        self.bind(out, shape)
        return [f"{pad}{out} = sum({elem} for {clause}{tail})"], False

    def item_loop(self, pad, depth, clause, items, seqs):
        def body():
            self.loop_depth += 1
            try:
                return self.block(pad + "    ", depth + 1)
            finally:
                self.loop_depth -= 1
        return [f"{pad}for {clause}:"] + self.with_items(items, body, seqs), False

    def s_enumerate(self, pad, depth):
        return self.drawn_loop(pad, depth, "enumerate")

    def s_zip(self, pad, depth):
        return self.drawn_loop(pad, depth, "zip")

    def drawn_loop(self, pad, depth, over):
        """A loop whose clause calls `over` (enumerate, zip): a few draws of iteration()."""
        for _ in range(6):
            clause, items, length, bound, seqs = self.iteration()
            if f"{over}(" in clause:
                return self.item_loop(pad, depth, clause, items, seqs)
        raise NoWay(f"no {over} drawn")

    def s_pairs(self, pad, depth):
        """pairs = [(U1, c1), (U2, c2)]; for U, c in pairs: ... (a list of pairs)."""
        rng = self.rng
        shape = self.choose_shape(p_number=0.2)
        sub = rng.choice(self.subshapes(shape)) if shape is not None else None
        k = rng.randint(1, 3)
        pairs = ", ".join(f"({self.expr(shape, 1)}, {self.expr(sub, 1)})" for _ in range(k))
        name = self.fresh_name("pairs")
        u, c = self.fresh_name("U"), self.fresh_name("c")
        items = [self.item(u, "num" if shape is None else "arr", shape, k),
                 self.item(c, "num" if sub is None else "arr", sub, k)]
        target, src = f"{u}, {c}", name
        if rng.random() < 0.3:
            i = self.fresh_name("i")
            items.append(Var(i, "int", bound=k))
            target, src = f"{i}, ({target})", f"enumerate({name})"
            self.features.add("loop.nested_destructure")
        self.features.add("loop.pairs")
        lines = [f"{pad}{name} = [{pairs}]"]
        more, stop = self.item_loop(pad, depth, f"{target} in {src}", items, ())
        return lines + more, stop

    def s_list_concat(self, pad, depth):
        rng = self.rng
        shape = self.choose_shape(p_number=0.4)
        a, b = rng.randint(1, 2), rng.randint(1, 2)
        first = ", ".join(self.expr(shape, 1) for _ in range(a))
        second = ", ".join(self.expr(shape, 1) for _ in range(b))
        name = self.fresh_name("xs")
        lines = [f"{pad}{name} = [{first}] + [{second}]"]
        n = a + b
        if rng.random() < 0.5:
            e = self.expr(shape, 1)
            lines.append(f"{pad}{name} += [{e}]" if rng.random() < 0.5 else
                         f"{pad}{name} = {name} + [{e}]")
            n += 1
        self.features.add("list.concat")
        self.env[name] = Var(name, "list", shape, bound=n, length=n)
        return lines, False

    def e_list_read(self, shape, depth):
        rng = self.rng
        cands = [v for v in self.lists() if v.shape == shape and (v.length or shape is None)]
        if not cands or self.in_while_test:
            raise NoWay("no list")
        v = rng.choice(cands)
        forms = [f"sum({v.name})"]
        if v.length:
            forms += [f"{v.name}[{rng.randrange(-v.length, v.length)}]"]
        src = rng.choice(forms)
        self.features.add("list.sum" if src.startswith("sum") else "list.index")
        return src

    # ------------------------------------------------------------------ issue 13: functions
    def top_level(self, depth):
        return depth == 0 and self.loop_depth == 0

    def local_body(self, arity, closure):
        """An element-wise expression of t (and s), reading a number parameter when a closure."""
        saved = self.env
        self.env = {"t": Var("t", "num")}
        if arity == 2:
            self.env["s"] = Var("s", "num")
        if closure:
            self.env[closure] = Var(closure, "num")
        self.elementwise = True
        try:
            e = self.expr(None, 2)
        finally:
            self.env, self.elementwise = saved, False
        if "t" not in re.findall(r"\b\w+\b", e):
            e = f"{e} + np.sin(t)"
        return e

    def closure_name(self):
        nums = [v.name for v in self.env.values() if v.param and v.kind == "num" and
                not v.readonly and not v.name == "scale"]
        return self.rng.choice(nums) if nums and self.rng.random() < 0.4 else None

    def s_lambda(self, pad, depth):
        if not self.top_level(depth):
            raise NoWay("lambdas at the top level")
        arity = 2 if self.rng.random() < 0.3 else 1
        closure = self.closure_name()
        name = self.fresh_name("g")
        args = "t, s" if arity == 2 else "t"
        body = self.local_body(arity, closure)
        self.env[name] = Var(name, "fn", arity=arity, closure=bool(closure))
        if closure:
            self.features.add("local.closure")
        return [f"{pad}{name} = lambda {args}: {body}"], False

    def s_local_def(self, pad, depth):
        if not self.top_level(depth):
            raise NoWay("defs at the top level")
        closure = self.closure_name()
        name = self.fresh_name("q")
        e = self.local_body(2, closure)
        lines = [f"{pad}def {name}(t, s=0.5):", f"{pad}    r = {e} * s"]
        if self.rng.random() < 0.4:
            lines += [f"{pad}    if np.sum(r) > {self.threshold()}:",
                      f"{pad}        r = np.tanh(r)"]
            self.features.add("local.branch")
        lines.append(f"{pad}    return r * np.cos(t)")
        self.env[name] = Var(name, "fn", arity=1, closure=bool(closure))
        self.env[name].alt = "def"
        if closure:
            self.features.add("local.closure")
        return lines, False

    def e_local_call(self, shape, depth):
        fns = self.functions()
        if not fns:
            raise NoWay("no local functions")
        v = self.rng.choice(fns)
        if v.arity == 2:
            a, b = self.operand_pair(shape)
            return f"{v.name}({self.expr(a, depth - 1)}, {self.expr(b, depth - 1)})"
        e = self.expr(shape, depth - 1)
        if v.alt == "def" and self.rng.random() < 0.4:
            self.features.add("local.kwarg")
            return f"{v.name}({e}, s={self.const()})"
        return f"{v.name}({e})"

    def e_fn_arg(self, shape, depth):
        # a local function reading f's variables cannot be passed on (refused by design),
        # nor any local function where f imports numpy locally (np is then f's variable)
        fns = [v for v in self.functions() if v.arity == 1 and not v.closure]
        if not fns or "import" in self.local_import:
            raise NoWay("no function to pass")
        v = self.rng.choice(fns)
        self.needs.add(APPLY)
        e = self.expr(shape, depth - 1)
        if self.rng.random() < 0.4:
            return f"{APPLY}({v.name}, {e}, w={self.const()})"
        return f"{APPLY}({v.name}, {e})"

    def e_method_call(self, shape, depth):
        if not self.receivers:
            raise NoWay("no object")
        return f"{self.rng.choice(self.receivers)}.act({self.expr(shape, depth - 1)})"

    def e_dict_helper(self, shape, depth):
        if shape is not None or not self.dict_helpers:
            raise NoWay("dict helpers give numbers")
        name, dname, splat = self.rng.choice(self.dict_helpers)
        if splat:
            return f"{name}(**{dname})"
        if self.rng.random() < 0.4:
            return f"{name}({dname}, s={self.expr(None, depth - 1)})"
        return f"{name}({dname})"

    def e_kwargs_helper(self, shape, depth):
        self.needs.add("kwargs")
        e, k = self.expr(shape, depth - 1), self.expr(None, depth - 1)
        if self.rng.random() < 0.5:
            return f"hkw({e}, s={k}, t={self.const()})"
        return f"hkw({e}, s={k})"

    def s_dict_literal(self, pad, depth):
        rng = self.rng
        name = self.fresh_name("d")
        entries, parts = [], []
        for key in rng.sample(["u", "v", "m"], rng.randint(1, 2)):
            shape = self.choose_shape(p_number=0.4)
            parts.append(f'"{key}": {self.expr(shape, 1)}')
            entries.append((key, shape))
        if self.dicts and rng.random() < 0.4:
            other = rng.choice(self.dicts)
            parts.append(f"**{other.name}")
            entries += [e for e in other.entries if e[0] not in dict(entries)]
            self.features.add("dict.splat")
        rng.shuffle(parts)
        lines = [f"{pad}{name} = {{{', '.join(parts)}}}"]
        for key, shape in entries:
            self.env[f'{name}["{key}"]'] = Var(f'{name}["{key}"]', "num" if shape is None else "arr",
                                               shape, fresh=False, readonly=True,
                                               alt=f'{name}.get("{key}", 0.0)')
        return lines, False

    def s_chained(self, pad, depth):
        shape = self.choose_shape()
        a, b = self.fresh_name(), self.fresh_name()
        src = self.expr(shape, 2)
        for n in (a, b):
            self.bind(n, shape, src)
            self.env[n].fresh = False  # two names for one array
        return [f"{pad}{a} = {b} = {src}"], False

    def s_del(self, pad, depth):
        if not self.top_level(depth):
            raise NoWay("del at the top level only")
        cands = [v for v in self.env.values() if not v.param and not v.readonly and
                 v.kind in ("num", "arr") and re.fullmatch(r"v\d+|y\d+", v.name)]
        if not cands:
            raise NoWay("nothing to delete")
        v = self.rng.choice(cands)
        del self.env[v.name]
        return [f"{pad}del {v.name}"], False

    # ------------------------------------------------------------------ issue 13: new rules
    def e_roll(self, shape, depth):
        if shape is None:
            raise NoWay("roll of an array")
        rng = self.rng
        e = self.expr(shape, depth - 1)
        shift = rng.choice([1, -1, 2])
        if len(shape) >= 2 and rng.random() < 0.3:
            return f"np.roll({e}, ({shift}, 1), axis=(0, 1))"
        if len(shape) >= 2 and rng.random() < 0.5:
            return f"np.roll({e}, {shift}, axis={rng.randrange(len(shape))})"
        return f"np.roll({e}, {shift})"

    def e_triu(self, shape, depth):
        if shape is None or len(shape) != 2:
            raise NoWay("triu of a matrix")
        fn = self.rng.choice(["triu", "tril"])
        k = self.rng.choice(["", "", ", 1", ", -1", ", k=1"])
        if shape[0] == shape[1] and (shape[0],) in self.reachable() and self.rng.random() < 0.3:
            return f"np.{fn}({self.expr((shape[0],), depth - 1)}{k})"  # of a vector
        return f"np.{fn}({self.expr(shape, depth - 1)}{k})"

    def e_sort(self, shape, depth):
        if shape is None:
            raise NoWay("sort of an array")
        rng = self.rng
        if len(shape) == 1 and rng.random() < 0.3:
            cands = [t for t in self.reachable() if math.prod(t) == shape[0] and len(t) > 1]
            if cands:
                return f"np.sort({self.expr(rng.choice(sorted(cands)), depth - 1)}, axis=None)"
        e = self.expr(shape, depth - 1)
        if len(shape) >= 2 and rng.random() < 0.5:
            return f"np.sort({e}, axis={rng.randrange(len(shape))})"
        return f"np.sort({e})"

    def e_diagonal(self, shape, depth):
        if shape is None or len(shape) != 1:
            raise NoWay("a diagonal is a vector")
        cands = []
        for t in sorted(self.reachable(), key=str):
            if len(t) != 2:
                continue
            for off in (0, 1, -1):
                n = min(t[0], t[1] - off) if off >= 0 else min(t[0] + off, t[1])
                if n == shape[0]:
                    cands.append((t, off))
        if not cands:
            raise NoWay("no diagonal")
        t, off = self.rng.choice(cands)
        e = self.expr(t, depth - 1)
        if off == 0 and self.rng.random() < 0.4:
            return f"({e}).diagonal()" if not e.isidentifier() else f"{e}.diagonal()"
        return f"np.diagonal({e}, {off})" if off else f"np.diagonal({e})"

    def e_mod(self, shape, depth):
        e = self.expr(shape, depth - 1)
        if self.rng.random() < 0.3:
            return f"np.mod({e}, 2.0 + np.cos({self.expr(None, depth - 1)}))"
        return f"np.mod({e}, {self.rng.choice(['1.5', '0.7', '2.0'])})"

    def e_linspace(self, shape, depth):
        if shape is None or len(shape) != 1 or shape[0] < 2:
            raise NoWay("linspace of a vector")
        a, b = self.expr(None, depth - 1), self.expr(None, depth - 1)
        return f"np.linspace({a}, {b}, {shape[0]})"

    def e_arange(self, shape, depth):
        if shape is None or len(shape) != 1:
            raise NoWay("arange of a vector")
        # the count, ceil((stop - start) / step) = shape[0], stays put when the ends move
        a = self.expr(None, depth - 1)
        start = f"({a})" if not re.fullmatch(r"[\w.\[\]\"]+", a) else a
        if self.rng.random() < 0.5:
            return f"np.arange({start}, {start} + {shape[0] - 0.5})"
        step = f"(0.75 + 0.25 * np.sin({self.expr(None, depth - 1)}))"
        return f"np.arange({start}, {start} + {shape[0] - 0.5} * {step}, {step})"

    def e_special(self, shape, depth):
        self.needs.add(SPECIAL)
        e = self.expr(shape, depth - 1)
        fn = self.rng.choice(["expit", "erf", "gammaln", "xlogy", "log_ndtr", "xlog1py"])
        self.features.add("special." + fn)
        if fn == "gammaln":
            return f"{SPECIAL}.gammaln(1.5 + {e} * {e})"
        if fn in ("xlogy", "xlog1py"):
            sub = self.rng.choice(self.subshapes(shape)) if shape is not None else None
            return f"{SPECIAL}.{fn}({e} * {e} + 0.5, 1.2 + np.sin({self.expr(sub, depth - 1)}))"
        return f"{SPECIAL}.{fn}({e})"

    # ------------------------------------------------------------------ return
    def return_expr(self, extra=None):
        """What f returns; `extra(text)` may add terms reading parameters not yet read."""
        if self.output == "tuple":
            parts = [self.scalar_terms(), self.expr(self.out_shape, 2)]
        elif self.output == "array":
            parts = [f"{self.expr(self.out_shape, 2)} + {self.scalar_terms(1)}"]
        else:
            parts = [self.scalar_terms()]
        if extra is not None:
            more = extra(" ".join(parts))
            if more:
                parts[0] = f"{parts[0]} + {more}"
        return ", ".join(parts)

    def scalar_terms(self, n=None):
        rng = self.rng
        live = self.targets()
        rng.shuffle(live)
        terms = []
        for v in live[: n if n is not None else rng.randint(1, 3)]:
            if v.kind == "num":
                terms.append(rng.choice([v.name, f"np.sin({v.name})", f"{v.name} * {v.name}"]))
            else:
                terms.append(rng.choice([f"np.sum({v.name})", f"np.mean(np.sin({v.name}))",
                                         f"np.sum({v.name} * {v.name})", f"np.sum(np.tanh({v.name}))"]))
        if not terms or rng.random() < 0.4:
            terms.append(self.expr(None, 2))
        return " + ".join(terms)

    # ------------------------------------------------------------------ helpers
    def helper(self, k) -> Helper:
        """def h{k}(a, b, scale=0.5[, k=2]): element-wise in a and b, result of their
        broadcast shape (a tuple of two such when tuple_out)."""
        rng = self.rng
        name = f"h{k}"
        tuple_out = rng.random() < self.o["p_tuple_helper"]
        has_k = rng.random() < 0.35
        saved_env, saved_helpers = self.env, self.helpers
        self.env = {"a": Var("a", "num"), "b": Var("b", "num"), "scale": Var("scale", "num")}
        self.helpers = []  # a helper calls no helpers
        self.elementwise = True
        sig = "a, b, k=2, scale=0.5" if has_k else "a, b, scale=0.5"
        lines = [f"def {name}({sig}):"]
        e = self.expr(None, 2)  # element-wise: every shape is a number's here
        lines.append(f"    u = a * scale + np.sin(b) * {e}")
        self.env["u"] = Var("u", "num")
        if has_k:
            lines.append("    for t in range(k):")
            lines.append(f"        u = 0.5 * u + 0.5 * np.sin({self.expr(None, 1)})")
            self.features.add("helper.loop")
        if rng.random() < 0.4:
            self.features.add("helper.branch")
            lines.append(f"    if np.sum(u) > {self.threshold()}:")
            lines.append(f"        u = u * {self.expr(None, 1)}")
            if rng.random() < 0.5:
                lines.append("    else:")
                lines.append(f"        u = np.tanh(u) + {self.expr(None, 1)}")
        if rng.random() < 0.2:
            self.features.add("helper.early_return")
            ret = "u, np.tanh(u)" if tuple_out else "u"
            lines.append(f"    if np.sum(a) > {self.threshold()}:")
            lines.append(f"        return {ret}")
        if tuple_out:
            lines.append(f"    v = np.tanh(u) * {self.expr(None, 1)}")
            lines.append("    return u, v")
            self.features.add("helper.tuple")
        else:
            lines.append("    return u")
        self.env, self.helpers = saved_env, saved_helpers
        self.elementwise = False
        self.features.add("helper.def")
        return Helper(name, tuple_out, has_k, lines)


def _draw_dims(rng: random.Random, o):
    def dim():
        return 1 if rng.random() < o["p_size1"] else rng.randint(2, 3)
    return dim(), dim(), rng.randint(2, 3)


def generate(seed: int, index: int, config: Config | None = None) -> Program:
    """Program number `index` of the run with this seed (deterministic)."""
    config = config or Config()
    rng = random.Random(f"s2sgrad-fuzz:{seed}:{index}")
    g = _Gen(rng, config)
    o = config.options
    m, k, r = _draw_dims(rng, o)
    shape_options = [(m,), (k,), (m, k), (k, m), (1, k), (m, 1), (k,)]
    params: list[Param] = []
    array_names, float_names = iter(["x", "y", "z", "w"]), iter(["a", "b", "c", "d"])
    n_params = rng.randint(1, o["n_params_max"])
    for _ in range(n_params):
        u = rng.random()
        if u < o["p_zero_d"]:
            params.append(Param(next(float_names), "zero_d", None))
            g.features.add("param.zero_d")
        elif u < o["p_zero_d"] + o["p_array"]:
            shape = rng.choice(shape_options)
            if rng.random() < o["p_rank3"]:
                shape = (r,) + (m, k)
                g.features.add("param.rank3")
            if 1 in shape:
                g.features.add("param.size1_axis")
            params.append(Param(next(array_names), "array", shape))
            g.features.add(f"param.rank{len(shape)}")
        else:
            params.append(Param(next(float_names), "float", None))
            g.features.add("param.float")
    if rng.random() < o["p_dict_param"]:
        keys = [k for k in ("W", "b", "c") if rng.random() < 0.7] or ["W"]
        entries = tuple((k, rng.choice(shape_options) if k == "W" else
                         rng.choice(shape_options + [None]) if k == "b" else None) for k in keys)
        params.insert(rng.randint(0, len(params)), Param("p", "dict", None, entries))
        g.features.add("param.dict")
    if rng.random() < o["p_object_param"]:
        params.append(Param("obj", "object", None, (("A", rng.choice(shape_options)), ("s", None))))
        g.features.add("param.object")
    self_param = None
    if rng.random() < o["p_method_target"]:
        self_param = Param("self", "object", None, (("A", rng.choice(shape_options)), ("s", None)))
        g.features.add("target.method")
    if rng.random() < o["p_int_param"]:
        params.insert(rng.randint(max(0, len(params) - 1), len(params)), Param("n", "int", None))
        g.features.add("param.int")
    if rng.random() < o["p_default_param"]:
        params.append(Param("scale", "default", None))
        g.features.add("param.default")
    for p in params:
        if p.kind == "array":
            g.env[p.name] = Var(p.name, "arr", p.shape, fresh=False, param=True)
        elif p.kind == "int":
            g.env[p.name] = Var(p.name, "int", param=True, bound=4)
        elif p.kind == "dict":
            g.dicts.append(p)
            for key, shape in p.entries:
                name = f'{p.name}["{key}"]'
                g.env[name] = Var(name, "num" if shape is None else "arr", shape, fresh=False,
                                  param=True, readonly=True, alt=f'{p.name}.get("{key}", 0.0)')
        elif p.kind != "object":
            g.env[p.name] = Var(p.name, "num", param=True)
    for p in [q for q in params if q.kind == "object"] + ([self_param] if self_param else []):
        g.receivers.append(p.name)
        for key, shape in p.entries:
            name = f"{p.name}.{key}"
            g.env[name] = Var(name, "num" if shape is None else "arr", shape, fresh=False,
                              param=True, readonly=True)
    if self_param is None and rng.random() < o["p_local_import"]:
        g.local_import = rng.choice(["import numpy as np", "import math"])
        g.features.add("stmt.local_import")

    diff = [p.name for p in params if p.kind in ("array", "float", "zero_d", "dict")]
    if len(diff) > 1 and rng.random() < o["p_partial_wrt"]:
        wrt = tuple(rng.sample(diff, rng.randint(1, len(diff) - 1)))
        g.features.add("wrt.partial")
    else:
        wrt = tuple(rng.sample(diff, len(diff)))
        if len(wrt) > 1 and list(wrt) != sorted(wrt, key=diff.index):
            g.features.add("wrt.reordered")
    if len(wrt) == 1:
        wrt_form = rng.choice(["name", "name", "pos", "tuple"])
    else:
        wrt_form = "tuple"

    # output
    u = rng.random()
    if g.reachable() and u < o["p_tuple_output"]:
        g.output = "tuple"
    elif g.reachable() and u < o["p_tuple_output"] + o["p_array_output"]:
        g.output = "array"
    if g.output != "scalar":
        g.out_shape = rng.choice(sorted(g.reachable(), key=str))
    g.features.add("output." + g.output)

    # helpers
    for slot in range(2):
        if rng.random() < o["p_helpers"]:
            g.helpers.append(g.helper(slot))
    dict_defs = []
    for k, p in enumerate(g.dicts):
        if rng.random() < 0.7:
            lines, splat = dict_helper(rng, f"hd{k}", p)
            dict_defs += lines + ["", ""]
            g.dict_helpers.append((f"hd{k}", p.name, splat))
            g.features.add("helper.dict_splat" if splat else "helper.dict")

    body = []
    inactive = [p.name for p in params if p.name in diff and p.name not in wrt and p.kind != "dict"]
    if inactive and rng.random() < o["p_reassign_inactive"]:
        v = g.env[rng.choice(inactive)]
        if rng.random() < 0.15 and v.kind == "arr":
            body.append(f"    {v.name} += {g.const()}")
            g.features.add("stmt.aug_param")
        else:
            body.append(f"    {v.name} = {g.expr(v.shape, 2)}")
        g.features.add("wrt.inactive_reassigned")
    if "scale" in g.env:
        name = g.fresh_name()
        body.append(f"    {name} = scale * {g.leaf(None)}")
        g.bind(name, None)
    n_stmts = rng.randint(o["statements_min"], o["statements_max"])
    body += g.block("    ", 0, n_stmts)
    if not body or not body[-1].lstrip().startswith("return") or body[-1].startswith("        "):
        def extra(ret):
            # every parameter is read (the inactive ones too): a term for those never read
            text = "\n".join(body) + ret
            terms = [f"np.sum(np.sin({p.name}))" if p.kind == "array" else f"np.sin({p.name})"
                     for p in params if p.kind in ("array", "float", "zero_d")
                     and not re.search(rf"\b{p.name}\b", text)]
            for p in params:
                if p.kind == "dict" and not re.search(rf"\b{p.name}\b", text):
                    terms += [f'np.sum(np.sin({p.name}["{k}"]))' for k, _ in p.entries]
            return " + ".join(terms)
        body.append(f"    return {g.return_expr(extra)}")

    if g.local_import:
        body.insert(0, f"    {g.local_import}")
    sig = []
    for p in params:
        sig.append("scale=0.5" if p.kind == "default" else p.name)
    lines = ['"""Generated by tests/fuzz/fuzzgen.py (seed %d, program %d)."""' % (seed, index),
             "import math", "", "import numpy as np"]
    if SPECIAL in g.needs:
        lines.append(f"import scipy.special as {SPECIAL}")
        g.features.add("expr.special")
    lines += ["", ""]
    for h in g.helpers:
        lines += h.lines + ["", ""]
    lines += dict_defs
    if APPLY in g.needs:
        lines += [f"def {APPLY}(fn, u, w=1.0):", "    return fn(u) * w + 0.1 * np.sin(u)", "", ""]
        g.features.add("helper.fn_arg")
    if "kwargs" in g.needs:
        lines += ["def hkw(u, **kw):", '    return u * kw["s"] + kw.get("t", 0.25)', "", ""]
        g.features.add("helper.kwargs")
    if any(p.kind == "object" for p in params):
        lines += class_lines(OBJECT_CLASS, "np.tanh(u) * self.s + 0.1 * u") + ["", ""]
    if self_param is not None:
        lines += class_lines(METHOD_CLASS, "np.sin(u) * self.s + 0.2 * u") + [""]
        lines.append(f"    def f({', '.join(['self'] + sig)}):")
        lines += ["    " + line for line in body]
    else:
        lines.append(f"def f({', '.join(sig)}):")
        lines += body
    source = "\n".join(lines) + "\n"

    kw, omitted = (), ()
    if "scale" in g.env:
        if rng.random() < 0.5:
            omitted = ("scale",)
        else:
            kw = ("scale",)
    elif rng.random() < o["p_kw_call"]:
        kw = (params[-1].name,)
        g.features.add("call.keyword")
    return Program(seed=seed, index=index, source=source, params=params, wrt=wrt,
                   wrt_form=wrt_form, kw=kw, omitted=omitted, features=frozenset(g.features),
                   method=self_param is not None, self_param=self_param)


def class_lines(name, act):
    """A small class: fields A and s, and an element-wise method act(u)."""
    return [f"class {name}:", "    def __init__(self, A, s):", "        self.A = A",
            "        self.s = s", "", "    def act(self, u):", f"        return {act}"]


def dict_helper(rng, name, p):
    """A helper reading the dict p's entries by key: `hd(q, s=1.0)` called with the dict,
    or (splat) `hd(W, b, c=0.0)` called with `**p`.  It returns a number."""
    def term(read, shape):
        return f"np.sum(np.tanh({read}))" if shape is not None else f"np.sin({read})"
    if rng.random() < 0.3:
        sig = ", ".join(f"{k}=0.0" if shape is None else k for k, shape in p.entries)
        # the defaults come last: the keys with a number value move behind
        sig = ", ".join(sorted(sig.split(", "), key=lambda a: "=" in a))
        body = " + ".join(term(k, shape) for k, shape in p.entries)
        return [f"def {name}({sig}):", f"    return {body}"], True
    terms = [term(f'q["{k}"]' if rng.random() < 0.6 else f'q.get("{k}", 0.2)', shape)
             for k, shape in p.entries]
    if rng.random() < 0.3:
        terms.append('q.get("zz", 0.3)')  # a key the dict does not have
    return [f"def {name}(q, s=1.0):", f"    return ({' + '.join(terms)}) * s"], False


def draw_inputs(program: Program, rng: np.random.Generator) -> dict:
    """Random arguments for the program's parameters."""
    out = {}
    for p in program.params:
        if p.kind == "array":
            out[p.name] = rng.uniform(-1.0, 1.0, p.shape)
        elif p.kind == "zero_d":
            out[p.name] = np.array(rng.uniform(-1.0, 1.0))
        elif p.kind == "float":
            out[p.name] = float(rng.uniform(-1.0, 1.0))
        elif p.kind == "int":
            out[p.name] = int(rng.choice([0, 1, 2, 2, 3, 3]))
        elif p.kind == "default":
            out[p.name] = float(rng.uniform(0.2, 0.9))
        elif p.kind in ("dict", "object"):
            out[p.name] = _draw_entries(p, rng)
    if program.self_param is not None:
        out["self"] = _draw_entries(program.self_param, rng)
    return out


def _draw_entries(p, rng):
    return {k: float(rng.uniform(-1.0, 1.0)) if shape is None else rng.uniform(-1.0, 1.0, shape)
            for k, shape in p.entries}
