"""Invariant calls (numba target): a call in a loop nest whose value does not change with
the outer loop is computed once per inner index, into a table, before the outer loop.

GMM's point loop calls exp for every point, component and coordinate, though its value
depends only on the component and the coordinate:

    for i in range(n):
        for c in range(k):
            for j in range(d):
                qx[j] = math.exp(icf[c, j]) * xc[j]

becomes, as a hand-written gradient has it,

    exp_icf = np.empty((k, d))
    if 0 < n:
        for c_1 in range(k):          # indices of its own: c and j keep their values
            for j_1 in range(d):
                exp_icf[c_1, j_1] = math.exp(icf[c_1, j_1])
    for i in range(n):
        for c in range(k):
            for j in range(d):
                qx[j] = exp_icf[c, j] * xc[j]

and the reverse sweep sums the point loop's cotangents into d_exp_icf, calling nothing,
then pulls them back through exp once per entry.  The values are the function's own: the
table holds exactly the calls the loop makes, bit for bit.

What is proved before a call moves (`_tables_before`, `_Tables.replaced`), on the lowered function:
- the call is a number, has a rule written with its value (scalar.py's `with_ans`: exp,
  tanh, sqrt, cbrt), no effect, and is evaluated whenever its statement is (not behind
  and/or, a conditional expression or a comparison);
- its statement is a top-level statement of the innermost loop, each loop of the nest is
  a top-level statement of the one around it, and the outer loop has no break, continue
  or return: every run of the outer loop's body evaluates the call at every index of the
  nest;
- the nest's loops are ranges with step 1 whose index their bodies do not rebind and
  whose bounds the outer loop does not change and do not read each other's indices (the
  table is a rectangle); the filling loops have indices of their own, so the user's keep
  their values;
- the call reads the nest's indices and nothing else that the outer loop changes: no
  name it binds, no array it writes into or passes to a function or method, and no
  global if it calls a function of the user's;
- what the call and the nest's bounds read is bound at the outer loop's entry (the table
  is made there); the outer loop is a range with step 1, and the table is filled only if
  it runs at least once, so that no call is made that the function would not make.
"""
from __future__ import annotations

import copy

from .. import ir
from ..analysis import kinds
from ..backends.python import expr_source
from . import kept_values, tapes


def hoist_calls(fn: ir.Function, var_kinds: dict, namer) -> None:
    """Move the invariant calls of `fn`'s loop nests into tables (in place)."""
    room = tapes.Room(fn, {})  # what is bound at each loop's entry, and which ints are lengths
    fn.body = _in_block(fn.body, room, set(), fn, var_kinds, namer)


def _in_block(stmts, room, indices, fn, var_kinds, namer) -> list[ir.Stmt]:
    """`indices`: the targets of the loops around the block (bound in it)."""
    out: list[ir.Stmt] = []
    for s in stmts:
        if isinstance(s, ir.ForRange) and _guard(s) is not None and not _leaves(s.body):
            bound = room.bound_before.get(id(s), set()) | indices
            out += _tables_before(s, bound, room, fn, var_kinds, namer)
        inner = indices | ({s.target.id} if isinstance(s, (ir.ForRange, ir.ForEach)) else set())
        for block in ir.blocks(s):
            block[:] = _in_block(block, room, inner, fn, var_kinds, namer)
        out.append(s)
    return out


def _tables_before(outer: ir.ForRange, bound, room, fn, var_kinds, namer) -> list[ir.Stmt]:
    """The tables filled before `outer` for the invariant calls of its nests (the calls
    are replaced by reads of the tables); `bound`: the names bound at its entry."""
    tables = _Tables(outer, bound, room, fn, var_kinds, namer)

    def visit(body, nest):
        for s in body:
            if isinstance(s, ir.ForRange) and _rectangular(s, nest, tables.changed) and not _leaves(s.body):
                visit(s.body, nest + [s])
            elif nest and isinstance(s, ir.Assign) and s.role == "user" and len(s.values) == 1 \
                    and not isinstance(s.values[0], kept_values.UNSURE):
                s.values = [tables.replaced(s.values[0], nest)]

    visit(outer.body, [])
    if not tables.fills:
        return []
    allocations = [s for s in tables.fills if not isinstance(s, ir.ForRange)]
    loops = [s for s in tables.fills if isinstance(s, ir.ForRange)]
    return allocations + [ir.If(_guard(outer), loops, pos=outer.pos)]


class _Tables:
    """The tables made before one outer loop: their names by call, the statements that
    make and fill them, and the filling loops' indices."""

    def __init__(self, outer, bound, room, fn, var_kinds, namer):
        # what the loop changes, and what may be unbound at its entry, a table may not read
        self.changed = _changed_in(outer) | (_names_read(outer) - bound)
        self.room, self.fn, self.var_kinds, self.namer = room, fn, var_kinds, namer
        self.names: dict[tuple, str] = {}  # (the call's source, the nest's loops) -> table
        self.fills: list[ir.Stmt] = []
        self.own_indices: dict[int, str] = {}  # id of a loop of the user's -> the fill's index

    def replaced(self, e: ir.Expr, nest) -> ir.Expr:
        """e with its invariant calls (innermost first) read from tables."""
        if isinstance(e, kept_values.UNSURE):
            return e
        e = ir.map_children(e, lambda c: self.replaced(c, nest))
        if not kept_values.qualifies(e, self.fn, self.var_kinds):
            return e
        indices = {loop.target.id for loop in nest}
        if ir.names_in(e) & (self.changed - indices) or ("<user call>" in self.changed and _reads_a_global(e)):
            return e
        key = (expr_source(e), tuple(id(loop) for loop in nest))
        if key not in self.names:
            self.names[key] = self.new_table(e, nest)
        return _entry(self.names[key], nest, e.pos)

    def new_table(self, call: ir.Call, nest) -> str:
        """A table for `call` over the nest's indices: its allocation and filling loops."""
        arrays = [n.id for a in call.args for n in ir.subexprs(a) if isinstance(n, ir.Name)
                  and kinds.is_array(self.var_kinds.get(n.id))]
        name = self.namer.fresh(call.func.attr + ("_" + arrays[0] if arrays else ""))
        self.var_kinds[name] = kinds.array(len(nest))
        shape = ir.TupleExpr([self.room.at_least_zero(tapes.trip_count(loop)) for loop in nest])
        self.fills.append(ir.Assign([ir.Name(name)], [ir.Call(ir.Lib("numpy", "empty"), [shape])], pos=call.pos))
        own = self.indices_of_own(nest)
        body: list[ir.Stmt] = [ir.Assign([_entry(name, nest, call.pos, own)], [_renamed(copy.deepcopy(call), own)],
                                         pos=call.pos)]
        for loop in reversed(nest):
            body = [ir.ForRange(ir.Name(own[loop.target.id]), copy.deepcopy(loop.args), body, pos=loop.pos)]
        self.fills += body
        return name

    def indices_of_own(self, nest) -> dict[str, str]:
        """The user's index -> the filling loops' (one name a loop, for every table filled
        over it): the user's keep the values they have when the outer loop starts."""
        for loop in nest:
            if id(loop) not in self.own_indices:
                self.own_indices[id(loop)] = self.namer.fresh(loop.target.id)
                self.var_kinds[self.own_indices[id(loop)]] = self.var_kinds.get(loop.target.id, kinds.SCALAR)
        return {loop.target.id: self.own_indices[id(loop)] for loop in nest}


def _renamed(e: ir.Expr, names: dict) -> ir.Expr:
    if isinstance(e, ir.Name) and e.id in names:
        return ir.Name(names[e.id], pos=e.pos)
    return ir.map_children(e, lambda c: _renamed(c, names))


def _entry(table: str, nest, pos, names=None) -> ir.Subscript:
    """table[c, j]: the entry of the nest's current indices (less each range's start);
    `names` renames the indices (the filling loops')."""
    items = []
    for loop in nest:
        start, _ = _bounds(loop)
        index = ir.Name((names or {}).get(loop.target.id, loop.target.id))
        items.append(index if _is_zero(start) else ir.BinOp("-", index, start))
    return ir.Subscript(ir.Name(table), items[0] if len(items) == 1 else ir.TupleExpr(items), pos=pos)


def _bounds(loop: ir.ForRange) -> tuple[ir.Expr, ir.Expr]:
    """(start, stop) of a range with step 1, as copies."""
    args = copy.deepcopy(loop.args)
    return (ir.Const(0), args[0]) if len(args) == 1 else (args[0], args[1])


def _is_zero(e: ir.Expr) -> bool:
    return isinstance(e, ir.Const) and type(e.value) is int and e.value == 0


# ------------------------------------------------------------------------------ conditions
def _guard(loop: ir.ForRange) -> ir.Expr | None:
    """`start < stop`: the range runs at least once; None for a range we do not take as an
    outer loop (a step, a limit)."""
    if loop.limit is not None or not _unit_step(loop):
        return None
    start, stop = _bounds(loop)
    return ir.Compare(start, ["<"], [stop])


def _unit_step(loop: ir.ForRange) -> bool:
    return len(loop.args) < 3 or (isinstance(loop.args[2], ir.Const) and loop.args[2].value == 1)


def _rectangular(loop: ir.ForRange, nest, changed) -> bool:
    """A loop of the nest: a plain range whose index its body does not rebind, and whose
    bounds the outer loop does not change and do not read the indices around it."""
    if loop.limit is not None or not _unit_step(loop) or loop.target.id in ir.assigned_names(loop.body):
        return False
    reads = set().union(*(ir.names_in(a) for a in loop.args))
    return not reads & (changed | {outer.target.id for outer in nest})


def _leaves(body) -> bool:
    """Whether the body may leave an iteration early (break, continue, return)."""
    return any(isinstance(s, (ir.Break, ir.Continue, ir.Return)) for s in ir.walk_stmts(body))


def _changed_in(loop: ir.ForRange) -> set[str]:
    """The names the loop may change: those it binds, the arrays it writes into, and every
    name it passes to a function or method of its own (which might write into it)."""
    out = ir.assigned_names([loop])
    for s in ir.walk_stmts(loop.body):
        for e in ir.stmt_exprs(s):
            for sub in ir.subexprs(e):
                if isinstance(sub, ir.Call) and (sub.method is not None or not isinstance(sub.func, ir.Lib)
                                                 or any(k == "out" for k, _ in sub.kwargs)):
                    out |= set().union(*(ir.names_in(a) for a in sub.args), *(ir.names_in(v) for _, v in sub.kwargs))
                    if not isinstance(sub.func, ir.Lib):
                        out.add("<user call>")  # which may change a global array in place
    return out


def _names_read(loop: ir.ForRange) -> set[str]:
    return set().union(*(ir.stmt_reads(s) for s in ir.walk_stmts([loop])))


def _reads_a_global(e: ir.Expr) -> bool:
    return any(isinstance(sub, ir.Global) for sub in ir.subexprs(e))
