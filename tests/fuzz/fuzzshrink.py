"""Shrink a failing fuzz program to a small one that still fails the same way.

A greedy delta-debugging pass over the program's syntax tree and inputs (not Hypothesis:
the programs are shape-typed text plus input values, and what "the same failure" means --
the same check failing, a crash of the same exception with the same message up to
names -- is the judge's, so the shrinker edits the program itself).  Candidates, biggest
first:

* drop a helper nobody calls, a statement (any block of f or a helper), a wrt entry;
* replace an `if` / `for` / `while` by its body (a for loop's counter set to 0 first),
  or by its else branch;
* replace an expression by one of its operands, a condition by True/False, an int
  literal by 1 or 0, drop a keyword argument;
* drop a parameter nobody reads; shrink an array input along an axis; round inputs;
  lower an int input.

A candidate is kept when its judgment (only the modes and backend the failing check
needs) still has a failure with the same signature; each pass goes on from where the
last kept candidate was, and passes repeat until one keeps nothing or the time budget
is spent.
"""
from __future__ import annotations

import ast
import copy
import re
import time

import numpy as np

import fuzzjudge


def _name_class(name: str) -> str:
    """What kind of name a message quotes: a generated tangent, adjoint, tape or
    temporary, a helper, or a user variable."""
    for prefix in ("t_", "d_", "tape_", "n_tape_", "g_"):
        if name.startswith(prefix):
            return prefix + "NAME"
    if re.fullmatch(r"h\d+", name):
        return "HELPER"
    if re.fullmatch(r"[A-Za-z]\w*?_\d+", name):
        return "TEMP_N"
    return "NAME"


def normalized(text: str) -> str:
    """A message with names and numbers blurred, so the same bug keeps the same key."""
    text = re.sub(r"'([A-Za-z_][\w]*)'", lambda m: f"'{_name_class(m.group(1))}'", text)
    text = re.sub(r"`([A-Za-z_][\w]*)`", lambda m: f"`{_name_class(m.group(1))}`", text)
    text = re.sub(r"<s2sgrad generated [^>]*>", "<generated>", text)
    text = re.sub(r" at 0x[0-9a-f]+", "", text)
    text = re.sub(r"\b\d+(\.\d+)?\b", "N", text)
    return text


def failure_key(failure) -> tuple:
    return (failure.outcome, failure.check, normalized(failure.exc.split("\n")[0]))


def judge_options(failure) -> dict:
    """The least judging that can show this failure again."""
    check = failure.check
    modes = ("reverse", "forward")
    if "reverse-vs-forward" not in check:
        if "reverse" in check:
            modes = ("reverse",)
        elif "forward" in check:
            modes = ("forward",)
    return {"modes": modes, "numba": check.startswith("numba"), "fd": check.endswith("-vs-fd")}


CANDIDATE_SECONDS = 20  # a candidate judged longer than this (a while True) is not kept


def still_fails(program, key, options):
    try:
        with fuzzjudge.time_limit(CANDIDATE_SECONDS):
            verdict = fuzzjudge.judge(program, **options)
    except fuzzjudge.Timeout:
        return None
    for f in verdict.failures:
        if failure_key(f) == key:
            return f
    return None


# ----------------------------------------------------------------------------- candidates
def _stmt_lists(tree):
    """The statement blocks of every function (the module's own list left alone)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Module):
            continue
        for field in ("body", "orelse"):
            value = getattr(node, field, None)
            if isinstance(value, list) and value and isinstance(value[0], ast.stmt):
                yield node, field


def _expr_slots(tree):
    for node in ast.walk(tree):
        for field, value in ast.iter_fields(node):
            if isinstance(value, ast.expr):
                yield node, field, None, value
            elif isinstance(value, list):
                for i, item in enumerate(value):
                    if isinstance(item, ast.expr):
                        yield node, field, i, item


def _simpler(e):
    """Expressions to try instead of e."""
    out = []
    if isinstance(e, ast.BinOp):
        out += [e.left, e.right]
    elif isinstance(e, ast.UnaryOp):
        out += [e.operand]
    elif isinstance(e, ast.BoolOp):
        out += list(e.values)
    elif isinstance(e, ast.Compare):
        out += [ast.Constant(True), ast.Constant(False)]
    elif isinstance(e, ast.IfExp):
        out += [e.body, e.orelse]
    elif isinstance(e, ast.Call) and _dotted(e.func) in ("np.copy", "np.array") or \
            isinstance(e, ast.Call) and isinstance(e.func, ast.Attribute) and e.func.attr == "copy":
        pass  # a copy stays a copy: without it, writes would go into the caller's array
    elif isinstance(e, ast.Call):
        out += list(e.args) + [k.value for k in e.keywords]
        if isinstance(e.func, ast.Attribute) and not (isinstance(e.func.value, ast.Name)
                                                      and e.func.value.id in ("np", "math")):
            out.append(e.func.value)  # x.sum(axis=0) -> x
        for i in range(len(e.keywords)):
            c = copy.deepcopy(e)
            del c.keywords[i]
            out.append(c)
    elif isinstance(e, ast.Subscript):
        out += [e.value]
    elif isinstance(e, ast.Attribute) and e.attr == "T":
        out += [e.value]
    elif isinstance(e, ast.Constant) and isinstance(e.value, int) and not isinstance(e.value, bool):
        out += [ast.Constant(v) for v in (1, 0) if v < abs(e.value) or (v == 0 and e.value < 0)]
    elif isinstance(e, ast.Constant) and isinstance(e.value, float) and e.value not in (1.0, 0.5):
        out += [ast.Constant(1.0), ast.Constant(0.5)]
    if isinstance(e, (ast.BinOp, ast.Call, ast.UnaryOp, ast.IfExp)) and not _has_store(e) \
            and not (isinstance(e, ast.Call) and isinstance(e.func, ast.Attribute) and e.func.attr == "copy"):
        out.append(ast.Constant(1.0))
    return out


def _has_store(e):
    return any(isinstance(getattr(n, "ctx", None), ast.Store) for n in ast.walk(e))


def _names_read(node):
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


class _Source:
    """A program's tree; `edit(k, fn)` gives the source with fn applied to a copy."""

    def __init__(self, program):
        self.program = program
        self.tree = ast.parse(program.source)

    def with_tree(self, tree):
        ast.fix_missing_locations(tree)
        return self.program.replace(source=ast.unparse(tree) + "\n")


def candidates(program):
    """Smaller variants of program, biggest cuts first: a list of functions that each
    build one (so that skipping candidates costs nothing)."""
    src = _Source(program)
    tree = src.tree
    out = []

    def edit(fn):
        def build():
            t = copy.deepcopy(tree)
            fn(t)
            return src.with_tree(t)
        out.append(build)

    # helpers nobody calls
    for i, node in enumerate(tree.body):
        if isinstance(node, ast.FunctionDef) and node.name != "f":
            others = [n for j, n in enumerate(tree.body) if j != i]
            if node.name not in set().union(*(_names_read(n) for n in others)):
                edit(lambda t, i=i: t.body.__delitem__(i))
    helpers_first = list(out)

    # statements: halves and quarters of long blocks first, then one at a time
    lists = list(_stmt_lists(tree))
    for li, (node, field) in enumerate(lists):
        body = getattr(node, field)
        keep_last = isinstance(node, ast.FunctionDef) and isinstance(body[-1], ast.Return)
        n = len(body) - (1 if keep_last else 0)
        size = n // 2
        while size >= 2:
            for start in range(0, n - size + 1, size):
                def chunk(t, li=li, start=start, size=size):
                    tnode, tfield = list(_stmt_lists(t))[li]
                    tbody = getattr(tnode, tfield)
                    del tbody[start:start + size]
                    if not tbody and tfield == "body":
                        tbody.append(ast.Pass())
                edit(chunk)
            size //= 2
    for li, (node, field) in enumerate(lists):
        body = getattr(node, field)
        for i in reversed(range(len(body))):
            if isinstance(node, ast.FunctionDef) and node.name == "f" and i == len(body) - 1 \
                    and isinstance(body[i], ast.Return):
                continue  # f keeps its final return

            def drop(t, li=li, i=i):
                tnode, tfield = list(_stmt_lists(t))[li]
                tbody = getattr(tnode, tfield)
                del tbody[i]
                if not tbody and tfield == "body":
                    tbody.append(ast.Pass())
            edit(drop)

    # compound statements replaced by a branch or their body
    for li, (node, field) in enumerate(lists):
        body = getattr(node, field)
        for i, stmt in enumerate(body):
            if not isinstance(stmt, (ast.If, ast.For, ast.While)):
                continue
            for part in ("body", "orelse"):
                if part == "orelse" and not stmt.orelse and not isinstance(stmt, ast.If):
                    continue

                def unwrap(t, li=li, i=i, part=part):
                    tnode, tfield = list(_stmt_lists(t))[li]
                    tbody = getattr(tnode, tfield)
                    tstmt = tbody[i]
                    new = getattr(tstmt, part) or [ast.Pass()]
                    if isinstance(tstmt, ast.For) and part == "body" and isinstance(tstmt.target, ast.Name):
                        new = [ast.Assign([ast.Name(tstmt.target.id, ast.Store())], ast.Constant(0))] + new
                    tbody[i:i + 1] = new
                edit(unwrap)

    # wrt entries
    if len(program.wrt) > 1:
        for w in program.wrt:
            out.append(lambda w=w: program.replace(wrt=tuple(x for x in program.wrt if x != w)))

    # expressions
    for si, (node, field, index, e) in enumerate(_expr_slots(tree)):
        if isinstance(getattr(e, "ctx", None), ast.Store):
            continue
        if isinstance(node, ast.Call) and field == "func":
            continue
        if isinstance(node, ast.Attribute) or isinstance(e, ast.Name) and e.id in ("np", "math"):
            continue
        for replacement in _simpler(e):
            def put(t, si=si, replacement=replacement):
                tnode, tfield, tindex, _ = list(_expr_slots(t))[si]
                new = copy.deepcopy(replacement)
                if tindex is None:
                    setattr(tnode, tfield, new)
                else:
                    getattr(tnode, tfield)[tindex] = new
            edit(put)

    # parameters nobody reads
    f = _f_def(tree)
    read = set().union(*(_names_read(s) for s in f.body))
    for p in program.params:
        if p.name not in read and len(program.params) > 1 and (p.name not in program.wrt or len(program.wrt) > 1):
            out.append(lambda name=p.name: _drop_param(program, tree, name))

    # inputs
    for p in program.params:
        x = program.args[p.name]
        if isinstance(x, np.ndarray) and x.ndim > 0:
            for axis in range(x.ndim):
                if x.shape[axis] > 1:
                    for size in sorted({1, x.shape[axis] - 1}):
                        y = np.take(x, range(size), axis=axis)
                        out.append(lambda name=p.name, y=y: _with_arg(program, name, y))
        if p.kind == "int" and x > 0:
            out.append(lambda name=p.name, x=x: _with_arg(program, name, x - 1))
    for digits in (1, 2):
        values = {}
        for name, x in program.args.items():
            if isinstance(x, np.ndarray):
                values[name] = np.array(np.round(x, digits))
            elif isinstance(x, float):
                values[name] = round(x, digits)
            else:
                values[name] = x
        if any(not fuzzjudge.same_value(values[k], program.args[k]) for k in values):
            out.append(lambda values=values: program.replace(args=values))
    if program.kw or program.omitted:
        out.append(lambda: program.replace(kw=(), omitted=()))
    out += helpers_first  # again: the cuts above may have left a helper unused
    return out


def constructs(source: str) -> tuple:
    """What a (minimal) program is made of, to tell failures of different causes apart:
    the NumPy/math functions and methods it calls, its control flow, how it writes by
    index, helpers and where they are called."""
    tree = ast.parse(source)
    out = set()
    params = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            if node.name == "f":
                params = {a.arg for a in node.args.args}
            else:
                out.add("helper")
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = _dotted(node.func)
            if name and (name.startswith(("np.", "math.", "sc.")) or
                         name in ("abs", "max", "min", "len", "sum", "enumerate", "zip")):
                out.add(name)
            elif isinstance(node.func, ast.Attribute):
                out.add("." + node.func.attr)
            if node.keywords:
                out.add("keywords")
        elif isinstance(node, (ast.ListComp, ast.GeneratorExp, ast.Lambda, ast.Dict, ast.ClassDef,
                               ast.Delete, ast.Import)):
            out.add(type(node).__name__.lower())
        elif isinstance(node, ast.Assign) and len(node.targets) > 1:
            out.add("chained assignment")
        elif isinstance(node, ast.FunctionDef) and node.name != "f" and node not in tree.body:
            out.add("local def")
        elif isinstance(node, (ast.For, ast.While, ast.If, ast.Break, ast.Continue, ast.IfExp)):
            out.add(type(node).__name__.lower())
        elif isinstance(node, ast.BoolOp):
            out.add("and/or")
            if any(isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id != "len"
                   for n in ast.walk(node)):
                out.add("helper call in and/or")
        elif isinstance(node, ast.AugAssign):
            target = node.target
            if isinstance(target, ast.Name):
                out.add("augmented parameter" if target.id in params else "augmented")
        elif isinstance(node, ast.Tuple) and isinstance(getattr(node, "ctx", None), ast.Store):
            out.add("unpacking")
        elif isinstance(node, ast.BinOp) and isinstance(node.op, (ast.MatMult, ast.Pow)):
            out.add(type(node.op).__name__)
        if isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Store):
            s = node.slice
            kind = ("mask" if isinstance(s, ast.Compare) else "list" if isinstance(s, ast.List)
                    else "slice" if isinstance(s, ast.Slice) else "name" if isinstance(s, ast.Name)
                    else "tuple" if isinstance(s, ast.Tuple) else "int")
            out.add(f"write[{kind}]")
        if isinstance(node, ast.FunctionDef):
            for inner in ast.walk(node):
                if isinstance(inner, ast.Return) and inner not in node.body:
                    out.add("early return")
    return tuple(sorted(out))


def _dotted(node):
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return f"{base}.{node.attr}" if base else None
    return None


def _f_def(tree):
    """f's def: at the module's top level, or a method of a class there."""
    return next(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == "f")


def _with_arg(program, name, value):
    args = dict(program.args)
    args[name] = value
    params = [p if p.name != name or not isinstance(value, np.ndarray)
              else type(p)(p.name, p.kind, value.shape) for p in program.params]
    return program.replace(args=args, params=params)


def _drop_param(program, tree, name):
    t = copy.deepcopy(tree)
    f = _f_def(t)
    args = f.args
    n_plain = len(args.args)
    defaults = dict(zip([a.arg for a in args.args[n_plain - len(args.defaults):]], args.defaults))
    args.args = [a for a in args.args if a.arg != name]
    kept = [defaults[a.arg] for a in args.args if a.arg in defaults]
    args.defaults = kept
    ast.fix_missing_locations(t)
    return program.replace(
        source=ast.unparse(t) + "\n",
        params=[p for p in program.params if p.name != name],
        args={k: v for k, v in program.args.items() if k != name},
        wrt=tuple(w for w in program.wrt if w != name) or program.wrt,
        kw=tuple(k for k in program.kw if k != name),
        omitted=tuple(k for k in program.omitted if k != name))


# ----------------------------------------------------------------------------- shrinking
def shrink(program, failure, budget_s=60.0, log=None):
    """(smallest program found that fails like `failure`, its failure, judgments made)."""
    key = failure_key(failure)
    options = judge_options(failure)
    deadline = time.monotonic() + budget_s
    best, best_failure = program, failure
    judged = 0
    progress = True
    while progress and time.monotonic() < deadline:
        progress = False
        position = 0
        thunks = candidates(best)
        while position < len(thunks) and time.monotonic() < deadline:
            cand = thunks[position]()
            position += 1
            judged += 1
            try:
                found = still_fails(cand, key, options)
            except Exception:  # a candidate the judge cannot even run: not the same failure
                found = None
            if found is not None:
                best, best_failure = cand, found
                progress = True
                thunks = candidates(best)
                position -= 1  # the list is shorter now: the next candidate moved here
                if log:
                    log(f"  shrink: {len(best.source.splitlines())} lines")
    return best, best_failure, judged
