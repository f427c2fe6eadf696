"""Kept values (numba target): a call inside an expression in a loop gets a variable of
its own, so that the reverse sweep reads its value instead of calling it again.

`qx[j] = math.exp(icf[c, j]) * xc[j]` in a loop has partials that call exp again
(d_icf[c, j] += d_qx[j] * (exp(icf[c, j]) * xc[j]), d_xc[j] += d_qx[j] * exp(icf[c, j])),
one call more than the function makes.  Written

    exp_1 = math.exp(icf[c, j])
    qx[j] = exp_1 * xc[j]

the partials read exp_1 (exp's rule is written with its value: d_icf[c, j] += d_exp_1 *
exp_1), which the loop's tape gives back, as it does every value the loop overwrites.
A tape's push and pop cost less than a call of exp, tanh or sqrt in compiled code (not in
Python, where a list's append and pop cost more: the python target keeps the calls).

A call whose value does not change with an outer loop has left it before this pass
runs (invariant_calls.py: GMM's exp(icf[c, j]) is computed once per component, not per
point); the calls named here are those that change from one iteration to the next.

Only calls whose rule is written with their value (scalar.py's `with_ans`) are named:
for sin or log the partials call another function (cos, 1/x) and a kept value saves
nothing.  A call is named where it is a number, is evaluated whenever the statement is
(not behind and/or, a conditional expression or a comparison), and has no effect.

recompute.py would call it again all the same where it reverses a loop by recomputing
its locals; it keeps these values on the tape instead where the loop's forward sweep
runs anyway (`kept_in_loop`), and recomputes them where that sweep is dead code (a loop
over observations whose only result is returned: nothing else keeps it alive).
"""
from __future__ import annotations

from .. import ir
from ..analysis import kinds
from ..rules import partials


def name_calls(fn: ir.Function, var_kinds: dict, namer) -> set[str]:
    """Name the calls in loops of `fn` (in place); returns the names, added to var_kinds
    as numbers."""
    named: set[str] = set()
    fn.body = _in_block(fn.body, fn, var_kinds, namer, named, in_loop=False)
    return named


def kept_in_loop(loop: ir.Stmt, fn: ir.Function, named: set[str], kind: str) -> set[str]:
    """The named values a recomputed loop keeps on its tape: all of them where the
    loop's forward sweep runs anyway (value_and_grad needs its value; something after
    the loop, or the rest of an enclosing loop, reads what it binds or writes); none
    where it is dead."""
    mine = named & ir.assigned_names(loop.body)
    if not mine:
        return set()
    if kind == "value_and_grad":
        return mine
    produced = ir.assigned_names(loop.body) | {ir.target_name(t) for s in ir.walk_stmts(loop.body)
                                               if isinstance(s, ir.Assign) for t in s.targets
                                               if isinstance(t, ir.Subscript)}
    return mine if produced & _read_outside(fn.body, loop, fn.result) else set()


def _read_outside(stmts, loop, result) -> set[str]:
    """What the statements read, the loop left out; `result = v` (the function's
    return) reads nothing of a plain name v: its partial is 1, no value of v."""
    out: set[str] = set()
    for s in stmts:
        if s is loop:
            continue
        if not (isinstance(s, ir.Assign) and len(s.targets) == 1 and isinstance(s.targets[0], ir.Name)
                and s.targets[0].id == result and isinstance(s.values[0], ir.Name)):
            out |= ir.stmt_reads(s)
        for block in ir.blocks(s):
            out |= _read_outside(block, loop, result)
    return out


def _in_block(stmts, fn, var_kinds, namer, named, in_loop) -> list[ir.Stmt]:
    out: list[ir.Stmt] = []
    for s in stmts:
        looping = in_loop or isinstance(s, (ir.ForRange, ir.ForEach, ir.While))
        for block in ir.blocks(s):
            block[:] = _in_block(block, fn, var_kinds, namer, named, looping)
        if in_loop and isinstance(s, ir.Assign) and s.role == "user" and len(s.values) == 1:
            lets: list[ir.Stmt] = []
            if not isinstance(s.values[0], UNSURE):  # the value itself stays: its rule reads it
                s.values = [ir.map_children(s.values[0], lambda c: _named(c, fn, var_kinds, namer, named, lets))]
            out += lets
        out.append(s)
    return out


# parts of and/or, conditional expressions and (chained) comparisons may never be
# evaluated; an index carries no derivative; an f-string's text is not IR
UNSURE = (ir.BoolOp, ir.IfExp, ir.Compare, ir.Raw, ir.Subscript)


def _named(e: ir.Expr, fn, var_kinds, namer, named, lets) -> ir.Expr:
    """e with its qualifying calls replaced by names bound in `lets` (innermost first)."""
    if isinstance(e, UNSURE):
        return e
    e = ir.map_children(e, lambda c: _named(c, fn, var_kinds, namer, named, lets))
    if not qualifies(e, fn, var_kinds):
        return e
    name = namer.fresh(e.func.attr)
    lets.append(ir.Assign([ir.Name(name)], [e], role="user", pos=e.pos))
    var_kinds[name] = kinds.SCALAR
    named.add(name)
    return ir.Name(name, pos=e.pos)


def qualifies(e: ir.Expr, fn, var_kinds) -> bool:
    if not (isinstance(e, ir.Call) and not e.kwargs and e.method is None and e.args):
        return False
    rule = partials.rule_of(e.func)
    if rule is None or not rule.with_ans or ir.has_effect(e):
        return False
    if not any(isinstance(x, (ir.Name, ir.Subscript)) for a in e.args for x in ir.subexprs(a)):
        return False  # a constant: nothing to differentiate
    infer = kinds.KindInference(fn, var_kinds, shared=True)
    return all(infer.of(a) == kinds.SCALAR for a in e.args)
