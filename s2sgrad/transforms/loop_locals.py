"""Loop elements in locals, for the numba target: an element a loop only adds into is
summed in a local and written back once, and an element it reads but cannot change is
read once, before the loop.

The reverse sweep of a triangular loop adds into one element for a whole inner loop
and reads another there (GMM: over the rows, `d_xcentered[col] += d_qxcentered[row] *
icf[c, lpos]` and `d_icf[c, lpos] += d_qxcentered[row] * xcentered[col]`).  LLVM loads
and stores both elements each trip, because the array written beside them might be
their memory as far as it can tell.  Here it can be told:

    for row in range(col + 1, d):
        d_icf[c, lpos] += d_qxcentered[row] * xcentered[col]
        d_xcentered[col] += d_qxcentered[row] * icf[c, lpos]

becomes

    if col + 1 < d:
        d_xcentered_col = d_xcentered[col]
        xcentered_col = xcentered[col]
        for row in range(col + 1, d):
            d_icf[c, lpos] += d_qxcentered[row] * xcentered_col
            d_xcentered_col += d_qxcentered[row] * icf[c, lpos]
        d_xcentered[col] = d_xcentered_col

where that is the same computation.  A sum: the array is the function's own (every
binding of it makes a new array, and it is only ever indexed by element, never sliced,
passed or bound to another name, so no other name is its memory), the loop mentions it
nowhere else, and the index reads nothing the loop assigns.  A read: the loop writes
no element of that array, its index reads nothing the loop assigns, every array the
loop writes is the function's own, the loop calls nothing but math and builtins, and a
statement of the loop's own body reads it (so every trip does; one in a branch or an
inner loop might be out of bounds where that does not run).  Elements are read only
where the loop runs at least once.
"""
from __future__ import annotations

import copy

from .. import ir
from ..backends.python import expr_source

_MAKES_ARRAY = {"zeros", "zeros_like", "empty", "empty_like", "ones", "ones_like", "full", "full_like"}


def in_locals(fn: ir.Function, namer) -> ir.Function:
    """fn (a copy already) with loops' element sums and unchanged element reads in locals."""
    private = _own_arrays(fn)
    if private:
        fn.body = _rewrite(fn.body, private, _float64_arrays(fn, private), namer)
    return fn


def _float64_arrays(fn: ir.Function, private: set[str]) -> set[str]:
    """The private arrays every binding of which makes float64s: np.zeros(shape) and the
    like without a dtype or with np.float64, np.zeros_like(b) of such a b.  A sum is kept
    in a local only in these: numba's local is a float64, and an int or float32 element
    would have rounded at every addition."""
    bindings: dict[str, list] = {}
    other = set(fn.params)
    for s in ir.walk_stmts(fn.body):
        if isinstance(s, ir.Assign):
            for t in s.targets:
                if not isinstance(t, ir.Name) or s.aug:
                    continue  # `a += e` keeps a's dtype
                if len(s.targets) == 1 == len(s.values) and _makes_array(s.values[0]):
                    bindings.setdefault(t.id, []).append(s.values[0])
                else:
                    other.add(t.id)
        elif not ir.blocks(s):
            other |= _bound_whole(s)
        if isinstance(s, (ir.ForRange, ir.ForEach)):
            other.add(s.target.id)
    floats = set(bindings) - other
    changed = True
    while changed:
        changed = False
        for name in sorted(floats):
            if not all(_makes_float64(v, floats) for v in bindings[name]):
                floats.discard(name)
                changed = True
    return floats & private


def _makes_float64(e: ir.Call, floats: set[str]) -> bool:
    dtype = dict(e.kwargs).get("dtype")
    positional = {"zeros": 1, "empty": 1, "ones": 1, "full": 2}.get(e.func.attr)
    if positional is not None and len(e.args) > positional:
        dtype = e.args[positional]
    if dtype is not None:
        return isinstance(dtype, ir.Lib) and (dtype.module, dtype.attr) == ("numpy", "float64")
    if e.func.attr == "full":
        return False  # the fill value's type decides
    if e.func.attr.endswith("_like"):
        return bool(e.args) and isinstance(e.args[0], ir.Name) and e.args[0].id in floats
    return True


def _own_arrays(fn: ir.Function) -> set[str]:
    """Arrays fn makes itself and only indexes by element (no other name is their memory)."""
    made, other = set(), set(fn.params)
    for s in ir.walk_stmts(fn.body):
        if isinstance(s, ir.Assign):
            single = len(s.targets) == 1 == len(s.values)
            for t in s.targets:
                if not isinstance(t, ir.Name):
                    continue
                if single and not s.aug and _makes_array(s.values[0]):
                    made.add(t.id)
                elif not (single and s.aug):  # `a += e` adds in place: a stays its own array
                    other.add(t.id)
        elif not ir.blocks(s):
            other |= _bound_whole(s)  # pops, calls' targets: bound to what they give
        if isinstance(s, (ir.ForRange, ir.ForEach)):
            other.add(s.target.id)
        for e in _exprs(s):
            other |= _bare_names(e)
    return made - other


def _returned(e: ir.Expr) -> ir.Expr:
    """A return's value less the names it returns whole (returning ends every use here)."""
    if isinstance(e, ir.Name):
        return ir.Const(None)
    if isinstance(e, ir.TupleExpr):
        return ir.TupleExpr([_returned(x) for x in e.elts])
    return e


def _exprs(s: ir.Stmt) -> list[ir.Expr]:
    """The expressions s holds itself, assignment targets as the subscripts they index."""
    if isinstance(s, ir.Assign):
        return [t for t in s.targets if not isinstance(t, ir.Name)] + list(s.values)
    if isinstance(s, ir.Return):
        return [_returned(s.value)] if s.value is not None else []
    out = list(ir.stmt_exprs(s))
    for attr in ("seq", "tape", "count"):
        v = getattr(s, attr, None)
        if isinstance(v, ir.Name):
            out.append(v)
    return out


def _assigned(stmts) -> set[str]:
    """Every variable the statements (nested ones included) write, typed tapes' pops
    (`y[1] = tape_y_items[n]`) and counts included, which ir.assigned_names leaves out."""
    out = ir.assigned_names(stmts)
    for s in ir.walk_stmts(stmts):
        if isinstance(s, (ir.TapePush, ir.TapePop, ir.TapeReserve)):
            out |= {s.tape.id, s.count.id}
        if isinstance(s, ir.TapePop) and s.into is not None:
            out.add(ir.target_name(s.into))
    return out


def _bound_whole(s: ir.Stmt) -> set[str]:
    """The variables a statement other than an assignment binds anew (a pop into `y[j]`
    writes an element of y; it leaves y the same array)."""
    out = {s.tape.id, s.count.id} if isinstance(s, (ir.TapePush, ir.TapePop, ir.TapeReserve)) else set()
    into = getattr(s, "into", None)
    if isinstance(s, (ir.Pop, ir.TapePop)):
        return out | ({into.id} if isinstance(into, ir.Name) else set()) | ({s.target.id} if isinstance(s, ir.Pop) else set())
    return out | ir.assigned_names([s])


def _makes_array(e: ir.Expr) -> bool:
    return isinstance(e, ir.Call) and isinstance(e.func, ir.Lib) and e.func.module == "numpy" \
        and e.func.attr in _MAKES_ARRAY and e.method is None


def _bare_names(e: ir.Expr) -> set[str]:
    """Names e mentions other than as the array of an element `a[i]` (i without slices)."""
    if isinstance(e, ir.Name):
        return {e.id}
    if isinstance(e, ir.Subscript) and isinstance(e.value, ir.Name) and _element_index(e.index):
        return _bare_names(e.index)
    if isinstance(e, ir.Attr) and isinstance(e.value, ir.Name) and e.attr in ("shape", "ndim", "size", "dtype"):
        return set()
    if _makes_array(e) and e.func.attr.endswith("_like") and e.args and isinstance(e.args[0], ir.Name):
        # np.zeros_like(a) reads a's shape and dtype only: a new array
        return set().union(*(_bare_names(x) for x in e.args[1:]), *(_bare_names(v) for _, v in e.kwargs))
    if isinstance(e, ir.Raw):
        return set(e.reads)
    out: set[str] = set()
    for c in ir.children(e):
        out |= _bare_names(c)
    return out


def _element_index(index: ir.Expr) -> bool:
    parts = index.elts if isinstance(index, ir.TupleExpr) else [index]
    return all(not isinstance(p, ir.Slice) and not (isinstance(p, ir.Const) and p.value in (None, Ellipsis))
               and isinstance(p, (ir.Name, ir.Const, ir.BinOp, ir.UnaryOp)) for p in parts)


def _rewrite(stmts: list[ir.Stmt], private: set[str], floats: set[str], namer) -> list[ir.Stmt]:
    out = []
    for s in stmts:
        for block in ir.blocks(s):
            block[:] = _rewrite(block, private, floats, namer)
        out += _in_local(s, private, floats, namer) if isinstance(s, ir.ForRange) else [s]
    return out


def _in_local(loop: ir.ForRange, private: set[str], floats: set[str], namer) -> list[ir.Stmt]:
    """The loop, with each element it alone adds into summed in a local, and each
    element it reads but cannot change read once."""
    runs = _runs(loop)
    if runs is None:
        return [loop]
    assigned = _assigned(loop.body) | {loop.target.id}
    before, after = [], []
    for (array, _), adds in _sums(loop, private & floats, assigned).items():
        target = adds[0].targets[0]
        local = namer.fresh(f"{array}_{_index_name(target.index)}")
        before.append(ir.Assign([ir.Name(local)], [copy.deepcopy(target)], role="adjoint"))
        after.append(ir.Assign([copy.deepcopy(target)], [ir.Name(local)], role="adjoint"))
        for s in adds:
            s.targets = [ir.Name(local)]
    for element in _unchanged_elements(loop, private, assigned):
        local = namer.fresh(f"{element.value.id}_{_index_name(element.index)}")
        before.append(ir.Assign([ir.Name(local)], [copy.deepcopy(element)], role="flag"))
        _replace(loop.body, expr_source(element), local)
    if not before:
        return [loop]
    return [ir.If(runs, before + [loop] + after, [], pos=loop.pos)]


def _sums(loop, private, assigned) -> dict:
    """(array, index text) -> the loop's statements adding into that element, where
    nothing else in the loop mentions the array."""
    sums: dict = {}
    for s in loop.body:
        key = _sum_into(s, private, assigned)
        if key is not None:
            sums.setdefault(key, []).append(s)
    mentioned: dict = {}
    for s in ir.walk_stmts(loop.body):
        for name in _mentioned_arrays(s):
            mentioned[name] = mentioned.get(name, 0) + 1
    return {key: adds for key, adds in sums.items() if mentioned.get(key[0], 0) == len(adds)}


def _unchanged_elements(loop, private, assigned) -> list[ir.Subscript]:
    """Elements `b[i]` the loop reads where nothing in it can change them: b is not
    written in the loop, i reads nothing it assigns, and every array the loop writes is
    the function's own or a tape (not b's memory), with no call that could write one."""
    writes = set()
    for s in ir.walk_stmts(loop.body):
        if isinstance(s, ir.Assign):
            writes |= {ir.target_name(t) for t in s.targets if not isinstance(t, ir.Name)}
        elif isinstance(s, ir.TapePop) and s.into is not None and not isinstance(s.into, ir.Name):
            writes.add(ir.target_name(s.into))
        elif not isinstance(s, (ir.TapePush, ir.TapeReserve, ir.Comment, ir.If, ir.ForRange, ir.While)):
            return []  # appends, pops, calls kept for their effect: not followed
        for e in ir.stmt_exprs(s):
            if any(isinstance(x, ir.Raw) or isinstance(x, ir.Call) and not _pure_call(x) for x in ir.subexprs(e)):
                return []  # a call could write an array; an f-string's text calls what it names
    if not writes <= private:
        return []
    found: dict[str, ir.Subscript] = {}
    for s in loop.body:  # read on every trip: in bounds where the loop runs (not so in a branch)
        for e in _read_exprs(s):
            for x in _always_evaluated(e):
                if isinstance(x, ir.Subscript) and isinstance(x.value, ir.Name) and x.value.id not in assigned \
                        and _element_index(x.index) and not ir.names_in(x.index) & assigned:
                    found.setdefault(expr_source(x), x)
    return list(found.values())


def _always_evaluated(e: ir.Expr):
    """e and the subexpressions evaluating e always evaluates: not the right side of
    `and`/`or`, the branches of `a if t else b`, or a chained comparison's later terms."""
    yield e
    if isinstance(e, ir.BoolOp):
        parts = e.values[:1]
    elif isinstance(e, ir.IfExp):
        parts = [e.test]
    elif isinstance(e, ir.Compare):
        parts = [e.left] + e.comparators[:1]
    else:
        parts = ir.children(e)
    for c in parts:
        yield from _always_evaluated(c)


def _pure_call(e: ir.Call) -> bool:
    return isinstance(e.func, ir.Lib) and e.func.module in ("math", "builtins") and not e.kwargs


def _read_exprs(s: ir.Stmt) -> list[ir.Expr]:
    """What s reads: values, and the indices of the elements it writes."""
    if isinstance(s, ir.Assign):
        return list(s.values) + [t.index for t in s.targets if isinstance(t, ir.Subscript)]
    if isinstance(s, ir.TapePop):
        return [s.into.index] if isinstance(s.into, ir.Subscript) else []
    return ir.stmt_exprs(s)


def _replace(stmts, text: str, local: str) -> None:
    """Every read of the element printed `text` in stmts becomes `local`."""
    def swap(e):
        e = ir.map_children(e, swap)
        return ir.Name(local) if isinstance(e, ir.Subscript) and expr_source(e) == text else e
    for s in ir.walk_stmts(stmts):
        if isinstance(s, ir.Assign):
            s.values = [swap(v) for v in s.values]
            for t in s.targets:
                if isinstance(t, ir.Subscript):
                    t.index = swap(t.index)
        elif isinstance(s, ir.TapePush):
            s.value = swap(s.value)
        elif isinstance(s, (ir.If, ir.While)):
            s.test = swap(s.test)
        elif isinstance(s, ir.ForRange):
            s.args = [swap(a) for a in s.args]
            s.limit = swap(s.limit) if s.limit is not None else None
        elif isinstance(s, ir.TapeReserve):
            s.extra = swap(s.extra)


def _runs(loop: ir.ForRange) -> ir.Expr | None:
    """A test true where the loop runs at least once (None for a step not a constant)."""
    if loop.limit is not None:
        return None
    args = [ir.Const(0)] + loop.args if len(loop.args) == 1 else loop.args
    step = args[2] if len(args) == 3 else ir.Const(1)
    if not (isinstance(step, ir.Const) and type(step.value) is int and step.value != 0):
        return None
    return ir.Compare(copy.deepcopy(args[0]), ["<" if step.value > 0 else ">"], [copy.deepcopy(args[1])])


def _sum_into(s: ir.Stmt, private: set[str], assigned: set[str]):
    """(array, index text) for `a[i] += e` / `a[i] -= e` with a private, i reading
    nothing the loop assigns, e not mentioning a."""
    if not (isinstance(s, ir.Assign) and s.aug in ("+", "-") and len(s.targets) == 1 == len(s.values)):
        return None
    t = s.targets[0]
    if not (isinstance(t, ir.Subscript) and isinstance(t.value, ir.Name) and t.value.id in private
            and _element_index(t.index)):
        return None
    if ir.names_in(t.index) & assigned or t.value.id in ir.names_in(s.values[0]):
        return None
    return t.value.id, expr_source(t.index)


def _mentioned_arrays(s: ir.Stmt) -> set[str]:
    names = set()
    for e in ir.stmt_exprs(s) if not isinstance(s, ir.Assign) else list(s.targets) + list(s.values):
        names |= ir.names_in(e)
    return names


def _index_name(index: ir.Expr) -> str:
    text = expr_source(index)
    return "".join(ch if ch.isalnum() else "_" for ch in text).strip("_") or "item"
