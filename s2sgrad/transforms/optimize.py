"""Optimizer: make the generated function read like hand-written code.

Passes, repeated until the function stops changing:
- fold:        arithmetic on constants and identities (1.0 * e, e + 0.0, -(-e)) in
               adjoint statements (the user's own statements are left as written);
- propagate:   a constant adjoint such as the seed `d_out = 1.0` into its uses;
- first write: `d_x = 0.0` followed by `d_x += e` becomes `d_x = e`;
- dead code:   assignments nobody reads, empty branches and loops, orphan comments.
"""
from __future__ import annotations

import bisect
import copy

import numpy as np

from .. import ir
from ..analysis import aliasing, coverage, dataflow
from ..backends import python as codegen

def optimize(fn: ir.Function) -> ir.Function:
    floats = getattr(fn, "float_names", set())
    arrays = getattr(fn, "primal_arrays", set())
    before = None
    while True:
        text = codegen.PythonPrinter().function(fn)
        if text == before:
            _own_adjoint_arrays(fn.body, arrays)
            return fn
        before = text
        fn.body = _fold_block(fn.body, floats, arrays)
        fn.body = _propagate_constants(fn.body)
        fn.body = _merge_first_writes(fn.body, floats, arrays)
        _merge_first_writes_in_loops(fn.body, floats, arrays)
        _reuse_computed(fn.body, read=_read_by_primal_code(fn.body))
        fn.body, _ = _dead_code(fn.body, _caller_visible(fn), set(), _views(fn.body), arrays,
                                coverage.first_axis_lengths(fn))
        fn.body = _tidy(fn.body)
        if fn.body and isinstance(fn.body[0], ir.Comment) and fn.body[0].text == "reverse sweep":
            fn.body = fn.body[1:]  # no forward statements: nothing to tell apart


# ------------------------------------------------------------------------------ folding
def _is_num(e, *values) -> bool:
    return isinstance(e, ir.Const) and type(e.value) in (int, float) and (not values or e.value in values)


def fold(e: ir.Expr, floats: set[str] = frozenset(), arrays: set[str] = frozenset()) -> ir.Expr:
    ir.map_children(e, lambda c: fold(c, floats, arrays))
    if isinstance(e, ir.UnaryOp) and e.op == "-":
        if isinstance(e.operand, ir.UnaryOp) and e.operand.op == "-":
            return e.operand.operand
        if _is_num(e.operand):
            return ir.Const(-e.operand.value)
    if not isinstance(e, ir.BinOp):
        return e
    a, b, op = e.left, e.right, e.op
    if _is_num(a) and _is_num(b) and op in "+-*":
        return ir.Const({"+": a.value + b.value, "-": a.value - b.value, "*": a.value * b.value}[op])
    if op == "*":
        if _is_num(a, 1):  # 1.0 * i is a float even where i is an int: keep that
            return b if isinstance(a.value, int) or surely_float(b, floats) else _as_float(b, arrays, e)
        if _is_num(b, 1):
            return a if isinstance(b.value, int) or surely_float(a, floats) else _as_float(a, arrays, e)
        if _is_num(a, -1):
            return ir.UnaryOp("-", b)
        if _is_num(b, -1):
            return ir.UnaryOp("-", a)
        if (_is_num(a, 0) and not ir.names_in(b)) or (_is_num(b, 0) and not ir.names_in(a)):
            return ir.Const(0.0)  # (0.0 * x of an array x is an array of zeros: kept)
        if isinstance(a, ir.UnaryOp) and a.op == "-":  # (-a) * b  ->  -(a * b)
            return ir.UnaryOp("-", ir.BinOp("*", a.operand, b))
    if op == "+" and _is_num(a, 0):
        return b
    if op in "+-" and _is_num(b, 0):
        return a
    if op == "-" and _is_num(a, 0):
        return ir.UnaryOp("-", b)
    if op == "/" and _is_num(b, 1):
        return a
    return e


def _as_float(e, arrays, unfolded):
    """float(e) for a number that may be an int; an array (an int array too) keeps its
    `1.0 * e`, which float() would refuse."""
    if maybe_array(e, arrays):
        return unfolded
    return ir.Call(ir.Lib("builtins", "float"), [e])


def maybe_array(e: ir.Expr, arrays) -> bool:
    """Whether e may be an array: it reads an array variable or an array constant (an
    object's attribute bound in the code, a module's array)."""
    return bool(ir.names_in(e) & set(arrays)) or any(
        isinstance(sub, ir.Global) and isinstance(sub.value, np.ndarray) for sub in ir.subexprs(e))


def _fold_block(stmts, floats, arrays=frozenset()):
    out = []
    for s in stmts:
        if isinstance(s, ir.Assign) and s.role == "adjoint":
            s.values = [fold(v, floats, arrays) for v in s.values]
            if s.aug in ("+", "-") and _is_num(s.values[0], 0):
                continue  # d_x += 0
            if s.aug == "*" and _is_num(s.values[0], 1):
                continue
            if s.aug == "-" and isinstance(s.values[0], ir.UnaryOp) and s.values[0].op == "-":
                s.aug, s.values = "+", [s.values[0].operand]
            elif s.aug == "+" and isinstance(s.values[0], ir.UnaryOp) and s.values[0].op == "-":
                s.aug, s.values = "-", [s.values[0].operand]
        for block in ir.blocks(s):
            block[:] = _fold_block(block, floats, arrays)
        out.append(s)
    return out


# ------------------------------------------------------------------------------ constants
def _substitute(e: ir.Expr, var: str, value: ir.Expr) -> ir.Expr:
    if isinstance(e, ir.Name) and e.id == var:
        return copy.deepcopy(value)
    if isinstance(e, ir.Subscript) and isinstance(e.value, ir.Name) and e.value.id == var:
        return copy.deepcopy(e)  # d_y[:] stays: a number has no slots (1.0[:])
    return ir.map_children(e, lambda c: _substitute(c, var, value))


def _propagate_constants(stmts):
    """`d_y = 1.0` then uses of d_y in adjoint statements, until d_y is written again."""
    for s in stmts:
        for block in ir.blocks(s):
            block[:] = _propagate_constants(block)
    index = _TouchIndex(stmts)
    for i, s in enumerate(stmts):
        if not (isinstance(s, ir.Assign) and s.role == "adjoint" and not s.aug and len(s.targets) == 1
                and isinstance(s.targets[0], ir.Name) and _is_num(s.values[0])):
            continue
        var, value = s.targets[0].id, s.values[0]
        for j in index.touches_after(var, i):  # statements that neither read nor write var keep it
            later = stmts[j]
            if var in index.assigned[j]:
                if isinstance(later, ir.Assign) and later.role == "adjoint" and not any(
                        isinstance(t, ir.Name) and t.id == var for t in later.targets):
                    later.values = [_substitute(v, var, value) for v in later.values]
                break
            if isinstance(later, ir.Assign) and later.role == "adjoint":
                later.values = [_substitute(v, var, value) for v in later.values]
            else:
                break  # read by something we do not rewrite: keep it as it is
    return stmts


class _TouchIndex:
    """For one block: what each statement (its nested blocks included) reads and writes,
    and for each name the positions that touch it, so a pass that looks for the next
    use of a name jumps there instead of rescanning the block (linear, not quadratic)."""

    def __init__(self, stmts):
        self.assigned = [ir.assigned_names([s]) for s in stmts]
        self.reads = [_reads_deep(s) for s in stmts]
        self.positions: dict[str, list[int]] = {}
        for j, (w, r) in enumerate(zip(self.assigned, self.reads)):
            for name in w | r:
                self.positions.setdefault(name, []).append(j)

    def touches_after(self, name: str, i: int):
        at = self.positions.get(name, [])
        for k in range(bisect.bisect_right(at, i), len(at)):  # no copy of the tail
            yield at[k]

    def add_reads(self, j: int, names: set[str]) -> None:
        for name in names - self.reads[j] - self.assigned[j]:
            bisect.insort(self.positions.setdefault(name, []), j)
        self.reads[j] |= names


def _reads_deep(s) -> set[str]:
    out = set(ir.stmt_reads(s))
    for block in ir.blocks(s):
        for t in ir.walk_stmts(block):
            out |= ir.stmt_reads(t)
    return out


# ------------------------------------------------------------------------------ first writes
INT_VALUED = {("math", "floor"), ("math", "ceil"), ("math", "trunc"), ("builtins", "int"),
              ("builtins", "round"), ("builtins", "len")}


def surely_float(e: ir.Expr, floats: set[str]) -> bool:
    """Whether `e` is a float whatever its integer inputs are (so `d = e` keeps d a float)."""
    if isinstance(e, ir.Const):
        return isinstance(e.value, float)
    if isinstance(e, ir.Name):
        return e.id in floats
    if isinstance(e, ir.Global):
        return isinstance(e.value, float)
    if isinstance(e, ir.Subscript):
        return isinstance(e.value, ir.Name) and e.value.id in floats
    if isinstance(e, ir.UnaryOp):
        return e.op != "not" and surely_float(e.operand, floats)
    if isinstance(e, ir.BinOp):
        if e.op == "/":
            return True
        return surely_float(e.left, floats) or surely_float(e.right, floats)
    if isinstance(e, ir.Call) and isinstance(e.func, ir.Lib):
        key = (e.func.module, e.func.attr)
        if key in INT_VALUED:
            return False
        if e.func.module in ("math", "numpy") or key == ("builtins", "float"):
            return True
        return any(surely_float(a, floats) for a in e.args)
    return False


def _is_zeros_like(s) -> bool:
    """`d_x = np.zeros_like(x)`: an array adjoint starting at zero."""
    return isinstance(s, ir.Assign) and len(s.values) == 1 and isinstance(s.values[0], ir.Call) \
        and isinstance(s.values[0].func, ir.Lib) and s.values[0].func.attr == "zeros_like"


def _merge_first_writes(stmts, floats, arrays=frozenset()):
    """`d = 0.0; ...; d += e` with nothing touching d between: `d = e`."""
    for s in stmts:
        for block in ir.blocks(s):
            block[:] = _merge_first_writes(block, floats, arrays)
    index = _TouchIndex(stmts)
    dropped: set[int] = set()
    for i, s in enumerate(stmts):
        zeros_like = _is_zeros_like(s)
        if not (isinstance(s, ir.Assign) and s.role == "adjoint" and not s.aug and len(s.targets) == 1
                and isinstance(s.targets[0], ir.Name) and (_is_num(s.values[0], 0) or zeros_like)):
            continue
        var = s.targets[0].id
        j = next((j for j in index.touches_after(var, i) if j not in dropped), None)
        later = stmts[j] if j is not None else None
        if not (isinstance(later, ir.Assign) and later.role == "adjoint"
                and isinstance(later.targets[0], ir.Name) and later.targets[0].id == var):
            continue
        if later.aug in ("+", "-") and var not in ir.names_in(later.values[0]) \
                and (later.exact or not zeros_like) \
                and (zeros_like or surely_float(later.values[0], floats) or not maybe_array(later.values[0], arrays)):
            value = later.values[0]
            if not zeros_like and not surely_float(value, floats):  # d = float(i), never an int gradient
                value = ir.Call(ir.Lib("builtins", "float"), [value])
            later.values = [value if later.aug == "+" else ir.UnaryOp("-", value)]
            later.aug = None
            dropped.add(i)
        elif zeros_like and later.aug == "+" and _is_num(later.values[0]):
            # d = np.zeros_like(x); d += 1.0  ->  d = np.ones_like(x)
            like, c = s.values[0].args, later.values[0].value
            later.values = [ir.Call(ir.Lib("numpy", "ones_like"), like) if c == 1 else
                            ir.Call(ir.Lib("numpy", "full_like"), like + [ir.Const(float(c))])]
            later.aug = None
            index.add_reads(j, set().union(*(ir.names_in(a) for a in like)))
            dropped.add(i)
        elif later.aug == "*":
            dropped.add(j)  # 0 * p is still 0
    return [s for k, s in enumerate(stmts) if k not in dropped]


def _merge_first_writes_in_loops(stmts, floats, arrays=frozenset()) -> None:
    """`d = 0.0; for ...: d += e; ...; d = 0.0` (a number's adjoint, reset at the end of
    every trip and zero on entry): `d = e` in the body, so no trip adds e to a zero (which
    lengthens the chain of dependent arithmetic a reverse loop is timed by)."""
    zero: set[str] = set()  # numbers' adjoints whose last write so far is an unconditional `d = 0.0`
    for s in stmts:
        for block in ir.blocks(s):
            _merge_first_writes_in_loops(block, floats, arrays)
        if isinstance(s, (ir.ForRange, ir.While)) and not any(
                isinstance(t, (ir.Break, ir.Continue, ir.Return)) for t in ir.walk_stmts(s.body)):
            _merge_in_loop(s, zero - (ir.names_in(s.test) if isinstance(s, ir.While) else set()), floats, arrays)
        touched = ir.assigned_names([s]) | _reads_deep(s)
        zero = (zero - touched) | {v for v in touched if _is_zero_reset(s, v)}


def _merge_in_loop(s, zero_on_entry: set[str], floats, arrays) -> None:
    """The first writes in the loop s's body of the adjoints zero on entry and reset last."""
    index = _TouchIndex(s.body)
    for var in zero_on_entry:
        at = list(index.touches_after(var, -1))
        if len(at) < 2 or not _is_zero_reset(s.body[at[-1]], var):
            continue
        first = s.body[at[0]]
        if isinstance(first, ir.Assign) and first.role == "adjoint" and first.aug in ("+", "-") \
                and len(first.targets) == 1 and isinstance(first.targets[0], ir.Name) \
                and first.targets[0].id == var and var not in ir.names_in(first.values[0]) \
                and (surely_float(first.values[0], floats) or not maybe_array(first.values[0], arrays)):
            value = first.values[0]
            if not surely_float(value, floats):
                value = ir.Call(ir.Lib("builtins", "float"), [value])
            first.values = [value if first.aug == "+" else ir.UnaryOp("-", value)]
            first.aug = None


def _is_zero_reset(s, var: str) -> bool:
    return isinstance(s, ir.Assign) and s.role == "adjoint" and not s.aug and len(s.targets) == 1 \
        and isinstance(s.targets[0], ir.Name) and s.targets[0].id == var and _is_num(s.values[0], 0)


# ------------------------------------------------------------------------------ values computed already
# math functions whose value the adjoint's partials read again: sin's partial is cos of the
# same argument, which the forward statements (or a recomputed loop body) often hold
_PURE_MATH = frozenset({"sin", "cos", "tan", "exp", "expm1", "log", "log1p", "log2", "log10", "sqrt",
                        "sinh", "cosh", "tanh", "asin", "acos", "atan", "erf"})


def _reuse_computed(stmts, available=None, read=frozenset()) -> dict:
    """`c = math.cos(t)` then `d_t -= d_s * math.cos(t)` in an adjoint statement: the second
    reads c, where neither c nor t (nor anything else the call reads) was assigned between,
    and c is `read` by the primal code anyway (else computing it is no saving, and the
    call reads better).  A later `if` with the same test (reading only numbers nobody
    assigned since) sees what the earlier one's body computed.  Returns what is available
    after the block."""
    available = dict(available or {})  # call's text -> (variable holding it, names it reads)
    after_test: dict[str, tuple[set, dict]] = {}  # an if's test -> (its names, its body's end)
    for s in stmts:
        if isinstance(s, ir.Assign) and s.role == "adjoint" and available:
            s.values = [_reused(v, available) for v in s.values]
        end = None
        if isinstance(s, ir.If):
            test = codegen.expr_source(s.test)
            inner = {**available, **after_test.get(test, (set(), {}))[1]}
            end = _reuse_computed(s.body, inner, read)
            _reuse_computed(s.orelse, available, read)
        elif isinstance(s, (ir.ForRange, ir.ForEach, ir.While)):
            _reuse_computed(s.body, _without(available, ir.assigned_names([s])), read)  # the next trip's too
        killed = ir.assigned_names([s])
        available = _without(available, killed)
        after_test = {t: (names, _without(done, killed)) for t, (names, done) in after_test.items()
                      if not names & killed}
        if end is not None and _plain_numbers(s.test) and not ir.names_in(s.test) & killed:
            after_test[test] = (ir.names_in(s.test), end)
        if isinstance(s, ir.Assign) and not s.aug and len(s.targets) == 1 and isinstance(s.targets[0], ir.Name) \
                and s.targets[0].id in read and _math_call(s.values[0]) \
                and s.targets[0].id not in ir.names_in(s.values[0]):
            available[codegen.expr_source(s.values[0])] = (s.targets[0].id, ir.names_in(s.values[0]))
    return available


def _read_by_primal_code(stmts) -> set[str]:
    """Variables some statement other than an adjoint update reads."""
    return set().union(*(ir.stmt_reads(s) for s in ir.walk_stmts(stmts) if getattr(s, "role", None) != "adjoint"))


def _reused(e: ir.Expr, available: dict) -> ir.Expr:
    if _math_call(e):
        found = available.get(codegen.expr_source(e))
        if found is not None:
            return ir.Name(found[0])
    return ir.map_children(e, lambda c: _reused(c, available))


def _without(available: dict, killed: set) -> dict:
    return {text: (var, reads) for text, (var, reads) in available.items()
            if var not in killed and not reads & killed}


def _math_call(e) -> bool:
    """math.f(...) of numbers alone (no element of an array, which a write in place could
    change without assigning its name)."""
    return isinstance(e, ir.Call) and isinstance(e.func, ir.Lib) and e.func.module == "math" \
        and e.func.attr in _PURE_MATH and not e.kwargs and all(_plain_numbers(a) for a in e.args)


def _plain_numbers(e) -> bool:
    """An expression of variables and constants with arithmetic, comparisons and math calls."""
    if isinstance(e, (ir.Name, ir.Const)):
        return True
    if isinstance(e, (ir.BinOp, ir.UnaryOp, ir.Compare, ir.BoolOp)):
        return all(_plain_numbers(c) for c in ir.children(e))
    return _math_call(e)


def _own_adjoint_arrays(stmts, arrays: set[str]) -> None:
    """`d_b = a` (or unbroadcast(a, b), a.T, a[1:]) with `a` an array of the function's,
    where d_b is later updated in place (`d_b += ...`): d_b gets a copy, or the update
    would change `a`, which may be the caller's array."""
    updated = {ir.target_name(t) for s in ir.walk_stmts(stmts) if isinstance(s, ir.Assign)
               for t in s.targets if s.aug or isinstance(t, ir.Subscript)}
    for s in ir.walk_stmts(stmts):
        if isinstance(s, ir.Assign) and s.role == "adjoint" and not s.aug and len(s.targets) == 1 \
                and isinstance(s.targets[0], ir.Name) and s.targets[0].id in updated \
                and _shared_array(s.values[0]) in arrays:
            s.values = [ir.Call(ir.Lib("numpy", "copy"), [s.values[0]])]


def _shared_array(e: ir.Expr) -> str | None:
    """The variable whose memory e may be: b, b[1:], b.T, unbroadcast(b, x) (b itself where
    the shapes agree)."""
    if isinstance(e, ir.Call) and isinstance(e.func, ir.Lib) and (e.func.module, e.func.attr) == ("runtime", "unbroadcast") \
            and e.args:
        return _shared_array(e.args[0])
    return aliasing.view_source(e)


# ------------------------------------------------------------------------------ dead code
def _pure(s: ir.Assign) -> bool:
    return not any(ir.has_effect(v) for v in s.values)


def _views(stmts) -> dict[str, set[str]]:
    """Each variable -> the names that may share its memory (t = y.T, u = t[1:]: views of
    y, and y itself for them): a write into one by index is read through the others."""
    direct = {}
    for s in ir.walk_stmts(stmts):
        if isinstance(s, ir.Assign) and not s.aug:
            for t, v in zip(s.targets, s.values):
                src = aliasing.view_source(v) if isinstance(t, ir.Name) else None
                if src not in (None, t.id if isinstance(t, ir.Name) else None):
                    direct.setdefault(src, set()).add(t.id)
                    direct.setdefault(t.id, set()).add(src)
    out = {}
    for var in direct:
        seen, todo = set(), [var]
        while todo:
            for w in direct.get(todo.pop(), ()):
                if w not in seen:
                    seen.add(w)
                    todo.append(w)
        out[var] = seen - {var}
    return out


def _dead_code(stmts, live_out: set[str], dead_pairs: set[int], views: dict, arrays=frozenset(),
               lengths=None):
    """Drop assignments whose values nobody reads; returns the block and its live-in set.

    A tape pop whose value nobody reads goes too, and its id joins `dead_pairs`, so the
    push it matches (earlier in the function, so met later in this backward walk) goes.
    A write by index into y is read wherever a view of y is (`views`).  A loop that
    overwrites an array whole binds it (analysis/coverage.py; `lengths` its facts).
    """
    lengths = lengths or {}
    live = set(live_out)
    out: list[ir.Stmt] = []
    for s in reversed(stmts):
        if isinstance(s, ir.Pop) and s.pair is not None and s.into is not None \
                and _dead_target(s.into, live, views):  # `x = tape.pop()`, `y[i] = tape.pop()`
            dead_pairs.add(s.pair)
            continue
        if isinstance(s, ir.Append) and s.pair in dead_pairs:
            continue
        if isinstance(s, ir.Assign):
            names = [t.id for t in s.targets if isinstance(t, ir.Name)]
            if _pure(s) and all(_dead_target(t, live, views) for t in s.targets):
                continue
            reads = _alias_shape_reads(s, live, arrays) or _assign_reads(s, arrays)
            if not s.aug:
                live -= set(names) | {_shape_of(n) for n in names}
            live |= reads
        elif isinstance(s, ir.CallAssign):
            if all(_dead_target(t, live, views) for t in s.targets):
                continue
            live -= {t.id for t in s.targets} | {_shape_of(t.id) for t in s.targets}
            live |= ir.stmt_reads(s)
        elif isinstance(s, ir.If):
            s.body, lb = _dead_code(s.body, live, dead_pairs, views, arrays, lengths)
            s.orelse, lo = _dead_code(s.orelse, live, dead_pairs, views, arrays, lengths)
            if not _has_effect(s.body) and not _has_effect(s.orelse):
                continue
            live = lb | lo | _expr_reads(s.test, arrays)
        elif isinstance(s, (ir.ForRange, ir.ForEach, ir.While)):
            header = ir.stmt_reads(s)
            loop_live = set(live) | header
            while True:  # liveness around the loop's back edge, to a fixed point
                pairs = set(dead_pairs)
                body, body_in = _dead_code(copy.deepcopy(s.body), loop_live, pairs, views, arrays, lengths)
                new = loop_live | body_in
                if new == loop_live:
                    break
                loop_live = new
            dead_pairs |= pairs
            s.body = body
            target = getattr(s, "target", None)
            if not isinstance(s, ir.While) and not _has_effect(s.body) and (
                    target is None or _dead_target(target, live, views)):
                continue
            live = live | header | (body_in - ({target.id} if target is not None else set()))
            if isinstance(s, ir.While):
                live |= body_in
            covered = coverage.overwritten(s, lengths, arrays, views)  # no old value of theirs is read,
            live = (live - covered) | {_shape_of(a) for a in covered}    # but they must be bound
        else:
            live |= ir.stmt_reads(s)
        out.append(s)
    out.reverse()
    return out, live


def _alias_shape_reads(s: ir.Assign, live: set[str], arrays) -> set[str] | None:
    """`a = b` where only a's shape is read later (a vjp's check of its cotangent against
    the output): b's shape, not its values."""
    if s.aug or len(s.targets) != 1 or not isinstance(s.targets[0], ir.Name) \
            or not isinstance(s.values[0], ir.Name):
        return None
    a, b = s.targets[0].id, s.values[0].id
    if a in arrays and b in arrays and a not in live and _shape_of(a) in live:
        return {_shape_of(b)}
    return None


def _caller_visible(fn: ir.Function) -> set[str]:
    """The parameters the function never rebinds: what is written into them by index the
    caller sees, so the reverse sweep's putting back of their old values is no dead code."""
    return set(fn.params) - dataflow.rebound_names(fn.body)


def _dead_target(t: ir.Expr, live: set[str], views: dict) -> bool:
    """Whether nothing reads what a write into t leaves.  Binding x is needed where x's
    values or only its shape are read later; a write by index into x, where x's values
    (or a view's) are."""
    var = ir.target_name(t)
    if isinstance(t, ir.Name):
        return var not in live and _shape_of(var) not in live
    return var not in live and not views.get(var, set()) & live


# Liveness marks a variable read for its shape only (np.zeros_like(y) in the reverse
# sweep, y.shape) as "y#shape": its binding is needed, the writes by index into it are
# not (a vjp that never returns y need not compute its elements)
SHAPE_ONLY = {"zeros_like", "ones_like", "empty_like", "shape", "ndim", "size"}


def _shape_of(var: str) -> str:
    return var + "#shape"


def _assign_reads(s: ir.Assign, arrays) -> set[str]:
    """What an assignment reads, shape-only reads of `arrays` marked (a write by index
    into a list may change its shape: xs[0] = np.ones(3)); a write by index into y needs
    y bound, not y's values (unless it updates them: y[i] += v)."""
    out: set[str] = set()
    for v in s.values:
        out |= _expr_reads(v, arrays)
    for t in s.targets:
        if isinstance(t, ir.Subscript):
            out |= ir.names_in(t.index)
            var = ir.target_name(t)
            out.add(_shape_of(var) if var in arrays and not s.aug else var)
            if not isinstance(t.value, ir.Name):
                out |= ir.names_in(t.value)
        elif s.aug:
            out.add(t.id)
    return out


def _expr_reads(e: ir.Expr, arrays) -> set[str]:
    if isinstance(e, ir.Call) and isinstance(e.func, ir.Lib) and e.func.module == "numpy" \
            and e.func.attr in SHAPE_ONLY and e.args and isinstance(e.args[0], ir.Name) \
            and e.args[0].id in arrays:
        out = {_shape_of(e.args[0].id)}
        for a in e.args[1:] + [v for _, v in e.kwargs]:
            out |= _expr_reads(a, arrays)
        return out
    if isinstance(e, ir.Attr) and isinstance(e.value, ir.Name) and e.value.id in arrays \
            and e.attr in ("shape", "ndim", "size", "dtype"):
        return {_shape_of(e.value.id)}
    if isinstance(e, (ir.Name, ir.Raw)):
        return ir.names_in(e)
    out: set[str] = set()
    for c in ir.children(e):
        out |= _expr_reads(c, arrays)
    return out


def _has_effect(stmts) -> bool:
    return any(not isinstance(s, ir.Comment) for s in stmts)


def _tidy(stmts):
    """Drop comments that head nothing; `if c: pass else: x` becomes `if not c: x`."""
    out = []
    for i, s in enumerate(stmts):
        if isinstance(s, ir.Comment) and s.text.startswith("grad of") and any(
                isinstance(o, ir.Comment) and o.text == s.text for o in out[-1:] + _last_comment(out)):
            continue  # one source line lowered to several statements keeps one header
        if isinstance(s, ir.Comment) and s.text.startswith("grad of") and (
                i + 1 == len(stmts) or isinstance(stmts[i + 1], (ir.Comment, ir.Return))
                or ir.blocks(stmts[i + 1])):
            continue  # a header whose statement's adjoint was optimized away
        for block in ir.blocks(s):
            block[:] = _tidy(block)
        if isinstance(s, ir.If) and not _has_effect(s.body) and _has_effect(s.orelse):
            s.test, s.body, s.orelse = _negate(s.test), s.orelse, []
        if isinstance(s, ir.If) and not _has_effect(s.orelse):
            s.orelse = []
        out.append(s)
    return out


def _last_comment(stmts) -> list:
    """The most recent comment of a block, if only simple statements follow it."""
    for s in reversed(stmts):
        if isinstance(s, ir.Comment):
            return [s]
        if ir.blocks(s):
            return []
    return []


def _negate(e: ir.Expr) -> ir.Expr:
    if isinstance(e, ir.UnaryOp) and e.op == "not":
        return e.operand
    return ir.UnaryOp("not", e)
