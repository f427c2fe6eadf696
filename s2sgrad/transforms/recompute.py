"""Recomputation: a loop whose iterations are independent is reversed without tapes.

A loop over observations or points (`for i in range(p): x0 = pts[i, 0] - cam[i, 3]; ...;
err[i, 0] = ...`) rebinds the same locals every iteration; reverse mode tapes each value
they lose to the next iteration so that the reverse loop can put it back.  When every
local of the body is bound in the body before it is read and bound once per iteration,
an iteration's values are a function of the loop index and of what the loop does not
change, so the reverse loop recomputes them instead, at the start of each of its
iterations (what Tapenade and JAX's remat do for such loops):

    for i in reversed(range(p)):
        x0 = pts[i, 0] - cam[i, 3]       # the forward body again, without its writes
        ...
        # grad of: err[i, 0] = ...
        ...

The conditions (`locals_if_recomputable`), all checked on the user's loop:
- a `for` over a range, with no break, continue, return, nested loop, call of a user
  function or of one without rule and source (random.random(): drawn again it differs),
  method call, list operation or statement other than assignments and ifs;
- every variable the body binds (its locals), but for sums (`total += e`, read nowhere
  else in the body), is bound before it is read on every path
  through the body, at most once on any path, and nowhere outside the loop, and is no
  parameter: so its value is the same at every statement after its binding, and no
  statement before or after the loop needs a value it had;
- an array the body writes into (`err[i, 0] = ...`) is not read in the body, so the
  locals do not depend on the order of the writes; the writes keep their saves, and the
  recomputation leaves them out.
Everything else the body reads is the same in every iteration, and where a statement
after the loop changes it, the reverse sweep restores it before the loop as for any
value it reads (saves.py sees the recomputed statements).
"""
from __future__ import annotations

import copy

from .. import ir
from . import saves


def locals_if_recomputable(loop: ir.Stmt, fn: ir.Function) -> set[str] | None:
    """The variables the loop's body binds, if the loop can be reversed by recomputing
    them (the module docstring's conditions); None if not."""
    if not (isinstance(loop, ir.ForRange) and loop.limit is None) or not _plain(loop.body):
        return None
    names = {t.id for s in ir.walk_stmts(loop.body) if isinstance(s, ir.Assign)
             for t in s.targets if isinstance(t, ir.Name)} - _accumulators(loop.body)
    written = {ir.target_name(t) for s in ir.walk_stmts(loop.body) if isinstance(s, ir.Assign)
               for t in s.targets if isinstance(t, ir.Subscript)}
    if loop.target.id in names | written or names & written or names & set(fn.params):
        return None
    if names & _assigned_outside(fn.body, loop):
        return None
    if written & _reads(loop.body):
        return None
    if _bound_once_before_read(loop.body, names, set(), set()) is None:
        return None
    return names


def recomputed(loop_fwd: list[ir.Stmt], loop_rev: list[ir.Stmt], names: set[str]):
    """The loop's forward body without the saves of its locals, and its reverse body
    starting with the recomputation of the locals (their saves' restores dropped).  The
    flags the sweep records for the body's ifs are locals too: bound once, before the
    if, from what the iteration reads."""
    names = names | {t.id for s in ir.walk_stmts(loop_fwd) if isinstance(s, ir.Assign) and s.role == "flag"
                     for t in s.targets if isinstance(t, ir.Name)}
    fwd = _without_placeholders_of(loop_fwd, names, saves.Save)
    rev = _without_placeholders_of(loop_rev, names, saves.Restore)
    again = _recomputation(loop_fwd, names)
    return fwd, (again + rev if again else rev)


# ------------------------------------------------------------------------------ conditions
def _plain(stmts) -> bool:
    for s in stmts:
        if isinstance(s, ir.If):
            if not (_plain(s.body) and _plain(s.orelse)) or ir.has_effect(s.test):
                return False
        elif isinstance(s, ir.Assign):
            if s.role != "user" or any(ir.has_effect(v) for v in s.values) \
                    or len({isinstance(t, ir.Name) for t in s.targets}) > 1:  # `u, y[i] = ...`
                return False
        elif not isinstance(s, ir.Comment):
            return False
    return True


def _assigned_outside(stmts, loop) -> set[str]:
    """What the statements bind, the loop's body left out."""
    out: set[str] = set()
    for s in stmts:
        if s is loop:
            continue
        out |= ir.assigned_names([_header_only(s)])
        for block in ir.blocks(s):
            out |= _assigned_outside(block, loop)
    return out


def _header_only(s):
    """s without its nested blocks (a loop's target stays)."""
    if not ir.blocks(s):
        return s
    bare = copy.copy(s)
    if isinstance(bare, ir.If):
        bare.body, bare.orelse = [], []
    else:
        bare.body = []
    return bare


def _reads(stmts) -> set[str]:
    """What the statements read; the array a write goes into counts only where the
    write reads it too (`y[i] += v`)."""
    out: set[str] = set()
    for s in ir.walk_stmts(stmts):
        if isinstance(s, ir.Assign):
            out |= set().union(*(ir.names_in(v) for v in s.values))
            for t in s.targets:
                if isinstance(t, ir.Subscript):
                    out |= ir.names_in(t.index) | ({ir.target_name(t)} if s.aug else set())
                elif s.aug:
                    out.add(t.id)
        else:
            out |= ir.stmt_reads(s)
    return out


def _bound_once_before_read(stmts, names, bound: set[str], maybe: set[str]):
    """(bound on every path, bound on some path) after the statements, or None where a
    local is read before it is bound on some path, or bound twice on one."""
    bound, maybe = set(bound), set(maybe)
    for s in stmts:
        if isinstance(s, ir.Comment):
            continue
        if (ir.stmt_reads(s) & names) - bound:
            return None
        if isinstance(s, ir.If):
            body = _bound_once_before_read(s.body, names, bound, maybe)
            orelse = _bound_once_before_read(s.orelse, names, bound, maybe)
            if body is None or orelse is None:
                return None
            bound, maybe = body[0] & orelse[0], body[1] | orelse[1]
            continue
        targets = {t.id for t in s.targets if isinstance(t, ir.Name)}
        if targets & maybe:
            return None
        bound |= targets
        maybe |= targets
    return bound, maybe


def _accumulators(body) -> set[str]:
    """Variables the body only adds to (`total += e`, `total -= e`) and reads nowhere
    else: not locals (they carry the sum across iterations), but their adjoint reads no
    value of theirs, so they keep their own statements (and saves, where needed)."""
    updated, other = set(), set()
    for s in ir.walk_stmts(body):
        if not isinstance(s, ir.Assign):
            continue
        total, added = _sum_update(s)
        if total is not None:
            updated.add(total)
            other |= ir.names_in(added)
            continue
        other |= {t.id for t in s.targets if isinstance(t, ir.Name)}
        for v in s.values:
            other |= ir.names_in(v)
        other |= {n for t in s.targets if isinstance(t, ir.Subscript) for n in ir.names_in(t)}
    for s in ir.walk_stmts(body):
        if isinstance(s, ir.If):
            other |= ir.names_in(s.test)
    return updated - other


def _sum_update(s: ir.Assign):
    """(t, e) for `t += e`, `t -= e`, `t = t + e`, `t = t - e`, `t = e + t`; (None, None)
    for anything else.  (save placement rebinds `t += e` as `t = t + e` before the
    sweeps: the same statement.)"""
    if len(s.targets) != 1 or len(s.values) != 1 or not isinstance(s.targets[0], ir.Name):
        return None, None
    t, v = s.targets[0].id, s.values[0]
    if s.aug in ("+", "-"):
        return t, v
    if s.aug is None and isinstance(v, ir.BinOp) and v.op in "+-" and isinstance(v.left, ir.Name) \
            and v.left.id == t:
        return t, v.right
    if s.aug is None and isinstance(v, ir.BinOp) and v.op == "+" and isinstance(v.right, ir.Name) \
            and v.right.id == t:
        return t, v.left
    return None, None


# ------------------------------------------------------------------------------ rewriting
def _binds_local(stmt, names) -> bool:
    return isinstance(stmt, ir.Assign) and any(isinstance(t, ir.Name) and t.id in names for t in stmt.targets)


def _without_placeholders_of(stmts, names, kind):
    out = []
    for s in stmts:
        if isinstance(s, kind) and _binds_local(s.stmt, names):
            continue
        for block in ir.blocks(s):
            block[:] = _without_placeholders_of(block, names, kind)
        out.append(s)
    return out


def _recomputation(stmts, names) -> list[ir.Stmt]:
    """A copy of the forward body's bindings of locals (and the ifs around them): no
    placeholders, no writes into arrays, no comments.

    A local an if binds on one branch only gets a placeholder first: the reverse sweep's
    if takes the same branch (the same flag, or a test of values the iteration does not
    change), so the placeholder is never read, but liveness, which cannot tell, would
    otherwise keep the forward loop alive to give it a value."""
    out = []
    for s in stmts:
        if isinstance(s, ir.If):
            body, orelse = _recomputation(s.body, names), _recomputation(s.orelse, names)
            if body or orelse:
                one_side = (ir.assigned_names(body) ^ ir.assigned_names(orelse)) & names
                out += [ir.Assign([ir.Name(v)], [ir.Const(0.0)], role="placeholder", pos=s.pos)
                        for v in sorted(one_side)]
                out.append(ir.If(copy.deepcopy(s.test), body, orelse, pos=s.pos))
        elif _binds_local(s, names):
            out.append(copy.deepcopy(s))
    return out
