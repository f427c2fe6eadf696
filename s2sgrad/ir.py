"""The intermediate representation every pass reads and writes.

Expressions are a small tree close to Python's own (so printing gives back the user's
statement), statements are assignments plus structured control flow.  The frontend
lowers a function into this IR, the differentiator builds the adjoint function in it,
the optimizer rewrites it and the printers in codegen turn it into Python source.
Every node keeps the SourcePos of the user code it came from, for error messages.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .errors import SourcePos


@dataclass(eq=False)
class Node:
    pos: SourcePos | None = field(default=None, kw_only=True, repr=False)


# ----------------------------------------------------------------------------- expressions
class Expr(Node):
    pass


@dataclass(eq=False)
class Name(Expr):
    id: str


@dataclass(eq=False)
class Const(Expr):
    value: Any


@dataclass(eq=False)
class Global(Expr):
    """A module constant or closure value the function reads; emitted into the module."""
    name: str
    value: Any
    origin: str  # the module (or closure owner) it came from, to keep same-named globals apart


@dataclass(eq=False)
class Lib(Expr):
    """A library object with a fixed printed name: math.sin, math.pi, abs, np.sign..."""
    module: str  # "math", "builtins", "numpy", "s2sgrad"
    attr: str


@dataclass(eq=False)
class UserFn(Expr):
    """A user function that s2sgrad copies into the generated module (and differentiates)."""
    key: Any  # the Python function object


@dataclass(eq=False)
class CustomFn(Expr):
    """A function with hand-written derivative rules (s2sgrad.custom_derivative): called
    as written, never differentiated; its rules give the derivative."""
    rule: Any  # the custom.CustomDerivative wrapper
    name: str  # how it is printed unless the module renames it


@dataclass(eq=False)
class Foreign(Expr):
    """A callable with no rule and no source: allowed only where no derivative flows."""
    obj: Any
    name: str
    display: str = ""  # how the user wrote it, for messages: math.gamma


@dataclass(eq=False)
class Ref(Expr):
    """A function the generated module itself defines (vjp_h), or a bound method (d_xs.pop)."""
    name: str


@dataclass(eq=False)
class Raw(Expr):
    """Source text kept verbatim (an f-string to print): never differentiated."""
    text: str
    reads: frozenset = frozenset()


@dataclass(eq=False)
class BinOp(Expr):
    op: str  # + - * / // % **
    left: Expr
    right: Expr


@dataclass(eq=False)
class UnaryOp(Expr):
    op: str  # - + not
    operand: Expr


@dataclass(eq=False)
class BoolOp(Expr):
    op: str  # and or
    values: list[Expr]


@dataclass(eq=False)
class Compare(Expr):
    left: Expr
    ops: list[str]
    comparators: list[Expr]


@dataclass(eq=False)
class Call(Expr):
    func: Expr  # Lib, UserFn, CustomFn or Foreign
    args: list[Expr]
    kwargs: list[tuple[str, Expr]] = field(default_factory=list)
    # How the user spelled a NumPy method or property: `x.sum(axis=0)` is
    # Call(np.sum, [x], axis=0) with method="sum"; `x.T` has method="T", prop=True.
    method: str | None = None
    prop: bool = False


@dataclass(eq=False)
class Attr(Expr):
    """An array attribute that is not differentiated: x.shape, x.ndim, x.size, x.dtype."""
    value: Expr
    attr: str


@dataclass(eq=False)
class Slice(Expr):
    """`lower:upper:step` inside an index; missing parts are None."""
    lower: Expr | None
    upper: Expr | None
    step: Expr | None


@dataclass(eq=False)
class Subscript(Expr):
    value: Expr
    index: Expr


@dataclass(eq=False)
class IfExp(Expr):
    test: Expr
    body: Expr
    orelse: Expr


@dataclass(eq=False)
class TupleExpr(Expr):
    elts: list[Expr]


@dataclass(eq=False)
class ListExpr(Expr):
    elts: list[Expr]


# ------------------------------------------------------------------------------ statements
class Stmt(Node):
    pass


@dataclass(eq=False)
class Assign(Stmt):
    """`t1, t2 = v1, v2` with Python's evaluate-all-then-bind semantics.

    With `aug` set (one target and one value) it is `t aug= v`, meaning t = t aug v.
    `role` tells the differentiator what the statement is for: "user" statements are
    differentiated; "flag" and "counter" statements are bookkeeping the lowering added.
    """
    targets: list[Expr]  # Name or Subscript(Name, index)
    values: list[Expr]
    aug: str | None = None
    role: str = "user"
    # an adjoint update `d_x += v` whose v is a new array of exactly x's shape: onto
    # zeros it may become `d_x = v` (optimize.py); other updates rely on += broadcasting
    exact: bool = False


@dataclass(eq=False)
class CallAssign(Stmt):
    """`target = user_fn(args)` or `a, b = user_fn(args)`: a call the adjoint reverses as a
    unit (call.func is a UserFn, or a CustomFn whose rule gives the adjoint)."""
    targets: list[Name]
    unpack: bool
    call: Call


@dataclass(eq=False)
class Append(Stmt):
    target: Name
    value: Expr
    pair: int | None = None  # a tape push: the id it shares with the pop that undoes it


@dataclass(eq=False)
class Pop(Stmt):
    """`target.pop()`; with `into` set, `into = target.pop()` (tapes, list adjoints)."""
    target: Name
    into: Expr | None = None
    pair: int | None = None  # a tape pop: the id it shares with its push


@dataclass(eq=False)
class ExprStmt(Stmt):
    """A call kept for its effect only (print, raise, assert): no derivative flows."""
    expr: Expr
    kind: str = "expr"  # "expr" | "raise" | "assert"
    msg: Expr | None = None


@dataclass(eq=False)
class If(Stmt):
    test: Expr
    body: list[Stmt]
    orelse: list[Stmt] = field(default_factory=list)


@dataclass(eq=False)
class ForRange(Stmt):
    """`for target in range(*args)`; `reverse` and `limit` describe generated reverse loops."""
    target: Name
    args: list[Expr]
    body: list[Stmt]
    reverse: bool = False
    limit: Expr | None = None  # iterate only the first `limit` values of the range


@dataclass(eq=False)
class ForEach(Stmt):
    """`for target in seq` over a list or tuple held in a variable."""
    target: Name
    seq: Name
    body: list[Stmt]


@dataclass(eq=False)
class While(Stmt):
    test: Expr
    body: list[Stmt]


@dataclass(eq=False)
class Break(Stmt):
    pass


@dataclass(eq=False)
class Continue(Stmt):
    """Only between the frontend and controlflow.py, which makes it explicit."""


@dataclass(eq=False)
class TapeNew(Stmt):
    """A typed tape for compiled targets (tapes.py): an empty array of `dtype` and its count."""
    tape: Name
    count: Name
    dtype: str  # a NumPy scalar type name: "float64", "int64", "bool_"


@dataclass(eq=False)
class TapeReserve(Stmt):
    """Room for `extra` more pushes, made before a loop whose trip count is known at entry."""
    tape: Name
    count: Name
    extra: Expr


@dataclass(eq=False)
class TapePush(Stmt):
    """`tape[count] = value; count += 1`; `checked`: make room first (inside a while)."""
    tape: Name
    count: Name
    value: Expr
    checked: bool


@dataclass(eq=False)
class TapePop(Stmt):
    """`count -= 1; into = tape[count]` (only the first with `into` None)."""
    tape: Name
    count: Name
    into: Expr | None


@dataclass(eq=False)
class Comment(Stmt):
    text: str


@dataclass(eq=False)
class Return(Stmt):
    value: Expr | None


@dataclass(eq=False)
class Function(Node):
    name: str
    params: list[str]
    defaults: dict[str, Expr]
    body: list[Stmt]
    result: str | None = None  # the variable the lowered body leaves its return value in
    doc: str = ""
    file: str = ""
    line: int = 0
    pyfunc: Any = None


# ------------------------------------------------------------------------------- traversal
def children(e: Expr) -> list[Expr]:
    """Direct sub-expressions of an expression."""
    if isinstance(e, BinOp):
        return [e.left, e.right]
    if isinstance(e, UnaryOp):
        return [e.operand]
    if isinstance(e, (BoolOp,)):
        return list(e.values)
    if isinstance(e, Compare):
        return [e.left, *e.comparators]
    if isinstance(e, Call):
        return [e.func, *e.args, *(v for _, v in e.kwargs)]
    if isinstance(e, Subscript):
        return [e.value, e.index]
    if isinstance(e, IfExp):
        return [e.test, e.body, e.orelse]
    if isinstance(e, (TupleExpr, ListExpr)):
        return list(e.elts)
    if isinstance(e, Attr):
        return [e.value]
    if isinstance(e, Slice):
        return [p for p in (e.lower, e.upper, e.step) if p is not None]
    return []


def subexprs(e: Expr):
    """An expression and all its sub-expressions, outermost first."""
    yield e
    for c in children(e):
        yield from subexprs(c)


def stmt_exprs(s: Stmt) -> list[Expr]:
    """The expressions a statement holds itself (not those of nested blocks)."""
    if isinstance(s, Assign):
        return [*s.targets, *s.values]
    if isinstance(s, CallAssign):
        return [s.call]
    if isinstance(s, Append):
        return [s.value]
    if isinstance(s, ExprStmt):
        return [s.expr] + ([s.msg] if s.msg is not None else [])
    if isinstance(s, (If, While)):
        return [s.test]
    if isinstance(s, ForRange):
        return list(s.args) + ([s.limit] if s.limit is not None else [])
    if isinstance(s, Return) and s.value is not None:
        return [s.value]
    if isinstance(s, Pop) and s.into is not None:
        return [s.into]
    if isinstance(s, TapeReserve):
        return [s.extra]
    if isinstance(s, TapePush):
        return [s.value]
    if isinstance(s, TapePop) and s.into is not None:
        return [s.into]
    return []


def names_in(e: Expr | None) -> set[str]:
    """Every local variable an expression reads."""
    if e is None:
        return set()
    if isinstance(e, Name):
        return {e.id}
    if isinstance(e, Raw):
        return set(e.reads)
    out: set[str] = set()
    for c in children(e):
        out |= names_in(c)
    return out


def walk_stmts(stmts: list[Stmt]):
    """Every statement, nested ones included, in source order."""
    for s in stmts:
        yield s
        for block in blocks(s):
            yield from walk_stmts(block)


def blocks(s: Stmt) -> list[list[Stmt]]:
    if isinstance(s, If):
        return [s.body, s.orelse]
    if isinstance(s, (ForRange, ForEach, While)):
        return [s.body]
    return []


def target_name(t: Expr) -> str:
    """The variable a target writes: `x` for x, `s` for s[i]."""
    return t.id if isinstance(t, Name) else target_name(t.value)


def assigned_names(stmts: list[Stmt]) -> set[str]:
    """Every variable some statement in the block (nested ones included) writes."""
    out: set[str] = set()
    for s in walk_stmts(stmts):
        if isinstance(s, Assign):
            out |= {target_name(t) for t in s.targets}
        elif isinstance(s, CallAssign):
            out |= {t.id for t in s.targets}
        elif isinstance(s, (Append, Pop)):
            out.add(s.target.id)
            if isinstance(s, Pop) and s.into is not None:
                out.add(target_name(s.into))
        elif isinstance(s, (ForRange, ForEach)):
            out.add(s.target.id)
    return out


def stmt_reads(s: Stmt) -> set[str]:
    """Variables a statement reads itself (not counting nested blocks)."""
    if isinstance(s, Assign):
        out = set().union(*(names_in(v) for v in s.values))
        for t in s.targets:
            if isinstance(t, Subscript):
                out |= names_in(t)
            elif s.aug:
                out.add(t.id)
        return out
    if isinstance(s, CallAssign):
        return names_in(s.call)
    if isinstance(s, Append):
        return {s.target.id} | names_in(s.value)
    if isinstance(s, Pop):
        return {s.target.id} | (names_in(s.into.index) if isinstance(s.into, Subscript) else set()) \
            | ({target_name(s.into)} if isinstance(s.into, Subscript) else set())
    if isinstance(s, ExprStmt):
        return names_in(s.expr) | names_in(s.msg)
    if isinstance(s, (If, While)):
        return names_in(s.test)
    if isinstance(s, ForRange):
        return set().union(*(names_in(a) for a in s.args)) | names_in(s.limit)
    if isinstance(s, ForEach):
        return {s.seq.id}
    if isinstance(s, Return):
        return names_in(s.value)
    return set()
