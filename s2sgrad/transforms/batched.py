"""Vector mode: forward mode pushing many tangents (a Jacobian's columns) in one pass.

Every tangent carries a leading axis of directions, `n_dirs` long.  Element-wise
tangents broadcast along it as they are, so most of forward.py's code serves both; this
layer overrides what differs: an element's tangent is `t_x[:, i]`, a number's tangent is
an array, lower-rank tangents get axes after the directions' one, and a primitive whose
rule has no all-directions form (`batched_jvp`) has its rule applied direction by
direction:

    n_dirs = len(t_x)
    # tangent of: y = x[0] * np.linalg.inv(A)
    inv_1 = np.linalg.inv(A)
    t_inv_1 = np.zeros((n_dirs,) + np.shape(inv_1))
    for j in range(n_dirs):
        t_inv_1[j] = -inv_1 @ t_A[j] @ inv_1
    t_y = t_x[:, 0][:, None, None] * inv_1 + t_inv_1 * x[0]

backends/assemble.py picks this class for a TangentSpec with batched=True.
"""
from __future__ import annotations

import copy

from .. import ir
from ..analysis import kinds
from ..rules.array import core as array_rules
from . import common
from .forward import ForwardMode, TangentSpec


class BatchedForwardMode(ForwardMode):
    """ForwardMode with tangents of n_dirs directions each (TangentSpec.batched)."""

    def __init__(self, fn: ir.Function, spec: TangentSpec, namer, module, var_kinds: dict):
        super().__init__(fn, spec, namer, module, var_kinds)
        self.n_dirs = ir.Name(self.namer.fresh("n_dirs"))

    def prologue(self, tangent_params: list[str]) -> list[ir.Stmt]:
        count = ir.Assign([self.n_dirs], [self._direction_count(tangent_params)], role="flag")
        return [count] + super().prologue(tangent_params)

    def _direction_count(self, tangent_params: list[str]) -> ir.Expr:
        """len of an array tangent; a list's tangent is a list of element tangents, each
        with the directions' axis: len(t_xs[0]) of the first list that is not empty."""
        for w, t in zip(self.spec.wrt, tangent_params):
            if not kinds.is_list(self.kinds.get(w)):
                return common.length(ir.Name(t))
        count: ir.Expr = ir.Const(0)
        for t in reversed(tangent_params):
            count = ir.IfExp(common.length(ir.Name(t)),
                             common.length(ir.Subscript(ir.Name(t), ir.Const(0))), count)
        return count

    def doc_note(self) -> str:
        return f"\n\n    Each tangent has a leading axis of {self.n_dirs.id} directions; so has the result's."

    def each_direction(self, j: ir.Name, body: list[ir.Stmt]) -> ir.ForRange:
        """for j in range(n_dirs): body."""
        return common.counting_loop(j, ir.Name(self.n_dirs.id), body)

    # ------------------------------------------------------------------ tangents' layout
    def increments_in_place(self, t: ir.Expr) -> bool:
        """A number's tangent is an array here, and may also sit in a list
        (t_xs.append(t_s)): `t_x += v` then rebinds rather than updates in place."""
        if isinstance(t, ir.Name):
            return kinds.is_array(self.kinds.get(t.id))
        return not kinds.is_list(self.kind_of(t.value))

    def subscript_tangent(self, sub: ir.Subscript, base: ir.Expr) -> ir.Subscript:
        """t_x[:, i] for an array's x[i] (the directions' axis comes first)."""
        if not kinds.is_list(self.kind_of(base)):
            items = sub.index.elts if isinstance(sub.index, ir.TupleExpr) else [sub.index]
            sub.index = ir.TupleExpr([ir.Slice(None, None, None)] + list(items))
        return sub

    def transpose(self, t: ir.Expr, rank) -> ir.Expr:
        """The tangent of x.T: the directions' axis stays first."""
        if rank is not None and rank <= 1:
            return t
        if rank == 2:
            return common.np_call("swapaxes", t, ir.Const(-1), ir.Const(-2))
        return array_rules.helper("transpose_directions", t)

    def lift(self, t_atom, atom, atom_kind, result_rank, leaves):
        """t_x of a lower-rank x gets new axes after the directions' axis, where NumPy
        would broadcast x itself; where a rank is not known, at run time from x's own
        rank (not another leaf's) and the leaves' highest."""
        atom_rank = kinds.rank(atom_kind)
        if atom_rank is not None and result_rank is not None:
            missing = result_rank - atom_rank
            if missing <= 0:
                return t_atom
            index = [ir.Slice(None, None, None)] + [ir.Const(None)] * missing
            return ir.Subscript(t_atom, ir.TupleExpr(index))
        ranks = [ir.Call(ir.Lib("numpy", "ndim"), [copy.deepcopy(x)]) for x in leaves]
        return array_rules.helper("lift_directions", t_atom, copy.deepcopy(atom),
                                  ir.Call(ir.Lib("builtins", "max"), ranks) if len(ranks) > 1 else ranks[0])

    def zero_of(self, e: ir.Expr) -> ir.Expr:
        """The zero tangent of a value, n_dirs directions of it."""
        k = self.kind_of(e)
        if kinds.is_list(k):
            return array_rules.helper("zero_tangents", copy.deepcopy(e), ir.Name(self.n_dirs.id))
        if kinds.is_scalar(k):
            return common.np_call("zeros", ir.Name(self.n_dirs.id))
        shape = ir.BinOp("+", ir.TupleExpr([ir.Name(self.n_dirs.id)]), common.np_call("shape", copy.deepcopy(e)))
        return common.np_call("zeros", shape)

    def direction(self, tv: ir.Expr, j: ir.Name) -> ir.Expr:
        """The j-th direction of a tangent: t_x[j] (of a list's tangent, each element's)."""
        if isinstance(tv, ir.Name) and tv.id in self.tangents.values() and \
                kinds.is_list(self.kinds.get(_var_of_tangent(self.tangents, tv.id))):
            return array_rules.helper("direction", tv, ir.Name(j.id))
        return ir.Subscript(tv, ir.Name(j.id))

    # ------------------------------------------------------------------ rules, one direction at a time
    def rule_tangent(self, rule, bound, tangents, t: ir.Name, call, s) -> list[ir.Stmt]:
        if rule.batched_jvp is not None:  # all directions at once where the row can
            ctx = array_rules.JvpContext(args=bound, ndims=self.ranks(bound), ans=ir.Name(t.id), call=call,
                                         tangents=tangents, let=None, rule=rule)
            tangent = rule.batched_jvp(ctx)
            if tangent is not NotImplemented:
                return [ir.Assign([ir.Name(self.tan(t.id))], [tangent], role="adjoint")]
        # otherwise the rule, direction by direction: t_y[j] = <jvp of the j-th tangents>
        j = ir.Name(self.namer.fresh("j"))
        picked = {key: self.direction(tv, j) for key, tv in tangents.items()}
        t_out = ir.Name(self.tan(t.id))
        init = ir.Assign([ir.Name(t_out.id)], [self.zero_of(t)], role="adjoint")
        body = self.apply_jvp(rule, bound, picked, t, call, s, ir.Subscript(ir.Name(t_out.id), ir.Name(j.id)))
        return [init, self.each_direction(j, body)]

    def store_tangent(self, target: ir.Expr, tangent: ir.Expr | None, t: ir.Name) -> list[ir.Stmt]:
        """`t_y[j] = tangent`; (sign, logdet) as t_y[0][j] = ..., t_y[1][j] = ..."""
        if tangent is None:
            tangent = ir.Const(0.0)  # one direction's zero, into zeros already there
        if isinstance(tangent, ir.TupleExpr):
            return [ir.Assign([ir.Subscript(ir.Subscript(copy.deepcopy(target.value), ir.Const(k)),
                                            copy.deepcopy(target.index))], [part], role="adjoint")
                    for k, part in enumerate(tangent.elts)]
        return [ir.Assign([target], [tangent], role="adjoint")]

    def custom_rule_tangent(self, s: ir.CallAssign, rule_name: str, tangents, active_args, targets):
        """The user's forward rule takes one direction at a time: its results are stacked."""
        j = ir.Name(self.namer.fresh("j"))
        picked = [self.direction(tv, j) if i in active_args else _one_zero(self.kind_of(a), a)
                  for i, (a, tv) in enumerate(zip(s.call.args, tangents))]
        call = ir.Call(ir.Ref(rule_name), [copy.deepcopy(a) for a in s.call.args] + picked, pos=s.pos)
        rows = [ir.Name(self.namer.fresh(t.id + "_rows")) for t in targets]
        self.temporaries |= {r.id for r in rows}
        one = [ir.Name(self.namer.fresh("t_one")) for _ in targets]
        body = [ir.Assign(one, [call], role="adjoint")] + \
            [ir.Append(ir.Name(r.id), ir.Name(o.id)) for r, o in zip(rows, one)]
        loop = self.each_direction(j, body)
        stack = [ir.Assign([t], [common.np_call("array", ir.Name(r.id))], role="adjoint")
                 for t, r in zip(targets, rows)]
        inits = [ir.Assign([r], [ir.ListExpr([])], role="adjoint") for r in rows]
        return inits + [loop] + stack

    def add_at_tangent(self, s: ir.ExprStmt, t_target, index, t_value) -> list[ir.Stmt]:
        j = ir.Name(self.namer.fresh("j"))
        add = ir.ExprStmt(array_rules.helper("add_at", ir.Subscript(t_target, ir.Name(j.id)),
                                             copy.deepcopy(index), self.direction(t_value, j)), pos=s.pos)
        return [self.each_direction(j, [add])]


def _one_zero(kind, value: ir.Expr) -> ir.Expr:
    """The zero tangent of one direction: 0.0, or zeros of the value's shape."""
    if kind == kinds.SCALAR:
        return ir.Const(0.0)
    return common.zeros_like(value, dtype=ir.Lib("builtins", "float"))


def _var_of_tangent(tangents: dict, name: str):
    for var, t in tangents.items():
        if t == name:
            return var
    return None
