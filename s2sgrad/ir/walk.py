"""Traversal of the IR: sub-expressions, nested statements, the names a statement reads
and writes.  Every pass walks the IR through these."""
from __future__ import annotations

import dataclasses

from .nodes import (Append, Assign, Attr, BinOp, BoolOp, CallAssign, Call, Compare, Expr, ExprStmt,
                    Foreign, ForEach, ForRange, If, IfExp, ListExpr, Name, Pop, Raw, Return, Slice, Stmt,
                    Subscript, TapePop, TapePush, TapeReserve, TupleExpr, UnaryOp, While)

__all__ = ["map_children", "children", "subexprs", "has_effect", "stmt_exprs", "names_in", "walk_stmts", "blocks", "map_blocks", "target_name",
           "assigned_names", "stmt_reads"]

def children(e: Expr) -> list[Expr]:
    """Direct sub-expressions of an expression."""
    if isinstance(e, BinOp):
        return [e.left, e.right]
    if isinstance(e, UnaryOp):
        return [e.operand]
    if isinstance(e, (BoolOp,)):
        return list(e.values)
    if isinstance(e, Compare):
        return [e.left, *e.comparators]
    if isinstance(e, Call):
        return [e.func, *e.args, *(v for _, v in e.kwargs)]
    if isinstance(e, Subscript):
        return [e.value, e.index]
    if isinstance(e, IfExp):
        return [e.test, e.body, e.orelse]
    if isinstance(e, (TupleExpr, ListExpr)):
        return list(e.elts)
    if isinstance(e, Attr):
        return [e.value]
    if isinstance(e, Slice):
        return [p for p in (e.lower, e.upper, e.step) if p is not None]
    return []


def map_children(e: Expr, fn) -> Expr:
    """`e` with each direct sub-expression c replaced, in place, by fn(c); returns e.

    The one place that knows where an expression keeps its children: every field that
    holds an expression, a list of them, or (name, expression) keyword pairs."""
    for f in dataclasses.fields(e) if dataclasses.is_dataclass(e) else ():
        value = getattr(e, f.name)
        if isinstance(value, Expr):
            setattr(e, f.name, fn(value))
        elif isinstance(value, list) and value and isinstance(value[0], Expr):
            setattr(e, f.name, [fn(v) for v in value])
        elif isinstance(value, list) and value and isinstance(value[0], tuple):
            setattr(e, f.name, [(k, fn(v)) for k, v in value])
    return e


def subexprs(e: Expr):
    """An expression and all its sub-expressions, outermost first."""
    yield e
    for c in children(e):
        yield from subexprs(c)


def stmt_exprs(s: Stmt) -> list[Expr]:
    """The expressions a statement holds itself (not those of nested blocks)."""
    if isinstance(s, Assign):
        return [*s.targets, *s.values]
    if isinstance(s, CallAssign):
        return [s.call]
    if isinstance(s, Append):
        return [s.value]
    if isinstance(s, ExprStmt):
        return [s.expr] + ([s.msg] if s.msg is not None else [])
    if isinstance(s, (If, While)):
        return [s.test]
    if isinstance(s, ForRange):
        return list(s.args) + ([s.limit] if s.limit is not None else [])
    if isinstance(s, Return) and s.value is not None:
        return [s.value]
    if isinstance(s, Pop) and s.into is not None:
        return [s.into]
    if isinstance(s, TapeReserve):
        return [s.extra]
    if isinstance(s, TapePush):
        return [s.value]
    if isinstance(s, TapePop) and s.into is not None:
        return [s.into]
    return []


def has_effect(e: Expr) -> bool:
    """Whether evaluating e may do more than compute a value: a call with no rule and no
    source (random.random() gives another number each time), or a method call such as
    `d_xs.pop()`."""
    return isinstance(e, Foreign) or (isinstance(e, Call) and isinstance(e.func, Attr)) \
        or any(has_effect(c) for c in children(e))


def names_in(e: Expr | None) -> set[str]:
    """Every local variable an expression reads."""
    if e is None:
        return set()
    if isinstance(e, Name):
        return {e.id}
    if isinstance(e, Raw):
        return set(e.reads)
    out: set[str] = set()
    for c in children(e):
        out |= names_in(c)
    return out


def walk_stmts(stmts: list[Stmt]):
    """Every statement, nested ones included, in source order."""
    for s in stmts:
        yield s
        for block in blocks(s):
            yield from walk_stmts(block)


def blocks(s: Stmt) -> list[list[Stmt]]:
    if isinstance(s, If):
        return [s.body, s.orelse]
    if isinstance(s, (ForRange, ForEach, While)):
        return [s.body]
    return []


def map_blocks(s: Stmt, fn) -> Stmt:
    """s with each nested block replaced by fn(block), in place (blocks' order)."""
    if isinstance(s, If):
        s.body, s.orelse = fn(s.body), fn(s.orelse)
    elif isinstance(s, (ForRange, ForEach, While)):
        s.body = fn(s.body)
    return s


def target_name(t: Expr) -> str:
    """The variable a target writes: `x` for x, `s` for s[i]."""
    return t.id if isinstance(t, Name) else target_name(t.value)


def assigned_names(stmts: list[Stmt]) -> set[str]:
    """Every variable some statement in the block (nested ones included) writes."""
    out: set[str] = set()
    for s in walk_stmts(stmts):
        if isinstance(s, Assign):
            out |= {target_name(t) for t in s.targets}
        elif isinstance(s, CallAssign):
            out |= {t.id for t in s.targets}
        elif isinstance(s, (Append, Pop)):
            out.add(s.target.id)
            if isinstance(s, Pop) and s.into is not None:
                out.add(target_name(s.into))
        elif isinstance(s, (ForRange, ForEach)):
            out.add(s.target.id)
    return out


def stmt_reads(s: Stmt) -> set[str]:
    """Variables a statement reads itself (not counting nested blocks)."""
    if isinstance(s, Assign):
        out = set().union(*(names_in(v) for v in s.values))
        for t in s.targets:
            if isinstance(t, Subscript):
                out |= names_in(t)
            elif s.aug:
                out.add(t.id)
        return out
    if isinstance(s, CallAssign):
        return names_in(s.call)
    if isinstance(s, Append):
        return {s.target.id} | names_in(s.value)
    if isinstance(s, Pop):
        return {s.target.id} | (names_in(s.into.index) if isinstance(s.into, Subscript) else set()) \
            | ({target_name(s.into)} if isinstance(s.into, Subscript) else set())
    if isinstance(s, ExprStmt):
        return names_in(s.expr) | names_in(s.msg)
    if isinstance(s, (If, While)):
        return names_in(s.test)
    if isinstance(s, ForRange):
        return set().union(*(names_in(a) for a in s.args)) | names_in(s.limit)
    if isinstance(s, ForEach):
        return {s.seq.id}
    if isinstance(s, Return):
        return names_in(s.value)
    if isinstance(s, TapePush):  # tape[count] = value; count += 1
        return {s.tape.id, s.count.id} | names_in(s.value)
    if isinstance(s, TapePop):  # count -= 1; into = tape[count]
        return {s.tape.id, s.count.id} | (names_in(s.into.index) | {target_name(s.into)}
                                          if isinstance(s.into, Subscript) else set())
    if isinstance(s, TapeReserve):
        return {s.tape.id, s.count.id} | names_in(s.extra)
    return set()
