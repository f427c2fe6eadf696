"""The IR's nodes: expressions, statements (each assignment with a Role) and functions.

Expressions are a small tree close to Python's own (so printing gives back the user's
statement), statements are assignments plus structured control flow.  The frontend
lowers a function into this IR, the differentiator builds the adjoint function in it,
the optimizer rewrites it and the printers of backends/ turn it into Python source.
Every node keeps the SourcePos of the user code it came from, for error messages.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from ..errors import SourcePos


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

    def __deepcopy__(self, memo):
        # passes copy IR freely; the value is the user's object itself, never a copy (an
        # array the user updates in place must be the one the derivative reads)
        return Global(self.name, self.value, self.origin, pos=self.pos)


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
class Role(str, Enum):
    """What an assignment is for; passes compare it with the strings too (`role == "flag"`)."""
    USER = "user"        # the user's statement: differentiated
    ADJOINT = "adjoint"  # an adjoint update the reverse pass wrote (the optimizer merges these)
    FLAG = "flag"        # a branch decision or trip count recorded by the lowering or reverse pass
    SAVE = "save"        # a value saved before it is overwritten, restored in the reverse sweep
    COUNT = "count"      # a loop's trip counter
    LOOPVAR = "loopvar"  # a loop variable rebound in the reverse sweep
    PLACEHOLDER = "placeholder"  # the first value of a variable saved before it is bound: never read

    __hash__ = str.__hash__  # a Role and its string are the same key in sets and dicts

    def __str__(self) -> str:
        return self.value


class Stmt(Node):
    pass


@dataclass(eq=False)
class Assign(Stmt):
    """`t1, t2 = v1, v2` with Python's evaluate-all-then-bind semantics.

    With `aug` set (one target and one value) it is `t aug= v`, meaning t = t aug v.
    `role` (a Role) tells the passes what the statement is for: user statements are
    differentiated, the others are bookkeeping the lowering and the reverse pass added.
    """
    targets: list[Expr]  # Name or Subscript(Name, index)
    values: list[Expr]
    aug: str | None = None
    role: Role = Role.USER
    # an adjoint update `d_x += v` whose v is a new array of exactly x's shape: onto
    # zeros it may become `d_x = v` (transforms/optimize.py); other updates rely on += broadcasting
    exact: bool = False

    def __post_init__(self):
        self.role = Role(self.role)  # a misspelt role fails here, not as a silent mismatch


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
    """A typed tape for compiled targets (transforms/tapes.py): an empty array of `dtype` and its count."""
    tape: Name
    count: Name
    dtype: str  # a NumPy scalar type name: "float64", "int64", "bool_"
    sized_later: bool = False  # a `fresh` TapeReserve makes the array: numba needs only the count here
    room: str | None = None  # the parameter whose array the tape starts as (transforms/lending.py)


@dataclass(eq=False)
class TapeReserve(Stmt):
    """Room for `extra` more pushes, made before a loop whose trip count is known at entry.

    `fresh` (the tape's dtype): the tape is still the empty one TapeNew made, so it is
    made anew with room for `extra` (a number >= 0) rather than grown."""
    tape: Name
    count: Name
    extra: Expr
    fresh: str | None = None
    room: str | None = None  # with `fresh`: the lent array, used where it has the room


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


__all__ = [n for n, v in list(globals().items()) if isinstance(v, type) and issubclass(v, Node)]
