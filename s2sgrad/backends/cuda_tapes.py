"""How much tape each GPU thread needs, found before the gradient kernel runs.

The cuda backend keeps the tapes of the differentiated function (tapes.py's typed tapes)
in global memory: one buffer a tape, thread i's part of it from `start[i]` to
`start[i + 1]`.  The rooms come from one of two places, decided when the module is
generated:

- at kernel entry (`entry_rooms`): every push sits in `for` loops over `range(...)`
  whose bounds are expressions of the arguments (nested loops multiply, pushes add).
  The room is then a formula of the arguments, e.g. `max(0, n) * max(0, m)`, printed
  as a plain function the host calls when those arguments are numbers, or a kernel
  evaluates per point when one is an array;
- a counting pass (`counting_function`): anything else (a `while`, a bound computed in
  the function).  The forward sweep runs with every push replaced by its count, and
  returns the counts; the forward sweep never reads a tape, so they are exact.

Either way the host turns the counts into offsets (`offsets`: an exclusive prefix sum)
and allocates exactly what the threads need; nothing is compiled again for a new size.
Tapes of helpers' vjps (called from the reverse sweep) stay local arrays (cuda.py).
"""
from __future__ import annotations

import copy

import numpy as np

from .. import ir
from ..transforms.tapes import trip_count


def own_tapes(fn: ir.Function) -> dict[str, str]:
    """The tapes a function holds (name -> element dtype), in order of name."""
    found = {s.tape.id: s.dtype for s in ir.walk_stmts(fn.body) if isinstance(s, ir.TapeNew)}
    return dict(sorted(found.items()))


def forward_sweep(fn: ir.Function) -> list[ir.Stmt]:
    """The statements before the reverse sweep (reverse.py marks its start)."""
    for k, s in enumerate(fn.body):
        if isinstance(s, ir.Comment) and s.text == "reverse sweep":
            return fn.body[:k]
    raise AssertionError(f"{fn.name} has no reverse sweep")  # reverse.py always writes one


# ------------------------------------------------------------------------------ at kernel entry
def entry_rooms(fn: ir.Function) -> dict[str, ir.Expr] | None:
    """Tape -> an expression of the parameters bounding its pushes, or None where some
    push's count is known only by running (a while loop, a bound the function computes)."""
    return pushes_bound(forward_sweep(fn), fixed_parameters(fn), own_tapes(fn))


def fixed_parameters(fn: ir.Function) -> set[str]:
    """The parameters the function never rebinds."""
    return set(fn.params) - ir.assigned_names(fn.body)


def pushes_bound(stmts, fixed: set[str], tapes) -> dict[str, ir.Expr] | None:
    """Tape -> how many pushes onto it `stmts` make at most, an expression of the `fixed`
    names: for loops over ranges of them multiply, pushes add, both branches of an if
    count; None where a loop's count is no such expression."""
    rooms: dict[str, ir.Expr] = {}

    def visit(stmts, factor: ir.Expr | None) -> bool:
        for s in stmts:
            if isinstance(s, ir.TapePush) and s.tape.id in tapes:
                one = copy.deepcopy(factor if factor is not None else ir.Const(1))
                old = rooms.get(s.tape.id)
                rooms[s.tape.id] = one if old is None else ir.BinOp("+", old, one)
            elif isinstance(s, ir.If):  # both branches: an upper bound
                if not (visit(s.body, factor) and visit(s.orelse, factor)):
                    return False
            elif isinstance(s, ir.ForRange):
                if not _pushes(s.body):
                    continue
                trips = trip_count(s)
                if s.limit is not None or not ir.names_in(trips) <= fixed or not _plain(trips):
                    return False
                trips = _at_least_zero(trips)
                if not visit(s.body, trips if factor is None else ir.BinOp("*", factor, trips)):
                    return False
            elif isinstance(s, (ir.While, ir.ForEach)) and _pushes(s.body):
                return False
        return True

    if not visit(stmts, None):
        return None
    return {t: rooms.get(t, ir.Const(0)) for t in tapes}


def _pushes(stmts) -> bool:
    return any(isinstance(s, ir.TapePush) for s in ir.walk_stmts(stmts))


def _plain(e: ir.Expr) -> bool:
    """Numbers, parameters, arithmetic and calls of builtins and math: the same on the
    host (plain Python) as on the device."""
    for sub in ir.subexprs(e):
        if isinstance(sub, ir.Call):
            if not (isinstance(sub.func, ir.Lib) and sub.func.module in ("builtins", "math")) \
                    or sub.kwargs or sub.method is not None:
                return False
        elif not isinstance(sub, (ir.Const, ir.Name, ir.BinOp, ir.UnaryOp, ir.Lib, ir.Global)):
            return False
    return True


def _at_least_zero(trips: ir.Expr) -> ir.Expr:
    """`max(0, trips)`: a range whose end is below its start runs no trip."""
    if isinstance(trips, ir.Const):
        return ir.Const(max(0, int(trips.value)))
    if isinstance(trips, ir.Call) and isinstance(trips.func, ir.Lib) and trips.func.attr == "len":
        return trips  # len(range(...)) is never negative
    return ir.Call(ir.Lib("builtins", "max"), [ir.Const(0), trips])


def room_function(fn: ir.Function, name: str, rooms: dict[str, ir.Expr]) -> ir.Function:
    """`def name(params): return (room of each tape,)`: the rooms at kernel entry."""
    doc = (f"Room each tape of {fn.name} needs at one point ({', '.join(rooms)}),\n"
           f"    from the trip counts of its loops at kernel entry.")
    return ir.Function(name, list(fn.params), {}, [ir.Return(ir.TupleExpr(list(rooms.values())))],
                       doc=doc)


# ------------------------------------------------------------------------------ the counting pass
def counting_function(fn: ir.Function, name: str) -> ir.Function:
    """The forward sweep of `fn` with each push replaced by its count, returning the counts."""
    tapes = own_tapes(fn)

    def rewrite(stmts):
        out = []
        for s in stmts:
            if isinstance(s, ir.TapeNew) and s.tape.id in tapes:
                out.append(ir.Assign([ir.Name(s.count.id)], [ir.Const(0)], role="count", pos=s.pos))
                continue
            if isinstance(s, ir.TapeReserve):
                continue
            if isinstance(s, ir.TapePush) and s.tape.id in tapes:
                out.append(ir.Assign([ir.Name(s.count.id)], [ir.Const(1)], aug="+", role="count", pos=s.pos))
                continue
            out.append(ir.map_blocks(copy.copy(s), rewrite))
        return out

    count_of = {s.tape.id: s.count.id for s in ir.walk_stmts(fn.body) if isinstance(s, ir.TapeNew)}
    counts = [ir.Name(count_of[t]) for t in tapes]
    body = rewrite(forward_sweep(fn)) + [ir.Return(ir.TupleExpr(counts))]
    doc = (f"Counting pass of {fn.name}: its forward sweep with every tape push\n"
           f"    replaced by a count (nothing is stored), returning how many values each\n"
           f"    tape ({', '.join(tapes)}) takes at this point.")
    return ir.Function(name, list(fn.params), {}, body, doc=doc)


# ------------------------------------------------------------------------------ on the host
def offsets(rooms: np.ndarray) -> np.ndarray:
    """start[i] of each thread's part of a buffer (len(rooms) + 1 values: the exclusive
    prefix sum of the rooms, then the total)."""
    start = np.zeros(len(rooms) + 1, dtype=np.int64)
    np.cumsum(rooms, out=start[1:])
    return start
