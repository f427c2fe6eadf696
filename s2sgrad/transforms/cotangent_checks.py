"""A vjp's cotangent checked against the output it stands for, before the reverse sweep
reads it: one that does not fit raises ValueError, as in JAX and PyTorch, where adding it
into the adjoint would broadcast it (a guess) or read past an array's end (numba).

- an array output: `if np.shape(d_result) != np.shape(result): raise ValueError(...)`;
- a number: `np.ndim(d_result) != 0`;
- a tuple or list the function spells in its one return (`return a, b`, or `t = (a, b);
  return t`): its length, and part by part, nested tuples too, the part's shape where
  it is a name bound once or an element-wise expression of one (`X * 2.0` has X's
  shape), else its rank where the kinds know it;
- a tuple or list built otherwise (appends): its length.

`mode` is the ReverseMode building the vjp: its function, kinds and assignment counts.
Reading a part's shape keeps the statement that binds it; only the shapes are compared.
"""
from __future__ import annotations

import copy

from .. import ir
from ..analysis import kinds
from ..rules import registry


def shape_check(mode, d_res: ir.Name) -> ir.Stmt:
    """`if np.shape(d_result) != np.shape(result): raise ValueError(...)`."""
    test = ir.Compare(_shape(copy.deepcopy(d_res)), ["!="], [_shape(ir.Name(mode.result))])
    name = mode.fn.name
    return _raise_if(test, f"the cotangent passed to the vjp of {name} has another shape than "
                           f"{name}'s output: pass one of the output's shape")


def fit_checks(mode, d_res: ir.Name) -> list[ir.Stmt]:
    """The checks of a number's, a tuple's or a list's cotangent (the module docstring)."""
    kind = mode.kinds.get(mode.result)
    if kinds.is_scalar(kind):
        return [_raise_if(_ndim_is_not(d_res, 0), _misfit(mode))]
    if mode.result not in mode.containers:
        return []
    structure = _returned_structure(mode)
    if structure is None:  # built step by step (appends): its length at least
        return [_raise_if(ir.Compare(_len(d_res), ["!="], [_len(ir.Name(mode.result))]), _misfit(mode))]
    return _part_checks(mode, d_res, structure)


def _misfit(mode) -> str:
    name = mode.fn.name
    return (f"the cotangent passed to the vjp of {name} does not fit {name}'s output: a number "
            f"for a number, an array of its shape for an array, a tuple (or list) of those for "
            f"a tuple (or list)")


def _part_checks(mode, d: ir.Expr, part: ir.Expr) -> list[ir.Stmt]:
    if isinstance(part, (ir.TupleExpr, ir.ListExpr)):
        out = [_raise_if(ir.Compare(_len(d), ["!="], [ir.Const(len(part.elts))]), _misfit(mode))]
        for k, elt in enumerate(part.elts):
            out += _part_checks(mode, ir.Subscript(copy.deepcopy(d), ir.Const(k)), elt)
        return out
    like = _shaped_like(mode, part)
    if like is not None:
        test = ir.Compare(_shape(copy.deepcopy(d)), ["!="], [_shape(ir.Name(like))])
        return [_raise_if(test, _misfit(mode))]
    rank = kinds.rank(mode.kind_of(part))
    return [] if rank is None else [_raise_if(_ndim_is_not(d, rank), _misfit(mode))]


def _shaped_like(mode, part: ir.Expr) -> str | None:
    """A variable bound once (or a parameter) whose shape the returned part has: the part
    itself, or the one array an element-wise expression of it and numbers reads (`X *
    2.0`); None where neither is known."""
    if isinstance(part, ir.Name):
        names = {part.id}
    elif _element_wise(part):
        names = {n for n in ir.names_in(part) if not kinds.is_scalar(mode.kinds.get(n))}
    else:
        return None
    if len(names) != 1:
        return None
    name = names.pop()
    known = mode.kinds.get(name)
    if mode.assign_sites.get(name, 0) != 1 or known is None or kinds.is_list(known):
        return None
    return name


def _returned_structure(mode) -> ir.Expr | None:
    """The tuple (or list) expression the function returns, where it has one return and
    spells it, directly or through a name bound once to it and never changed in place
    (appends, writes by index); None otherwise."""
    value = _only_binding(mode, mode.result)
    if isinstance(value, ir.Name):
        changed = any(isinstance(st, (ir.Append, ir.Pop)) and st.target.id == value.id
                      or isinstance(st, ir.Assign) and any(isinstance(t, ir.Subscript)
                                                           and ir.target_name(t) == value.id for t in st.targets)
                      for st in ir.walk_stmts(mode.fn.body))
        value = None if changed or value.id in mode.fn.params else _only_binding(mode, value.id)
    return value if isinstance(value, (ir.TupleExpr, ir.ListExpr)) else None


def _only_binding(mode, name: str) -> ir.Expr | None:
    """The value of the one statement that binds `name` (`name = value`), if one does."""
    if mode.assign_sites.get(name, 0) != 1:
        return None
    return next((st.values[0] for st in ir.walk_stmts(mode.fn.body)
                 if isinstance(st, ir.Assign) and not st.aug and len(st.targets) == 1
                 and isinstance(st.targets[0], ir.Name) and st.targets[0].id == name), None)


_ELEMENT_WISE_OPS = {"+", "-", "*", "/", "//", "%", "**"}  # not "@"


def _element_wise(e: ir.Expr) -> bool:
    """Arithmetic and element-wise math of names and numbers: its shape is its arrays'."""
    if isinstance(e, (ir.Name, ir.Const)):
        return True
    if isinstance(e, ir.BinOp):
        return e.op in _ELEMENT_WISE_OPS and _element_wise(e.left) and _element_wise(e.right)
    if isinstance(e, ir.UnaryOp):
        return _element_wise(e.operand)
    if isinstance(e, ir.Call) and registry.scalar_rule_of(e.func) is not None and not e.kwargs:
        return all(_element_wise(a) for a in e.args)
    return False


def _raise_if(test: ir.Expr, message: str) -> ir.Stmt:
    return ir.If(test, [ir.ExprStmt(ir.Call(ir.Lib("builtins", "ValueError"), [ir.Const(message)]),
                                    kind="raise")], [])


def _shape(e: ir.Expr) -> ir.Expr:
    return ir.Call(ir.Lib("numpy", "shape"), [e])


def _len(e: ir.Expr) -> ir.Expr:
    return ir.Call(ir.Lib("builtins", "len"), [copy.deepcopy(e)])


def _ndim_is_not(e: ir.Expr, rank: int) -> ir.Expr:
    return ir.Compare(ir.Call(ir.Lib("numpy", "ndim"), [e]), ["!="], [ir.Const(rank)])
