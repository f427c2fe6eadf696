"""Dataflow facts about a block of statements: what it reads, what is bound on every
path through it, where each variable is first bound, how often each is assigned, and
whether a loop body breaks.

Reverse mode asks them to decide where values must be saved: a value the reverse sweep
never reads needs no save, and the first value a variable gets overwrites nothing.
"""
from __future__ import annotations

from .. import ir


def reads(stmts, skip=None) -> set[str]:
    """Variables the statements read; `skip` is a loop whose body is left out."""
    out: set[str] = set()
    for s in stmts:
        out |= ir.stmt_reads(s)
        if s is not skip:
            for block in ir.blocks(s):
                out |= reads(block, skip)
    return out


def definitely_bound(stmts, bound: set[str], before: dict | None = None) -> set[str]:
    """The names bound on every path through the statements, given those bound at the
    start; `before`, if given, gets id(statement) -> the names bound on every path to it."""
    for s in stmts:
        if before is not None:
            before[id(s)] = set(bound)
        if isinstance(s, (ir.Assign, ir.CallAssign)):
            bound |= {t.id for t in s.targets if isinstance(t, ir.Name)}
        elif isinstance(s, ir.Pop) and isinstance(s.into, ir.Name):
            bound.add(s.into.id)
        elif isinstance(s, ir.If):
            bound |= definitely_bound(s.body, set(bound), before) & \
                definitely_bound(s.orelse, set(bound), before)
        elif ir.blocks(s):  # a loop may run no times: what it binds is not bound after it
            definitely_bound(s.body, set(bound), before)
    return bound


def rebound_names(stmts) -> set[str]:
    """The variables some statement binds to a new value (not a write by index into it):
    `x = ...`, `a, x = h(...)`, `for x in ...`, `x = tape.pop()`."""
    out: set[str] = set()
    for s in ir.walk_stmts(stmts):
        if isinstance(s, ir.Assign):
            out |= {t.id for t in s.targets if isinstance(t, ir.Name)}
        elif isinstance(s, ir.CallAssign):
            out |= {t.id for t in s.targets}
        elif isinstance(s, (ir.ForRange, ir.ForEach)):
            out.add(s.target.id)
        elif isinstance(s, ir.Pop) and isinstance(s.into, ir.Name):
            out.add(s.into.id)
    return out


def first_bindings(stmts) -> dict:
    """For each variable, the first statement (in source order) that binds it."""
    first: dict = {}
    for s in ir.walk_stmts(stmts):
        names = []
        if isinstance(s, ir.Assign):
            names = [t.id for t in s.targets if isinstance(t, ir.Name)]
        elif isinstance(s, ir.CallAssign):
            names = [t.id for t in s.targets]
        elif isinstance(s, ir.Pop) and isinstance(s.into, ir.Name):
            names = [s.into.id]
        for n in names:
            first.setdefault(n, s)
    return first


def count_assignments(fn: ir.Function) -> dict[str, int]:
    """How many statements bind each variable (a parameter's call counts as one)."""
    counts: dict[str, int] = {p: 1 for p in fn.params}
    for s in ir.walk_stmts(fn.body):
        targets = []
        if isinstance(s, ir.Assign):
            targets = [t for t in s.targets if isinstance(t, ir.Name)]
        elif isinstance(s, ir.CallAssign):
            targets = s.targets
        elif isinstance(s, (ir.ForRange, ir.ForEach)):
            targets = [s.target]
        elif isinstance(s, ir.Pop) and isinstance(s.into, ir.Name):
            targets = [s.into]
        for t in targets:
            counts[t.id] = counts.get(t.id, 0) + 1
    return counts


def breaks(stmts) -> bool:
    """Whether a loop body breaks out of this loop (breaks of nested loops don't count)."""
    for s in stmts:
        if isinstance(s, ir.Break):
            return True
        if isinstance(s, ir.If) and (breaks(s.body) or breaks(s.orelse)):
            return True
    return False
