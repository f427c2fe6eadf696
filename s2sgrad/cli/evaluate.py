"""A tiny evaluator for module constants and default values, so reading a file never
runs its code: literals, arithmetic, names already evaluated, and calls of a short list
of pure NumPy, math and builtin functions (array constructors, elementary functions).

    W = np.array([1.0, 2.0]) / 3     # evaluated
    SCALE = math.sqrt(2) * N          # evaluated when N was
    DATA = np.loadtxt("data.csv")     # NotStatic: not in the list, never called

Sizes are bounded before anything is allocated (`[0.0] * 10**9` and `np.ones(10**9)` are
refused), as are integer powers that would take long to compute.
"""
from __future__ import annotations

import ast
import builtins
import functools
import math
import operator
import types

import numpy as np

MAX_SIZE = 10 ** 6  # elements of an evaluated sequence or array, and integer call arguments

NUMPY_CALLS = {
    "array", "asarray", "zeros", "ones", "full", "eye", "identity", "arange", "linspace", "logspace",
    "diag", "concatenate", "stack", "vstack", "hstack", "reshape", "tile", "repeat", "outer", "dot",
    "zeros_like", "ones_like", "full_like", "transpose", "cumsum", "sum", "prod", "mean",
    "float64", "float32", "int64", "int32", "sqrt", "exp", "log", "log10", "sin", "cos", "tan",
    "tanh", "abs", "deg2rad", "radians", "square",
}
NUMPY_VALUES = {"pi", "e", "inf", "nan", "newaxis"}
NUMPY_LINALG_CALLS = {"inv", "det", "norm", "cholesky", "solve"}
BUILTIN_CALLS = {"float", "int", "abs", "min", "max", "round", "len", "sum", "range", "list", "tuple", "pow"}
ARRAY_ATTRIBUTES = {"T", "shape", "ndim", "size"}
ARRAY_METHODS = {"reshape", "astype", "copy", "transpose", "flatten", "ravel", "sum"}
# the decorators a def may carry: they return a function that computes the same
DECORATORS = (functools.cache, functools.lru_cache)

BINARY = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
          ast.Div: operator.truediv, ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod,
          ast.Pow: operator.pow, ast.MatMult: operator.matmul}
UNARY = {ast.UAdd: operator.pos, ast.USub: operator.neg, ast.Not: operator.not_, ast.Invert: operator.invert}


class NotStatic(Exception):
    """An expression outside what is evaluated without running the file; `node` is where."""

    def __init__(self, reason: str, node: ast.AST):
        super().__init__(reason)
        self.reason, self.node = reason, node


def is_safe_module(value) -> bool:
    return value in (np, np.linalg, math, functools)


def is_data(value) -> bool:
    """A value a constant may hold: numbers, strings, arrays, and tuples or lists of them."""
    if isinstance(value, (int, float, complex, bool, str, type(None), np.ndarray, np.generic)):
        return True
    return isinstance(value, (tuple, list)) and all(is_data(v) for v in value)


def evaluate(node: ast.expr, namespace: dict):
    """The value of `node`, with names looked up in `namespace`; NotStatic when outside the subset."""
    return _Evaluator(namespace).eval(node)


class _Evaluator:
    def __init__(self, namespace: dict):
        self.namespace = namespace

    def eval(self, node):
        method = getattr(self, f"eval_{type(node).__name__}", None)
        if method is None:
            raise NotStatic(f"{_describe(node)} is not evaluated when a file is read", node)
        return method(node)

    def eval_Constant(self, node):
        return node.value

    def eval_Tuple(self, node):
        return tuple(self.eval(e) for e in self._no_starred(node.elts))

    def eval_List(self, node):
        return [self.eval(e) for e in self._no_starred(node.elts)]

    def _no_starred(self, elts):
        for e in elts:
            if isinstance(e, ast.Starred):
                raise NotStatic("a starred item is not evaluated when a file is read", e)
        return elts

    def eval_Name(self, node):
        if node.id in self.namespace:
            return self.namespace[node.id]
        if node.id in BUILTIN_CALLS or node.id in ("True", "False", "None"):
            return getattr(builtins, node.id)
        raise NotStatic(f"name `{node.id}` is not a constant defined above it", node)

    def eval_UnaryOp(self, node):
        return _checked(UNARY[type(node.op)], [self.eval(node.operand)], node)

    def eval_BinOp(self, node):
        left, right = self.eval(node.left), self.eval(node.right)
        _guard_binary(node, left, right)
        return _checked(BINARY[type(node.op)], [left, right], node)

    def eval_Attribute(self, node):
        base = self.eval(node.value)
        allowed = ((base is math and not node.attr.startswith("_"))
                   or (base is np and node.attr in NUMPY_CALLS | NUMPY_VALUES | {"linalg"})
                   or (base is np.linalg and node.attr in NUMPY_LINALG_CALLS)
                   or (base is functools and node.attr in ("cache", "lru_cache"))
                   or (isinstance(base, np.ndarray) and node.attr in ARRAY_ATTRIBUTES | ARRAY_METHODS))
        if not allowed:
            raise NotStatic(f"`{ast.unparse(node)}` is not among what is evaluated when a file is read", node)
        return getattr(base, node.attr)

    def eval_Subscript(self, node):
        value = self.eval(node.value)
        if not is_data(value):
            raise NotStatic(f"`{ast.unparse(node.value)}` is not a constant", node.value)
        return _checked(operator.getitem, [value, self.eval(node.slice)], node)

    def eval_Slice(self, node):
        parts = [None if p is None else self.eval(p) for p in (node.lower, node.upper, node.step)]
        return slice(*parts)

    def eval_Call(self, node):
        func = self.eval(node.func)
        if not _callable_allowed(func):
            raise NotStatic(f"the call `{ast.unparse(node.func)}(...)` is not evaluated when a file is read", node)
        if any(isinstance(a, ast.Starred) for a in node.args) or any(k.arg is None for k in node.keywords):
            raise NotStatic("*args and **kwargs are not evaluated when a file is read", node)
        args = [self.eval(a) for a in node.args]
        kwargs = {k.arg: self.eval(k.value) for k in node.keywords}
        for value in list(args) + list(kwargs.values()):
            if _int_size(value) > MAX_SIZE:
                raise NotStatic(f"an argument this large (over {MAX_SIZE}) is not evaluated when a file is read", node)
        if func is np.arange and _arange_length(args) > MAX_SIZE:
            raise NotStatic(f"an array of over {MAX_SIZE} elements is not evaluated when a file is read", node)
        return _checked(func, args, node, kwargs)


def _arange_length(args) -> float:
    """How many elements np.arange(*args) would make, before it makes them."""
    if not args or not all(isinstance(a, (int, float, np.integer, np.floating)) for a in args):
        return 0
    start, stop, step = (0, args[0], 1) if len(args) == 1 else (args[0], args[1], args[2] if len(args) > 2 else 1)
    return (stop - start) / step if step else 0


def _callable_allowed(func) -> bool:
    if func in DECORATORS:
        return True
    if isinstance(func, types.BuiltinFunctionType) and getattr(func, "__self__", None) is math:
        return True
    if isinstance(getattr(func, "__self__", None), np.ndarray):  # an allowed array method
        return True
    names = [(np, NUMPY_CALLS), (np.linalg, NUMPY_LINALG_CALLS), (builtins, BUILTIN_CALLS)]
    return any(getattr(module, n, None) is func for module, allowed in names for n in allowed)


def _int_size(value) -> int:
    """The largest integer in an argument (a count, a shape's product)."""
    if isinstance(value, bool):
        return 0
    if isinstance(value, (int, np.integer)):
        return abs(int(value))
    if isinstance(value, (tuple, list)) and value and all(isinstance(v, (int, np.integer)) for v in value):
        return abs(math.prod(int(v) for v in value))
    return 0


def _length(value) -> int:
    return len(value) if isinstance(value, (str, list, tuple)) else int(np.size(value)) \
        if isinstance(value, np.ndarray) else 1


def _guard_binary(node, left, right):
    """Refuse before computing what would take too long or too much memory."""
    if isinstance(node.op, ast.Mult):
        for seq, count in ((left, right), (right, left)):
            if isinstance(seq, (str, list, tuple)) and isinstance(count, int) and len(seq) * count > MAX_SIZE:
                raise NotStatic("a sequence this long is not evaluated when a file is read", node)
    if isinstance(node.op, (ast.Pow, ast.LShift)) and isinstance(right, int) and abs(right) > 4096 \
            and isinstance(left, int):
        raise NotStatic("an integer power this large is not evaluated when a file is read", node)


def _checked(func, args, node, kwargs=None):
    try:
        result = func(*args, **(kwargs or {}))
    except Exception as exc:  # noqa: BLE001 - the constant itself is wrong: say where
        raise NotStatic(f"evaluating it raised {type(exc).__name__}: {exc}", node) from None
    if _length(result) > MAX_SIZE:
        raise NotStatic(f"a value of over {MAX_SIZE} elements is not evaluated when a file is read", node)
    return result


def _describe(node) -> str:
    names = {"Lambda": "a lambda", "ListComp": "a list comprehension", "GeneratorExp": "a generator",
             "DictComp": "a dict comprehension", "Dict": "a dict", "Set": "a set", "Await": "await",
             "JoinedStr": "an f-string", "NamedExpr": "`:=`", "IfExp": "`a if c else b`",
             "Compare": "a comparison", "BoolOp": "`and` / `or`"}
    return names.get(type(node).__name__, f"`{ast.unparse(node)}`")
