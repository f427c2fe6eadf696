"""Whole-array writes: the arrays a loop overwrites in every element.

    for j in range(n):            # either direction
        a[j] = v                  # on every trip, a read nowhere else in the body

leaves none of a's old values when a's first axis has length n: n and a are each bound
once, outside loops, a by np.zeros / np.empty / np.ones / np.full with n first in its
shape, or the loop runs over range(a.shape[0]).  Liveness (the optimizer's dead code)
counts such a loop as binding a, so a tape pop into a[i] that the loop overwrites before
anything reads it goes, with its push: the reverse sweep of a loop nest that refills a
work array on each trip (GMM's qxcentered) stops saving values it never reads.
"""
from __future__ import annotations

from .. import ir
from . import dataflow

_CREATORS = {"zeros", "empty", "ones", "full"}


def first_axis_lengths(fn: ir.Function) -> dict[str, ir.Expr]:
    """Arrays bound once, outside loops, by a creator whose first length is an int
    literal or a variable bound once outside loops -> that length."""
    counts = dataflow.count_assignments(fn)
    top = dataflow.definitely_bound(list(fn.body), set(fn.params))  # outside loops, on every path
    out = {}
    for s in fn.body:
        if not (isinstance(s, ir.Assign) and not s.aug and len(s.targets) == len(s.values)):
            continue
        for t, v in zip(s.targets, s.values):
            n = _created_length(v)
            if isinstance(t, ir.Name) and counts.get(t.id) == 1 and n is not None and (
                    isinstance(n, ir.Const) or (counts.get(n.id) == 1 and n.id in top)):
                out[t.id] = n
    return out


def overwritten(loop: ir.Stmt, lengths: dict[str, ir.Expr], arrays, views: dict) -> set[str]:
    """The arrays `loop` overwrites whole (module docstring); empty where it cannot
    prove it."""
    if not isinstance(loop, ir.ForRange) or loop.limit is not None or _exits(loop.body):
        return set()
    stop = _stop_of_count_from_zero(loop.args)
    j = loop.target.id
    if stop is None or j in ir.assigned_names(loop.body):
        return set()
    out = set()
    for s in loop.body:  # top-level statements: run on every trip
        t = _single_index_target(s)
        if t is None or not (isinstance(t.index, ir.Name) and t.index.id == j):
            continue
        a = t.value.id
        if not views.get(a) and _reads_nowhere_else(a, s, loop.body) and (
                _same(lengths.get(a), stop) or (a in arrays and _is_first_axis_of(stop, a))):
            out.add(a)
    return out


def _single_index_target(s: ir.Stmt) -> ir.Subscript | None:
    """`a[i] = v` or `a[i] = tape.pop()`: the target, a variable indexed once."""
    if isinstance(s, ir.Assign) and not s.aug and len(s.targets) == 1:
        t = s.targets[0]
    elif isinstance(s, ir.Pop):
        t = s.into
    else:
        return None
    return t if isinstance(t, ir.Subscript) and isinstance(t.value, ir.Name) else None


def _reads_nowhere_else(a: str, write: ir.Stmt, body) -> bool:
    """No statement of the body reads a (the write itself reads only its index and value)."""
    for s in ir.walk_stmts(body):
        reads = ir.stmt_reads(s)
        if s is write:
            t = _single_index_target(s)
            reads = ir.names_in(t.index) | (ir.names_in(s.values[0]) if isinstance(s, ir.Assign) else set())
        if a in reads or (isinstance(s, ir.Assign) and a in {ir.target_name(t) for t in s.targets}
                          and s is not write):
            return False
    return a not in dataflow.rebound_names(body)


def _exits(body) -> bool:
    return any(isinstance(s, (ir.Break, ir.Continue, ir.Return)) for s in ir.walk_stmts(body))


def _stop_of_count_from_zero(args) -> ir.Expr | None:
    """n for range(n), range(0, n) and range(0, n, 1)."""
    if len(args) == 3 and not (isinstance(args[2], ir.Const) and args[2].value == 1):
        return None
    if len(args) >= 2 and not (isinstance(args[0], ir.Const) and args[0].value == 0):
        return None
    return args[0] if len(args) == 1 else args[1]


def _created_length(v: ir.Expr) -> ir.Expr | None:
    if not (isinstance(v, ir.Call) and isinstance(v.func, ir.Lib) and v.func.module == "numpy"
            and v.func.attr in _CREATORS and v.args):
        return None
    shape = v.args[0]
    n = shape.elts[0] if isinstance(shape, ir.TupleExpr) and shape.elts else shape
    if isinstance(n, ir.Name) or (isinstance(n, ir.Const) and type(n.value) is int):
        return n
    return None


def _same(n: ir.Expr | None, stop: ir.Expr) -> bool:
    if isinstance(n, ir.Name):
        return isinstance(stop, ir.Name) and stop.id == n.id
    return isinstance(n, ir.Const) and isinstance(stop, ir.Const) and stop.value == n.value


def _is_first_axis_of(e: ir.Expr, a: str) -> bool:
    """`a.shape[0]`."""
    return isinstance(e, ir.Subscript) and isinstance(e.index, ir.Const) and e.index.value == 0 \
        and isinstance(e.value, ir.Attr) and e.value.attr == "shape" \
        and isinstance(e.value.value, ir.Name) and e.value.value.id == a

