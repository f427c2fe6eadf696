"""Save placement: which values the reverse sweep needs back after the forward sweep
overwrote them, and where they are kept.

The sweeps of reverse.py put a `Save` placeholder before every forward statement that
overwrites something and a matching `Restore` where the reverse sweep undoes it.
`place_saves` makes real statements of the pairs whose value the reverse sweep reads:
outside loops the value waits in a variable of its own, inside loops on a tape (a list
used as a stack); a value nobody reads, or the first value a variable gets, is not saved.

    y = x * x                                # (first value of y: no save)
    y_saved = y
    y = np.sin(y)
    for i in range(n):
        tape_x.append(x)
        x = np.tanh(x * y)
    # reverse sweep
    for i in reversed(range(n)):
        x = tape_x.pop()
        ...                                  # adjoint of x = np.tanh(x * y)
    y = y_saved
    d_y *= math.cos(y)

An append is undone by a pop, a pop by pushing the value back.  Before the sweeps run,
`name_popped_values` and `rebind_array_updates` put the function in the form this needs.
"""
from __future__ import annotations

import copy
import itertools
from dataclasses import dataclass

from .. import ir
from ..analysis import aliasing, dataflow, kinds
from . import tapes


@dataclass(eq=False)
class Save(ir.Stmt):
    """Placeholder before a forward statement: save what it overwrites (maybe nothing)."""
    stmt: ir.Stmt
    depth: int  # how many loops hold the statement
    loop: ir.Stmt | None = None  # for a loop variable: the reverse loop that rebinds it


@dataclass(eq=False)
class Restore(ir.Stmt):
    """Placeholder in the reverse sweep: put back what the matching Save saved."""
    stmt: ir.Stmt
    depth: int


_pair_ids = itertools.count()  # lets the optimizer drop a tape push and its pop together


# ---------------------------------------------------------------------- before the sweeps
def name_popped_values(fn: ir.Function, var_kinds: dict, namer) -> None:
    """`tape.pop()` (generated code's undo of an append) as `popped = tape.pop()`: the
    value it drops is what the reverse sweep pushes back."""
    for st in ir.walk_stmts(fn.body):
        if isinstance(st, ir.Pop) and st.into is None:
            st.into = ir.Name(namer.fresh("popped"), pos=st.pos)
            tape = var_kinds.get(st.target.id)
            var_kinds[st.into.id] = tape.elem if kinds.is_list(tape) else None


def hoist_self_reading_indices(stmts, var_kinds: dict, namer) -> None:
    """`y[y < 0] = v`: the index reads the array the write changes, so evaluated again
    in the reverse sweep (to put the old values back, to pick the slots' adjoints) it
    would pick other slots.  It is bound once, before the write (`mask = y < 0`), and
    that value is what both sweeps use (saved like any other where it is overwritten)."""
    for block in _blocks_of(stmts):
        for k in range(len(block) - 1, -1, -1):
            s = block[k]
            if not (isinstance(s, ir.Assign) and s.role == "user" and len(s.targets) == 1
                    and isinstance(s.targets[0], ir.Subscript)):
                continue
            t = s.targets[0]
            if ir.target_name(t) not in ir.names_in(t.index):
                continue
            index = ir.Name(namer.fresh("index"), pos=t.index.pos)
            var_kinds[index.id] = kinds.KindInference(None, var_kinds, shared=True).of(t.index)
            bind = ir.Assign([index], [t.index], pos=s.pos)
            t.index = ir.Name(index.id, pos=index.pos)
            block.insert(k, bind)


def _blocks_of(stmts):
    """The block and every block nested in it."""
    yield stmts
    for s in stmts:
        for block in ir.blocks(s):
            yield from _blocks_of(block)


def rebind_array_updates(stmts, var_kinds: dict) -> None:
    """`h += x` on an array updates it in place; the generated code rebinds it instead
    (`h = h + x`), so a saved reference to the old value stays the old value.  For a
    number the two are the same."""
    for s in ir.walk_stmts(stmts):
        if isinstance(s, ir.Assign) and s.aug and isinstance(s.targets[0], ir.Name) \
                and not kinds.is_list(var_kinds.get(s.targets[0].id)) and s.role == "user":
            # (a number too: np.where(c, a, b) of numbers is a 0-d array, updated in place)
            s.values = [ir.BinOp(s.aug, ir.Name(s.targets[0].id), s.values[0], pos=s.values[0].pos)]
            s.aug = None


# ---------------------------------------------------------------------- after the sweeps
def place_saves(fwd, rev, fn: ir.Function, var_kinds: dict, namer, first_values: dict,
                must_restore: set[str]):
    """Turn placeholders into real saves and restores where a value is needed.

    `first_values`: bookkeeping variables (branch flags, trip counts) and the value they
    start from; `must_restore`: variables restored even where the reverse sweep reads
    no value of theirs.  Returns the forward sweep, the reverse sweep and a prologue
    (empty tapes, first values of variables saved before they are bound).
    """
    placement = _Placement(fn, var_kinds, namer, must_restore, fwd, rev)
    fwd = placement.resolve(fwd, forward=True)
    rev = placement.resolve(rev, forward=False)
    prologue = placement.prologue
    # a value saved inside a loop before its first assignment needs a first value
    for var in sorted(placement.loop_vars - set(fn.params)):
        if var in first_values:  # a bookkeeping variable: its start is its value
            prologue.append(ir.Assign([ir.Name(var)], [first_values[var]], role="flag"))
            continue
        start = ir.ListExpr([]) if kinds.is_list(var_kinds.get(var)) else ir.Const(0.0)
        prologue.append(ir.Assign([ir.Name(var)], [start], role="placeholder"))
    return fwd, rev, prologue


def first_values(fwd, prologue, params, active: set[str], var_kinds: dict) -> list[ir.Stmt]:
    """`v = 0.0` (`v = []`) before the forward sweep for an active array (list, tuple)
    bound on some paths only.

    Its adjoint starts as np.zeros_like(v) after the forward sweep; where v was never
    bound that zero is never used, but it must be computable.
    """
    bound = dataflow.definitely_bound(fwd, set(params))
    given = {t.id for st in prologue if isinstance(st, ir.Assign) for t in st.targets
             if isinstance(t, ir.Name)}
    out = []
    for var in sorted(active - bound - given):
        k = var_kinds.get(var)
        if kinds.is_array(k) or kinds.is_list(k):  # a list's adjoint needs its len()
            first = ir.ListExpr([]) if kinds.is_list(k) else ir.Const(0.0)
            out.append(ir.Assign([ir.Name(var)], [first], role="placeholder"))
    return out


def _read_by_reverse_sweep(fn: ir.Function, rev, must_restore: set[str]) -> set[str]:
    """The variables the reverse sweep reads.  It undoes `v = tape.pop()` by pushing v
    back onto the tape, where the tape's contents are needed: then v's value after the
    pop is needed too."""
    pops = [st for st in ir.walk_stmts(fn.body) if isinstance(st, ir.Pop)]
    # t = y.T (a view the lowering made, or the user's): reading t reads y's memory, so
    # what is written into y must be put back too
    views = [(t.id, src) for st in ir.walk_stmts(fn.body) if isinstance(st, ir.Assign) and not st.aug
             for t, v in zip(st.targets, st.values)
             if isinstance(t, ir.Name) and (src := aliasing.view_source(v)) not in (None, t.id)]
    reads = dataflow.reads(rev)
    while True:
        more = {n for st in pops if st.target.id in reads | must_restore
                for n in ir.names_in(st.into)} | {src for t, src in views if t in reads}
        if more <= reads:
            return reads
        reads |= more


def _is_var(e: ir.Expr, var: str) -> bool:
    return isinstance(e, ir.Name) and e.id == var


class _Placement:
    """The (save, restore) statement pairs of every placeholder, decided once per
    statement; the tapes they need are created in `prologue`."""

    def __init__(self, fn, var_kinds, namer, must_restore, fwd, rev):
        self.params = fn.params
        self.kinds = var_kinds
        self.namer = namer
        self.must_restore = must_restore
        self.rev = rev
        self.reads = _read_by_reverse_sweep(fn, rev, must_restore)
        self.first_binding = dataflow.first_bindings(fwd)
        self.bound_before: dict[int, set[str]] = {}
        dataflow.definitely_bound(fwd, set(fn.params), self.bound_before)
        self.plans: dict[int, list] = {}
        self.tapes: dict[str, str] = {}    # "x/value" or "x/item" -> tape name
        self.prologue: list[ir.Stmt] = []
        self.loop_vars: set[str] = set()   # saved before bound on every path: need a first value
        # number types where they are sure (an int from shapes, lengths, ranges, int steps;
        # parameters count as floats here): what `inverse` may undo exactly
        self.types = tapes.scalar_types(fn, {p: "float" for p in fn.params})

    def resolve(self, stmts, forward: bool) -> list[ir.Stmt]:
        """The statements with each placeholder of this sweep replaced by its half of the
        pairs, and the other sweep's placeholders dropped."""
        side, own = (0, Save) if forward else (1, Restore)
        out = []
        for s in stmts:
            if isinstance(s, own):
                pairs = self.pairs(s)
                if not forward and isinstance(s.stmt, ir.Assign):
                    pairs = pairs[::-1]  # `a[0], a[1] = ...` pushes a[0] first: a tape gives it back last
                out += [pair[side] for pair in pairs if pair[side] is not None]
                continue
            if isinstance(s, (Save, Restore)):
                continue
            for block in ir.blocks(s):
                block[:] = self.resolve(block, forward)
            out.append(s)
        return out

    def pairs(self, ph) -> list:
        key = id(ph.stmt)
        if key not in self.plans:
            self.plans[key] = self.plan(ph)
        return self.plans[key]

    def plan(self, ph) -> list:
        """(save statement, restore statement) pairs for one placeholder; None where a
        half has nothing to do."""
        s = ph.stmt
        reads = self.reads
        if getattr(s, "role", "") == "loopvar" and ph.depth > 0:
            reads = dataflow.reads(self.rev, skip=ph.loop)  # only reads outside the loop need the old value

        def needed(var):
            return var in reads or var in self.must_restore

        if isinstance(s, ir.Append):
            return [(None, ir.Pop(s.target))] if needed(s.target.id) else []  # undone by a pop
        out = []
        if isinstance(s, ir.Pop):
            if needed(s.target.id):
                # a pop is undone by pushing the value back (before v gets its old value)
                out.append((None, ir.Append(ir.Name(s.target.id), copy.deepcopy(s.into))))
        for t in [s.into] if isinstance(s, ir.Pop) else s.targets:
            if needed(ir.target_name(t)) and not self.first_value_outside_loops(t, ph):
                undo = self.inverse(s)
                if undo is not None:
                    out.append((None, undo))
                    continue
                out.append(self.in_variable(t, ph) if ph.depth == 0 else self.on_tape(t))
        return out

    def inverse(self, s) -> ir.Assign | None:
        """`i = i - c` for an int `i = i + c` (`i += c`, `i = c + i`, and minus): integer
        steps are exact, so the reverse sweep undoes them instead of taping each value
        (a position advanced in an inner loop, `lpos += 1`, taped an int a trip).  c is an
        int literal; i is an int on every assignment (tapes.scalar_types)."""
        if not (isinstance(s, ir.Assign) and s.role == "user" and len(s.targets) == 1
                and len(s.values) == 1 and isinstance(s.targets[0], ir.Name)):
            return None
        var, value = s.targets[0].id, s.values[0]
        if s.aug in ("+", "-"):
            op, step = s.aug, value
        elif s.aug is None and isinstance(value, ir.BinOp) and value.op in "+-" and _is_var(value.left, var):
            op, step = value.op, value.right
        elif s.aug is None and isinstance(value, ir.BinOp) and value.op == "+" and _is_var(value.right, var):
            op, step = "+", value.left
        else:
            return None
        if self.types.get(var) != "int" or not (isinstance(step, ir.Const) and type(step.value) is int):
            return None
        undo = ir.BinOp("-" if op == "+" else "+", ir.Name(var), copy.deepcopy(step))
        return ir.Assign([ir.Name(var)], [undo], role="save", pos=s.pos)

    def first_value_outside_loops(self, t: ir.Expr, ph) -> bool:
        """Whether t is a variable's first binding outside loops: it overwrites nothing."""
        return isinstance(t, ir.Name) and ph.depth == 0 and t.id not in self.params \
            and self.first_binding.get(t.id) is ph.stmt

    def saved_value(self, t: ir.Expr) -> ir.Expr:
        var = ir.target_name(t)
        if isinstance(t, ir.Subscript):
            slot = kinds.KindInference(None, self.kinds, shared=True).of(t)
            # x[1:3] is a view, and a list's array changes in place (`xs[i] += v`): keep the values
            if kinds.is_array(slot) or (kinds.is_array(self.kinds.get(var)) and not kinds.is_scalar(slot)):
                return ir.Call(ir.Lib("numpy", "copy"), [copy.deepcopy(t)])
        return copy.deepcopy(t)

    def in_variable(self, t: ir.Expr, ph):
        """`x_saved = x` ... `x = x_saved`, outside loops."""
        var = ir.target_name(t)
        value = self.saved_value(t)
        slot = ir.Name(self.namer.saved(var))
        if isinstance(t, ir.Name) and var not in self.bound_before.get(id(ph), set()):
            self.loop_vars.add(var)  # bound on some paths only: give it a first value
        save = ir.Assign([slot], [value], role="save")
        return save, ir.Assign([copy.deepcopy(t)], [slot], role="save")

    def on_tape(self, t: ir.Expr):
        """`tape_x.append(x)` ... `x = tape_x.pop()`, inside loops."""
        var = ir.target_name(t)
        value = self.saved_value(t)
        kind = "item" if isinstance(t, ir.Subscript) else "value"
        key = f"{var}/{kind}"
        if key not in self.tapes:
            self.tapes[key] = self.namer.tape(var if kind == "value" else var + "_items")
            self.prologue.append(ir.Assign([ir.Name(self.tapes[key])], [ir.ListExpr([])], role="save"))
        tape = ir.Name(self.tapes[key])
        pair = next(_pair_ids)
        if isinstance(t, ir.Name) and var not in self.params:
            self.loop_vars.add(var)
        return (ir.Append(tape, value, pair=pair), ir.Pop(tape, into=copy.deepcopy(t), pair=pair))
