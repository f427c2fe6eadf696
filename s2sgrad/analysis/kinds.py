"""Kinds: what each variable holds — a number, an array (of known rank or not), a list.

The adjoint of a statement depends on it: `d_a += d_z * b` for numbers, but
`d_a += np.sum(d_z * b)` for a number that was broadcast against an array, and
`d_x = np.zeros_like(x)` to start an array's adjoint.  The generated code is
specialised to the kinds of the arguments it is called with (api.py); inside the
function the kinds follow from the statements, by a flow-insensitive fixpoint
(a variable holding a number on one path and an array on another is an array of
unknown rank, and gets the code that works for both).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import ir
from ..rules import registry
from ..rules.array import core as array_rules


class Identity:
    """An object compared by identity (an argument the code is specialised on)."""

    __slots__ = ("obj",)

    def __init__(self, obj):
        self.obj = obj

    def __eq__(self, other):
        return isinstance(other, Identity) and other.obj is self.obj

    def __hash__(self):
        return id(self.obj)


@dataclass(frozen=True)
class Kind:
    tag: str                    # "scalar" | "array" | "list" | "dict" | "other" | "static"
    ndim: int | None = None     # arrays: the rank, None when unknown
    elem: "Kind | None" = None  # lists: the kind of the elements
    dtype: str | None = None    # arguments' arrays: "float64", "float32", ...
    fields: tuple = ()          # dict arguments: ((key, kind of its value), ...), in order
    value: Identity | None = None  # "static": the function or object passed (frontend/reach.py)
    items: tuple | None = None  # tuples of known length: the kind of each position
    by_attribute: bool = False  # dict arguments: a dataclass's fields, read as `p.W` (not `p["W"]`)

    def __str__(self):
        if self.tag == "static":
            return f"static({type(self.value.obj).__name__})"
        if self.tag == "array":
            return f"array(ndim={'?' if self.ndim is None else self.ndim})"
        if self.tag == "list":
            return f"list of {self.elem}"
        if self.tag == "dict":
            opening = "dataclass(" if self.by_attribute else "dict("
            return opening + ", ".join(f"{k!r}: {v}" for k, v in self.fields) + ")"
        return self.tag


SCALAR = Kind("scalar")
OTHER = Kind("other")
ANY_ARRAY = Kind("array")


def static(obj) -> Kind:
    """The kind of an argument the code is specialised on: that very object."""
    return Kind("static", value=Identity(obj))


def is_static(k) -> bool:
    return k is not None and k.tag == "static"


def array(ndim) -> Kind:
    """An array of this rank; a negative one (x[0] of a guessed number) is not known."""
    if ndim is not None and ndim < 0:
        return ANY_ARRAY
    return SCALAR if ndim == 0 else Kind("array", ndim)


def list_of(elem) -> Kind:
    return Kind("list", elem=elem)


def tuple_of(items) -> Kind:
    """A tuple (`return a, b`): a list to the passes, which also knows each position's kind."""
    elem = None
    for k in items:
        elem = join(elem, k)
    return Kind("list", elem=elem, items=tuple(items))


def item_kind(k: Kind, index) -> Kind | None:
    """The kind of element `index` (an int) of a list or tuple kind."""
    if k.items is not None and isinstance(index, int) and -len(k.items) <= index < len(k.items):
        return k.items[index]
    return k.elem


def is_scalar(k) -> bool:
    return k == SCALAR


def is_array(k) -> bool:
    return k is not None and k.tag == "array"


def is_list(k) -> bool:
    return k is not None and k.tag == "list"


def is_dict(k) -> bool:
    """A dict argument: flattened to one parameter per key before any pass reads it."""
    return k is not None and k.tag == "dict"


def dict_of(fields, by_attribute: bool = False) -> Kind:
    """A dict argument's kind; `by_attribute`: a dataclass taken as wrt, flattened the same
    way, whose fields the code reads as attributes."""
    return Kind("dict", fields=tuple(fields), by_attribute=by_attribute)


def rank(k) -> int | None:
    """0 for a number, an array's ndim (None when unknown), None for anything else."""
    if k == SCALAR:
        return 0
    return k.ndim if is_array(k) else None


def join(a: Kind | None, b: Kind | None) -> Kind | None:
    """The kind of a variable that may hold either (None: nothing known yet)."""
    if a is None or a == b:
        return b
    if b is None:
        return a
    if OTHER in (a, b):  # None first, an array later: the array is what matters
        return b if a == OTHER else a
    if a.tag == b.tag == "list":
        if a.items is not None and b.items is not None and len(a.items) == len(b.items):
            return tuple_of([join(x, y) for x, y in zip(a.items, b.items)])
        return list_of(join(a.elem, b.elem))
    if a.tag == b.tag == "array" and a.ndim == b.ndim:
        return Kind("array", a.ndim)
    return ANY_ARRAY


def of_value(v) -> Kind:
    """The kind of a runtime value (an argument, a module constant)."""
    if isinstance(v, (bool, int, float, np.number, np.bool_)):
        return SCALAR
    if isinstance(v, np.ndarray):
        return Kind("array", v.ndim, dtype=v.dtype.name)
    if isinstance(v, (list, tuple)):
        elem = None
        for x in v:
            elem = join(elem, of_value(x))
        return list_of(elem if elem is not None else SCALAR)
    if isinstance(v, dict):
        return dict_of((k, of_value(x)) for k, x in v.items())
    return OTHER


def broadcast(kinds) -> Kind | None:
    """The kind of an element-wise result."""
    kinds = [k for k in kinds if k is not None and k != OTHER]
    if not kinds:
        return None
    if all(k == SCALAR for k in kinds):
        return SCALAR
    if any(k.tag not in ("scalar", "array") for k in kinds):
        return ANY_ARRAY
    ndims = [0 if k == SCALAR else k.ndim for k in kinds]
    return ANY_ARRAY if None in ndims else array(max(ndims))


class KindInference:
    """Kinds of every variable of one function, given the kinds of its parameters."""

    def __init__(self, fn: ir.Function, params: dict, callee_result=None, shared: bool = False):
        self.fn = fn
        # shared: read the caller's dict as it is (`of` and `ranks` never bind; a copy per
        # question costs a pass over every variable)
        self.env: dict[str, Kind] = params if shared else dict(params)
        self.callee_result = callee_result or (lambda pyfunc, kinds: ANY_ARRAY)

    def run(self) -> dict[str, Kind]:
        for _ in range(20):
            before = dict(self.env)
            self.block(self.fn.body)
            if self.env == before:
                break
        return self.env

    def bind(self, name: str, kind):
        self.env[name] = join(self.env.get(name), kind)

    def block(self, stmts):
        for s in stmts:
            self.statement(s)

    def statement(self, s):
        if isinstance(s, ir.Assign):
            for t, v in zip(s.targets, s.values):
                if isinstance(t, ir.Name):
                    value = ir.BinOp(s.aug, t, v) if s.aug else v
                    self.bind(t.id, self.of(value))
        elif isinstance(s, ir.CallAssign):
            kinds = [self.of(a) for a in s.call.args]
            func = s.call.func  # a user function, or a custom_derivative wrapper
            result = self.callee_result(func.key if isinstance(func, ir.UserFn) else func.rule, kinds)
            for k, t in enumerate(s.targets):
                self.bind(t.id, (item_kind(result, k) if is_list(result) else ANY_ARRAY) if s.unpack else result)
        elif isinstance(s, ir.Append):
            self.bind(s.target.id, list_of(self.of(s.value)))
        elif isinstance(s, ir.Pop) and isinstance(s.into, ir.Name):
            tape = self.env.get(s.target.id)
            self.bind(s.into.id, tape.elem if is_list(tape) else None)
        elif isinstance(s, ir.ForRange):
            self.bind(s.target.id, SCALAR)
        elif isinstance(s, ir.ForEach):
            seq = self.env.get(s.seq.id)
            if is_list(seq):
                self.bind(s.target.id, seq.elem)
            elif is_array(seq):
                self.bind(s.target.id, ANY_ARRAY if seq.ndim is None else array(seq.ndim - 1))
        for block in ir.blocks(s):
            self.block(block)

    # ------------------------------------------------------------------ expressions
    def of(self, e: ir.Expr) -> Kind | None:
        if isinstance(e, ir.Name):
            return self.env.get(e.id)
        if isinstance(e, ir.Const):
            return SCALAR if isinstance(e.value, (int, float, bool)) else OTHER
        if isinstance(e, ir.Global):
            return of_value(e.value)
        if isinstance(e, ir.Lib):
            return SCALAR  # math.pi, np.e
        if isinstance(e, ir.Attr):
            return list_of(SCALAR) if e.attr == "shape" else SCALAR if e.attr in ("ndim", "size") else OTHER
        if isinstance(e, ir.BinOp):
            left, right = self.of(e.left), self.of(e.right)
            if (is_list(left) or is_list(right)) and not (is_array(left) or is_array(right)):
                return list_of((left if is_list(left) else right).elem)  # xs + ys, xs * n: another length
            return broadcast([left, right])
        if isinstance(e, ir.UnaryOp):
            return SCALAR if e.op == "not" else self.of(e.operand)
        if isinstance(e, ir.BoolOp):
            out = None
            for v in e.values:
                out = join(out, self.of(v))
            return out
        if isinstance(e, ir.Compare):
            return broadcast([self.of(e.left)] + [self.of(c) for c in e.comparators])
        if isinstance(e, ir.IfExp):
            return join(self.of(e.body), self.of(e.orelse))
        if isinstance(e, ir.TupleExpr) and e.elts:
            return tuple_of([self.of(x) for x in e.elts])
        if isinstance(e, (ir.TupleExpr, ir.ListExpr)):
            elem = None
            for x in e.elts:
                elem = join(elem, self.of(x))
            return list_of(elem)  # `[]`: its element kind comes with what is appended
        if isinstance(e, ir.Subscript):
            return self.subscript(e)
        if isinstance(e, ir.Call):
            return self.call(e)
        return ANY_ARRAY  # foreign values: the code that works for any value

    def subscript(self, e: ir.Subscript) -> Kind | None:
        base = self.of(e.value)
        if is_list(base):
            if isinstance(e.index, ir.Slice):
                return base  # xs[1:] is a list of the same items
            return item_kind(base, e.index.value) if isinstance(e.index, ir.Const) else base.elem
        if not is_array(base):
            return None if base is None else ANY_ARRAY
        items = e.index.elts if isinstance(e.index, ir.TupleExpr) else [e.index]
        dropped = added = 0
        for item in items:
            k = self.of(item)
            if isinstance(item, ir.Slice) or (isinstance(item, ir.Const) and item.value is Ellipsis):
                continue
            if isinstance(item, ir.Const) and item.value is None:
                added += 1
            elif k == SCALAR:
                dropped += 1
            else:
                return ANY_ARRAY  # an integer array or a mask: rank known only at run time
        return ANY_ARRAY if base.ndim is None else array(base.ndim - dropped + added)

    def call(self, e: ir.Call) -> Kind | None:
        func = e.func
        args = [self.of(a) for a in e.args]
        if not isinstance(func, ir.Lib):
            return ANY_ARRAY
        key = (func.module, func.attr)
        if key == ("s2sgrad", "stop_gradient"):
            return args[0]
        prim = registry.rule_of_call(e)
        if prim is not None:
            return self.primitive(prim, e)
        if func.module == "numpy" and func.attr in CONSTRUCTOR_RANKS:
            return self.constructor(func.attr, e, args)
        if func.module == "runtime":
            return ANY_ARRAY
        if func.module == "math":
            return SCALAR
        if func.module == "builtins":
            if func.attr in ("abs",):
                return args[0]
            if func.attr in ("max", "min"):
                return broadcast(args)
            if func.attr == "list":
                return args[0] if args and is_list(args[0]) else list_of(None)
            return SCALAR
        if func.attr in ("shape",):
            return list_of(SCALAR)
        if func.attr in ("size", "ndim", "count_nonzero"):
            return SCALAR
        if registry.scalar_rule_of(func) is not None:
            return broadcast(args)  # element-wise
        return ANY_ARRAY

    def ranks(self, bound: dict) -> dict:
        """The rank of each bound argument of a primitive (0 for numbers, None if unknown)."""
        ndims, lists = {}, set()
        for name, arg in bound.items():
            k = None if isinstance(arg, list) else self.of(arg)
            if is_list(k):  # np.concatenate([a, b]): the rank of the elements
                if not isinstance(arg, (ir.ListExpr, ir.TupleExpr)):
                    lists.add(name)
                k = k.elem
            ndims[name] = 0 if k == SCALAR else k.ndim if is_array(k) else None
        ndims[array_rules.LISTS] = frozenset(lists)
        return ndims

    def primitive(self, rule, e: ir.Call) -> Kind | None:
        bound = array_rules.bind(rule, e)
        ndims = self.ranks(bound)
        if rule.result_kind == "tuple":
            return list_of(ANY_ARRAY)
        nd = rule.ndim(array_rules.ArgInfo(ndims, bound)) if rule.ndim else None
        return ANY_ARRAY if nd is None else array(nd)

    def constructor(self, name, e: ir.Call, args) -> Kind:
        rank = CONSTRUCTOR_RANKS[name]
        if rank == "like":
            return args[0] if args and args[0] is not None else ANY_ARRAY
        if rank == "shape":
            shape = e.args[0] if e.args else dict(e.kwargs).get("shape")
            if isinstance(shape, (ir.TupleExpr, ir.ListExpr)):
                return Kind("array", len(shape.elts))
            k = self.of(shape) if shape is not None else None
            return Kind("array", 1) if k == SCALAR else ANY_ARRAY
        return Kind("array", rank)


CONSTRUCTOR_RANKS = {"zeros": "shape", "ones": "shape", "empty": "shape", "full": "shape",
                     "zeros_like": "like", "ones_like": "like", "empty_like": "like",
                     "full_like": "like", "eye": 2, "identity": 2, "arange": 1, "linspace": 1}


def guess_params(fn: ir.Function) -> dict[str, Kind]:
    """Kinds of the parameters before any call, from how the body uses them.

    Used only for `.source` before the first call; a call with other kinds of
    arguments generates code for those.
    """
    arrays, lists = set(), set()
    uses_numpy = any(isinstance(sub, ir.Lib) and sub.module in ("numpy", "scipy.special")
                     for s in ir.walk_stmts(fn.body) for e in ir.stmt_exprs(s) for sub in ir.subexprs(e))
    for s in ir.walk_stmts(fn.body):
        if isinstance(s, ir.ForEach):
            lists.add(s.seq.id)
        if isinstance(s, ir.Append):
            lists.add(s.target.id)
        for e in ir.stmt_exprs(s):
            for sub in ir.subexprs(e):
                if isinstance(sub, ir.Call) and isinstance(sub.func, ir.Lib) and \
                        (sub.func.module in ("numpy", "scipy.special") or sub.method):
                    arrays |= {a.id for a in sub.args if isinstance(a, ir.Name)}
                if isinstance(sub, ir.Attr) and isinstance(sub.value, ir.Name):
                    arrays.add(sub.value.id)
                if isinstance(sub, ir.Subscript) and isinstance(sub.value, ir.Name):
                    items = sub.index.elts if isinstance(sub.index, ir.TupleExpr) else [sub.index]
                    plain = len(items) == 1 and not isinstance(items[0], ir.Slice) and \
                        not (isinstance(items[0], ir.Const) and items[0].value in (None, Ellipsis))
                    (lists if plain and not uses_numpy else arrays).add(sub.value.id)
            if isinstance(s, ir.Assign):
                for t in s.targets:
                    if isinstance(t, ir.Subscript):
                        lists.add(ir.target_name(t))
    out = {}
    for p in fn.params:
        out[p] = ANY_ARRAY if p in arrays else list_of(SCALAR) if p in lists else SCALAR
    return out
