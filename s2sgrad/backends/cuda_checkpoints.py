"""Recomputation for the cuda backend: a long loop's tapes kept to a memory budget.

With `tape_memory=bytes`, a call whose tapes (cuda_tapes.py) would take more global
memory than that runs a checkpointed derivative instead, when its function has one loop
that can be: a `for i in range(n)` (n an expression of the arguments) holding every
push of the forward sweep (loops inside it too, when their bounds are arguments).  The
forward sweep then saves only the loop-carried state, every `k` trips (`k` a run-time
parameter, chosen on the host to fit the budget), onto checkpoint tapes, and keeps no
other tape; the reverse sweep takes the segments last first: it restores the segment's
state, runs its (at most k) trips forward again onto the ordinary tapes, now k trips
long, and runs their reverse.  The loop's body runs twice in all: memory goes from n
trips of tape to about n / k states and k trips.

`plan` says which loop (or why none); `checkpointed` rewrites the derivative's IR.
"""
from __future__ import annotations

import copy
import math
import os

import numpy as np

from .. import ir
from ..transforms.tapes import scalar_types, DTYPES
from .cuda_tapes import forward_sweep, own_tapes, pushes_bound


class Plan:
    """The loop to checkpoint: the forward loop and its reverse, the trip count (an
    expression of the parameters), the loop-carried variables (with their dtypes) and
    each tape's pushes per trip (an expression of the parameters too, an upper bound:
    both branches of an if count, inner loops multiply)."""

    def __init__(self, loop, reverse, trips, carried: dict, per_trip: dict):
        self.loop, self.reverse, self.trips = loop, reverse, trips
        self.carried, self.per_trip = carried, per_trip

    @property
    def where(self) -> str:
        pos = self.loop.pos
        return f"{os.path.basename(pos.file)}:{pos.line}" if pos is not None else "the loop"


def plan(fn: ir.Function, param_types: dict) -> Plan | str:
    """The loop of `fn` (a derivative with tapes) to checkpoint, or why there is none."""
    fwd = forward_sweep(fn)
    loops = [s for s in fwd if isinstance(s, ir.ForRange) and _pushes(s.body)]
    if len(loops) != 1 or _push_count(fwd) != _push_count(loops[0].body):
        return "the pushes are not all in one top-level for loop"
    loop = loops[0]
    args = loop.args
    start, stop, step = (ir.Const(0), args[0], ir.Const(1)) if len(args) == 1 else \
        (args[0], args[1], args[2] if len(args) == 3 else ir.Const(1))
    if not (_is_const(start, 0) and _is_const(step, 1)) or loop.limit is not None or loop.reverse:
        return "the loop is not over range(n)"
    fixed = set(fn.params) - ir.assigned_names(fn.body)
    if not ir.names_in(stop) <= fixed:
        return "its trip count is computed in the function"
    if any(isinstance(s, ir.Break) for s in ir.walk_stmts(loop.body)):
        return "the loop breaks"
    per_trip = pushes_bound(loop.body, fixed, own_tapes(fn))
    if per_trip is None:
        return "a loop inside it runs a number of trips that is no expression of the arguments"
    rev = [s for s in fn.body[len(fwd):] if isinstance(s, ir.ForRange) and s.reverse
           and s.target.id == loop.target.id and repr(s.args) == repr(loop.args) and s.limit is None]
    if len(rev) != 1:
        return "its reverse loop is not one loop over the same range"
    before = set(fn.params) | ir.assigned_names(fwd[:fwd.index(loop)])
    carried = sorted(_upward_exposed(loop.body) & ir.assigned_names(loop.body) - {loop.target.id})
    if not set(carried) <= before:
        return (f"{sorted(set(carried) - before)[0]!r} is carried from one trip to the next but "
                f"bound only in the loop")
    types = scalar_types(fn, param_types)
    return Plan(loop, rev[0], ir.Call(ir.Lib("builtins", "max"), [ir.Const(0), copy.deepcopy(stop)]),
                {v: DTYPES[types.get(v, "float")] for v in carried}, per_trip)


def checkpointed(fn: ir.Function, p: Plan, every: str, namer) -> ir.Function:
    """`fn` with p's loop checkpointed every `every` trips (a new parameter, last)."""
    ckpt = {v: (namer.fresh(f"checkpoint_{v}"), namer.fresh(f"n_checkpoint_{v}")) for v in p.carried}
    k = ir.Name(every)
    news = [ir.TapeNew(ir.Name(t), ir.Name(n), p.carried[v]) for v, (t, n) in ckpt.items()]
    saves = [ir.TapePush(ir.Name(t), ir.Name(n), ir.Name(v), False) for v, (t, n) in ckpt.items()]
    at_start = ir.If(ir.Compare(ir.BinOp("%", ir.Name(p.loop.target.id), k), ["=="], [ir.Const(0)]),
                     saves, [])
    what = f"checkpointed loop ({p.where}"
    forward = ir.ForRange(p.loop.target, copy.deepcopy(p.loop.args),
                          [at_start] + _without_pushes(copy.deepcopy(p.loop.body)), pos=p.loop.pos)
    seg, lo, hi, n_seg = (ir.Name(namer.fresh(v)) for v in ("segment", "first", "end", "segments"))
    trips = copy.deepcopy(p.trips)
    restores = [ir.TapePop(ir.Name(t), ir.Name(n), ir.Name(v)) for v, (t, n) in reversed(ckpt.items())]
    segment = restores + [
        ir.Assign([lo], [ir.BinOp("*", seg, k)], role="flag"),
        ir.Assign([hi], [ir.Call(ir.Lib("builtins", "min"), [ir.BinOp("+", lo, k), trips])], role="flag"),
        ir.Comment("the segment's trips again, onto the tapes (room for k trips)"),
        ir.ForRange(p.loop.target, [lo, hi], copy.deepcopy(p.loop.body), pos=p.loop.pos),
        ir.Comment("and their reverse"),
        ir.ForRange(p.reverse.target, [lo, hi], p.reverse.body, reverse=True, pos=p.reverse.pos),
    ]
    reverse = [ir.Comment(f"{what}): segment by segment, the last first: its state"),
               ir.Comment("restored, its k trips run forward again onto the tapes, then reversed"),
               ir.Assign([n_seg], [ir.BinOp("//", ir.BinOp("+", copy.deepcopy(trips),
                                                         ir.BinOp("-", k, ir.Const(1))), k)], role="flag"),
               ir.ForRange(seg, [n_seg], segment, reverse=True, pos=p.reverse.pos)]
    body = []
    for s in fn.body:
        if s is p.loop:
            body += [ir.Comment(f"{what}, k = {every} trips, chosen on the host to fit tape_memory):"),
                     ir.Comment(f"its state ({', '.join(p.carried)}) saved every k trips onto "
                                f"{', '.join(t for t, _ in ckpt.values())}; no other tape"),
                     forward]
        elif s is p.reverse:
            body += reverse
        else:
            body.append(s)
    out = ir.Function(fn.name, list(fn.params) + [every], dict(fn.defaults), news + body, fn.result,
                      fn.doc, fn.file, fn.line, fn.pyfunc)
    return out


# ------------------------------------------------------------------------------ on the host
def rooms(trips: np.ndarray, k: int, per_trip: dict) -> list[np.ndarray]:
    """Each tape's room at every point, checkpointing every k trips: a tape of the loop
    holds one segment (at most k trips of its pushes), a checkpoint tape one state a
    segment.  `per_trip`: each tape's pushes per trip at every point (an array), None
    for a checkpoint tape."""
    segments = -(-trips // k)
    return [np.minimum(trips, k) * p if p is not None else segments.copy() for p in per_trip.values()]


def choose_every(trips: np.ndarray, itemsize: dict, per_trip: dict) -> tuple[int, int]:
    """(k, bytes): the k whose tapes take the least memory over the points, and how much.
    The k tried: powers of two, the longest trip count, and those near the square root
    of (state bytes / segment bytes a trip) times the longest count, where one point's
    sum of the two is least."""
    longest = max(int(trips.max()) if len(trips) else 0, 1)
    state = sum(itemsize[t] for t, p in per_trip.items() if p is None)
    segment = max(sum(itemsize[t] * int(p.max(initial=0)) for t, p in per_trip.items() if p is not None), 1)
    middle = math.isqrt(longest * state // segment)
    candidates = {1 << e for e in range(longest.bit_length())} | {longest} | \
        {k for k in range(middle - 2, middle + 3) if 1 <= k <= longest}
    best = None
    for k in sorted(candidates):
        total = sum(int(r.sum()) * itemsize[t] for t, r in zip(per_trip, rooms(trips, k, per_trip)))
        if best is None or total < best[1]:
            best = (k, total)
    return best


# ------------------------------------------------------------------------------ helpers
def _is_const(e, value) -> bool:
    return isinstance(e, ir.Const) and e.value == value


def _pushes(stmts) -> bool:
    return any(isinstance(s, ir.TapePush) for s in ir.walk_stmts(stmts))


def _push_count(stmts) -> int:
    """Push statements in the statements, nested ones included."""
    return sum(isinstance(s, ir.TapePush) for s in ir.walk_stmts(stmts))


def _without_pushes(stmts) -> list[ir.Stmt]:
    out = []
    for s in stmts:
        if isinstance(s, ir.TapePush):
            continue
        out.append(ir.map_blocks(s, _without_pushes))
    return out


def _upward_exposed(body, written=frozenset()) -> set[str]:
    """Variables a trip may read before the trip writes them (its loop-carried inputs):
    a write counts for what follows it in its own block (a loop's variable inside the
    loop).  A push reads the value it saves (the reverse sweep puts it back: after the
    loop, the variable must hold its value from before it, as without checkpoints)."""
    written = set(written)
    exposed: set[str] = set()
    for s in body:
        reads = ir.stmt_reads(s)
        if isinstance(s, (ir.TapePush, ir.TapePop)):  # the tapes and counts are not state
            reads -= {s.tape.id, s.count.id}
        exposed |= reads - written
        if isinstance(s, (ir.ForRange, ir.ForEach)):
            exposed |= _upward_exposed(s.body, written | {s.target.id})
        else:
            for block in ir.blocks(s):
                exposed |= _upward_exposed(block, written)
        if isinstance(s, ir.Assign) and not s.aug:
            written |= {t.id for t in s.targets if isinstance(t, ir.Name)}
    return exposed
