"""What reverse mode (reverse.py) and forward mode (forward.py) share.

`Mode` holds what both read about the function they transform: a copy of it, the kinds
of its variables, which of them carry a derivative, and how an array primitive's rule is
called (its arguments bound by NumPy's parameter names, its temporaries bound with
`let`).  The functions below build the small pieces of IR both modes emit: a seed times
a partial written the way a person would, zeros of a value's shape, a loop over a list
by index, the `# grad of:` / `# tangent of:` headers.
"""
from __future__ import annotations

import copy
import os

from .. import ir
from ..analysis import kinds
from ..rules.array import core as array_rules


class Mode:
    """The state both modes start from; `module` generates the derivatives of callees."""

    def __init__(self, fn: ir.Function, spec, namer, module, var_kinds: dict):
        self.fn = copy.deepcopy(fn)  # the modes rewrite statements in place
        self.spec = spec
        self.namer = namer
        self.module = module
        self.kinds = dict(var_kinds)
        self.result = self.fn.result
        self.active: set[str] = set()  # the subclass decides when to run activity analysis

    def is_active(self, var: str) -> bool:
        return var in self.active

    def kind_of(self, e: ir.Expr):
        return kinds.KindInference(self.fn, self.kinds, shared=True).of(e)

    # ------------------------------------------------------------------ array rules
    def ranks(self, bound: dict) -> dict:
        """The rank of each bound argument of a primitive, as its rule reads them."""
        return kinds.KindInference(self.fn, self.kinds, shared=True).ranks(bound)

    def let_into(self, out: list, names: set | None = None):
        """The `let` a rule binds its temporaries with: `name = value` appended to `out`
        (the name also added to `names`, if given)."""
        def let(base, value):
            name = ir.Name(self.namer.fresh(base))
            out.append(ir.Assign([name], [value], role="adjoint"))
            if names is not None:
                names.add(name.id)
            return ir.Name(name.id)
        return let


def apply_rule(derivative, ctx, s: ir.Stmt):
    """A rule's vjp or jvp on its context; a use it has no rule for is the user's error."""
    try:
        return derivative(ctx)
    except array_rules.UnsupportedUse as exc:
        raise exc.error(f"{exc.what} has no derivative rule", s.pos, exc.hint) from None


def argument_keys(bound: dict, params) -> list:
    """Every bound argument of a rule, in the order of `params`: a parameter's name, or
    (name, k) for the k-th element of a list argument or of varargs."""
    out = []
    for p in params:
        arg = bound.get(p)
        if isinstance(arg, list):
            out += [(p, k) for k in range(len(arg))]
        elif isinstance(arg, (ir.ListExpr, ir.TupleExpr)):
            out += [(p, k) for k in range(len(arg.elts))]
        elif arg is not None:
            out.append(p)
    return out


def argument(bound: dict, key) -> ir.Expr:
    """The argument an argument_keys key names."""
    if isinstance(key, str):
        return bound[key]
    name, k = key
    arg = bound[name]
    return arg[k] if isinstance(arg, list) else arg.elts[k]


# ---------------------------------------------------------------------- expressions
def times(factor: ir.Expr, partial: ir.Expr) -> ir.Expr:
    """factor * partial, written the way a person would: `d_z` for a partial of 1,
    `-(d_z * b)` for a partial of -b (the minus kept outside, to become `-=`)."""
    factor = copy.deepcopy(factor)
    if isinstance(partial, ir.Const) and partial.value == 1:
        return factor
    if isinstance(partial, ir.UnaryOp) and partial.op == "-":
        inner = partial.operand
        if isinstance(inner, ir.Const) and inner.value == 1:
            return ir.UnaryOp("-", factor)
        return ir.UnaryOp("-", ir.BinOp("*", factor, inner))
    return ir.BinOp("*", factor, partial)


def is_element_of_variable(e: ir.Expr) -> bool:
    """x[i], x[i][j]: an element of a variable (not of a computed value)."""
    return isinstance(e, ir.Subscript) and (isinstance(e.value, ir.Name) or is_element_of_variable(e.value))


def np_call(attr: str, *args, **kwargs) -> ir.Call:
    """np.<attr>(*args, **kwargs)."""
    return ir.Call(ir.Lib("numpy", attr), list(args), list(kwargs.items()))


def length(e: ir.Expr) -> ir.Call:
    return ir.Call(ir.Lib("builtins", "len"), [e])


def zeros_like(e: ir.Expr, **kwargs) -> ir.Call:
    """np.zeros_like(e) (of a copy of e)."""
    return np_call("zeros_like", copy.deepcopy(e), **kwargs)


def list_of_zeros(e: ir.Expr) -> ir.Expr:
    """[0.0] * len(e): the zero derivative of a list of numbers."""
    return ir.BinOp("*", ir.ListExpr([ir.Const(0.0)]), length(copy.deepcopy(e)))


# ---------------------------------------------------------------------- loops
def counting_loop(var: ir.Name, stop: ir.Expr, body: list, **kwargs) -> ir.ForRange:
    """for var in range(stop): body."""
    return ir.ForRange(var, [ir.Const(0), stop, ir.Const(1)], body, **kwargs)


def by_index(loop: ir.ForEach, namer):
    """`for x in xs` run over the indices of xs: (k, `x = xs[k]`, len(xs)).  Reverse mode
    walks the indices backwards; forward mode reads x's tangent at the same index."""
    k = ir.Name(namer.fresh("k"))
    fetch = ir.Assign([loop.target], [ir.Subscript(loop.seq, k)], role="loopvar")
    return k, fetch, length(loop.seq)


# ---------------------------------------------------------------------- text
def header(what: str, s: ir.Stmt) -> ir.Comment:
    """`# grad of: <the user's line>` (what: "grad of", "tangent of") above the derivative
    of a statement."""
    return ir.Comment(f"{what}: {s.pos.text.strip() if s.pos is not None else ''}", pos=s.pos)


def origin(fn: ir.Function) -> str:
    """`f (model.py:12)`: where a user function is defined, for generated docstrings."""
    return f"{fn.name} ({os.path.basename(fn.file)}:{fn.line})"
