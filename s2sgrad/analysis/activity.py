"""Activity analysis: which variables get adjoints.

A variable is *varied* if its value depends differentiably on a wrt input, *useful* if
the output depends differentiably on it, and *active* if both.  Only active variables
get adjoints.  The analysis is per variable and ignores statement order (a loop can
carry any value into any statement), closed over the flow edges: conservative, simple.
"""
from __future__ import annotations

from .. import ir
from ..rules import runtime_helpers as runtime_rules
from ..rules.partials import carries


def _flows(fn: ir.Function):
    """(source variables, target variable) pairs: a derivative may flow from each source."""
    edges: list[tuple[set[str], str]] = []

    def sources(e):
        # variables in differentiable positions of e (conditions, indices, floor(...) excluded)
        return {n for n in ir.names_in(e) if carries(e, lambda v, n=n: v == n)}

    for s in ir.walk_stmts(fn.body):
        if isinstance(s, ir.Assign) and s.role == "user":
            for t, v in zip(s.targets, s.values):
                src = sources(v)
                if s.aug:
                    src.add(ir.target_name(t))
                edges.append((src, ir.target_name(t)))
        elif isinstance(s, ir.CallAssign):
            src = set().union(*(sources(a) for a in s.call.args))
            for t in s.targets:
                edges.append((src, t.id))
        elif isinstance(s, ir.Append):
            edges.append((sources(s.value), s.target.id))
        elif runtime_rules.is_add_at(s):  # add_at(d_x, index, g) adds g into d_x
            d_x, _, g = s.expr.args
            edges.append((sources(g) | ir.names_in(d_x), ir.target_name(d_x)))
        elif isinstance(s, ir.Pop) and s.into is not None:  # v = tape.pop()
            edges.append(({s.target.id}, ir.target_name(s.into)))
        elif isinstance(s, ir.ForEach):
            edges.append(({s.seq.id}, s.target.id))
    return edges


def active_variables(fn: ir.Function, wrt: list[str], outputs: list[str]) -> set[str]:
    """The variables that depend on wrt (varied) and that the outputs depend on (useful).
    Both closures are worklists over the flow edges, linear in their number (a sweep of
    the edges until nothing changes takes a sweep per statement of a long chain)."""
    edges = _flows(fn)
    readers: dict[str, list[str]] = {}   # a name -> the names assigned from it
    writers: dict[str, set[str]] = {}    # a name -> the names it is assigned from
    for src, t in edges:
        for name in src:
            readers.setdefault(name, []).append(t)
        writers.setdefault(t, set()).update(src)
    return _closure(wrt, readers) & _closure(outputs, writers)


def _closure(start, follow: dict) -> set[str]:
    seen, todo = set(start), list(start)
    while todo:
        for nxt in follow.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen
