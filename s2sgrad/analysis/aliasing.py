"""Alias analysis: which names may refer to the same array or list, and the in-place
updates that change a value another name still reads.

Derivative code treats every name as a value of its own, so an in-place update seen
through a second name would be differentiated wrongly:

    v = s            # v and s are one array
    s *= 0.5         # refused: v changes too, and v is read below
    y = v + s

`refuse_aliased_updates` refuses such updates (reverse mode calls it before building an
adjoint); `updated_in_place` and `may_alias_existing` tell forward mode which tangents it
must copy rather than share.  The ordering questions both ask ("can this statement run
after that one?") are answered from the statements' source order and enclosing loops.
"""
from __future__ import annotations

import numpy as np

from .. import ir
from ..errors import RankUnknownError, UnsupportedSyntaxError
from . import kinds

# NumPy calls whose result may share memory with their first argument
VIEWS = {"transpose", "reshape", "ravel", "squeeze", "expand_dims", "swapaxes", "moveaxis",
         "broadcast_to", "diagonal", "real", "imag", "asarray", "asanyarray", "ascontiguousarray",
         "asfortranarray", "flip", "fliplr", "flipud", "rot90", "atleast_1d", "atleast_2d", "atleast_3d",
         "matrix_transpose", "permute_dims"}
# NumPy calls (and the methods printed as them) that give an ndarray even where the
# passes see a number: a 0-d array, mutable (`a = np.array(2.0); b = a; b += x` changes
# a), unlike the NumPy scalar np.sum or np.sin give
ZERO_D_MAKERS = {"array", "asarray", "asanyarray", "ascontiguousarray", "copy", "zeros", "ones", "empty",
                 "full", "zeros_like", "ones_like", "empty_like", "full_like", "reshape", "squeeze",
                 "transpose", "where", "select", "broadcast_to", "real", "imag", "astype", "moveaxis",
                 "swapaxes"}


def refuse_aliased_updates(fn: ir.Function, var_kinds: dict, helper: bool, sure_only=False,
                           lower=None):
    """Refuse an in-place update of an array that another name may also refer to.

    `s *= 0.5` or `y[i] = v` changes every name for that array: after `hs.append(s)`,
    `v = s`, `s = x[1:]` (a view of x), or in a helper's parameter (the caller's array).
    The adjoint would treat the names as separate values.  So an update is refused when
    it can run after such a sharing, with no new value bound to the name in between, and
    the other name is read afterwards.  With guessed kinds (code for `.source` before a
    call: the call brings real ones), only variables surely arrays count (`sure_only`).
    Both modes call it, so both refuse the same code.  `lower` (a user function -> its
    lowered IR) lets a call `b = h(a)` share a with b where h may return its argument.
    Guessed code that the full check refuses waits for a call (RankUnknownError): a
    call whose kinds are the guessed ones would otherwise reuse it unchecked.
    """
    _refuse_aliased_updates(fn, var_kinds, helper, sure_only, lower)
    if sure_only:
        try:
            _refuse_aliased_updates(fn, var_kinds, helper, False, lower)
        except UnsupportedSyntaxError as exc:
            raise RankUnknownError(exc.message, exc.pos, exc.hint) from None


def _refuse_aliased_updates(fn, var_kinds, helper, sure_only, lower) -> None:
    order = statement_order(fn.body)
    statements = list(ir.walk_stmts(fn.body))
    zero_d = zero_d_arrays(statements, var_kinds)

    def array(var):
        k = var_kinds.get(var)
        if var in zero_d:  # a number to the passes, an array in memory
            return True
        if sure_only:
            return kinds.is_array(k) and k.ndim is not None
        return not kinds.is_scalar(k) and not kinds.is_list(k)

    if not sure_only:  # a guessed number may be an array
        _refuse_writes_into_numbers(statements, var_kinds)
    if lower is not None:
        _refuse_calls_writing_arguments(statements, array, var_kinds, lower)
    sharings = _sharings(fn, statements, array, helper, lower, var_kinds)
    sharings = _transitive(sharings, fn.body, order)
    for s in statements:
        var = _array_updated_in_place(s, array, var_kinds)
        if var is None:
            continue
        for name, other, where in sharings:
            if name != var or (where is not None and not may_run_after(s, where, order)):
                continue
            if where is not None and _rebound_between(var, where, s, fn.body, order):
                continue
            if other is not None and other != CONSTANT and not any(
                    other in ir.stmt_reads(r) and may_run_after(r, s, order)
                    and not _rebound_between(other, s, r, fn.body, order, views_too=True)
                    for r in statements):
                continue
            raise _aliased_update_error(var, s)


def zero_d_arrays(statements, var_kinds) -> set[str]:
    """The variables of number kind that may hold a 0-d ndarray: bound to np.array(2.0),
    np.zeros(()), x.reshape(()), x[...] (a view), or to another such variable.  Generated
    code treats numbers as values, so an in-place update of one (`b += x`) is checked for
    other names sharing it as an array's is."""
    out: set[str] = set()
    grown = True
    while grown:
        grown = False
        for s in statements:
            if not isinstance(s, ir.Assign) or s.aug:
                continue
            for t, v in zip(s.targets, s.values):
                if isinstance(t, ir.Name) and t.id not in out and kinds.is_scalar(var_kinds.get(t.id)) \
                        and _may_make_zero_d(v, out, var_kinds):
                    out.add(t.id)
                    grown = True
    return out


def _may_make_zero_d(v: ir.Expr, zero_d: set, var_kinds) -> bool:
    if isinstance(v, ir.Name):
        k = var_kinds.get(v.id)
        return v.id in zero_d or (kinds.is_array(k) and k.ndim == 0)
    if isinstance(v, ir.Call) and isinstance(v.func, ir.Lib) and v.func.module == "numpy":
        return v.func.attr in ZERO_D_MAKERS
    if isinstance(v, ir.Subscript):  # x[...], x[0, ...]: a view
        return any(isinstance(e, ir.Const) and e.value is Ellipsis for e in ir.subexprs(v.index))
    return False


def _refuse_writes_into_numbers(statements, var_kinds) -> None:
    """`a[()] = v` or `a[...] = v` into a variable the passes see as a number (a 0-d array):
    its derivative code would index a float."""
    for s in statements:
        if not isinstance(s, ir.Assign):
            continue
        for t in s.targets:
            if isinstance(t, ir.Subscript) and isinstance(t.value, ir.Name) \
                    and kinds.is_scalar(var_kinds.get(t.value.id)):
                var = t.value.id
                raise UnsupportedSyntaxError(
                    f"writing into `{var}[...]`, a 0-d array (a number to s2sgrad)", s.pos,
                    f"bind a new value instead: `{var} = np.asarray(...)`, or `{var} = ...`.")


# The other name of a sharing with an array the function did not make: a module's array,
# an attribute of an object argument (bound in the code as a constant).  An update in
# place through such a name changes the caller's data, so it is always refused.
CONSTANT = "#constant"


def _constant_array(v: ir.Expr) -> bool:
    """Whether v is (a view of) an array constant: obj.A, obj.A[1:], obj.A.T (not a copy,
    obj.A.copy(), which may be updated freely)."""
    root = _view_root(v)
    return isinstance(root, ir.Global) and isinstance(root.value, np.ndarray)


def _sharings(fn, statements, array, helper, lower, var_kinds) -> list[tuple[str, str | None, object]]:
    """(name, other name, where) for each place two names start sharing an array; the
    other name is None for a helper's parameter (the caller's name), where is None there."""
    sharings: list[tuple[str, str | None, object]] = []
    if helper:
        sharings += [(p, None, None) for p in fn.params]
    for s in statements:
        if isinstance(s, ir.Assign) and not s.aug:
            for t, v in zip(s.targets, s.values):
                if not isinstance(t, ir.Name):
                    continue
                source = _shared_source(v)
                if source not in (None, t.id) and array(source) and array(t.id):
                    sharings += [(t.id, source, s), (source, t.id, s)]  # (a number is a copy)
                elif source not in (None, t.id) and isinstance(v, ir.Subscript) \
                        and kinds.is_list(var_kinds.get(source)) and array(t.id):
                    sharings += [(t.id, source, s), (source, t.id, s)]  # b = L[0]: L's element
                elif source not in (None, t.id) and isinstance(v, ir.Name) \
                        and kinds.is_list(var_kinds.get(source)) and kinds.is_list(var_kinds.get(t.id)):
                    sharings += [(t.id, source, s), (source, t.id, s)]  # acc = L: one list
                if _constant_array(v) and array(t.id) or any(
                        _constant_array(elt) for elt in (v.elts if isinstance(v, (ir.ListExpr, ir.TupleExpr)) else [])):
                    sharings += [(t.id, CONSTANT, s), (CONSTANT, t.id, s)]  # b = obj.A, L = [obj.A]
                for elt in v.elts if isinstance(v, (ir.ListExpr, ir.TupleExpr)) else []:
                    source = _shared_source(elt)  # L = [a]: L[0] is a
                    if source not in (None, t.id) and array(source):
                        sharings += [(t.id, source, s), (source, t.id, s)]
        elif isinstance(s, ir.CallAssign) and isinstance(s.call.func, ir.UserFn) and lower is not None:
            # b = h(a), where h may return a (or a view of it)
            for i in _returned_params(s.call.func.key, lower, set()):
                source = _shared_source(s.call.args[i]) if i < len(s.call.args) else None
                if source is not None and array(source):
                    for t in s.targets:
                        if t.id != source:
                            sharings += [(t.id, source, s), (source, t.id, s)]
        elif isinstance(s, ir.Append) and _constant_array(s.value):  # L.append(obj.A)
            sharings += [(s.target.id, CONSTANT, s), (CONSTANT, s.target.id, s)]
        elif isinstance(s, ir.Append) and _shared_source(s.value) is not None \
                and array(_shared_source(s.value)):  # hs.append(v) or hs.append(v[1:])
            source = _shared_source(s.value)
            sharings += [(source, s.target.id, s), (s.target.id, source, s)]
        elif isinstance(s, ir.ForEach):
            sharings.append((s.target.id, s.seq.id, s))
    return sharings


def _transitive(sharings, body, order) -> list:
    """Sharing passes along chains: `b = a; v = a` (b and v share through a), or
    `L.append(v); acc = L; w = acc[0]` (w is v).  Two links through a middle name m join
    from the later of their statements on, unless m is bound to a new value on every path
    between them.  A parameter's link to the caller (where None) stays one link."""
    known = {(n, o, id(w)) for n, o, w in sharings}
    links = list(sharings)
    grown = True
    while grown:
        grown = False
        for n1, m, w1 in list(links):
            for m2, n2, w2 in list(links):
                if m2 != m or m is None or n1 == n2 or w1 is None or w2 is None:
                    continue
                earlier, later = sorted((w1, w2), key=lambda w: order[id(w)][0])
                if (n1, n2, id(later)) in known or _rebound_between(m, earlier, later, body, order):
                    continue
                known.add((n1, n2, id(later)))
                links.append((n1, n2, later))
                grown = True
    return links


def _refuse_calls_writing_arguments(statements, array, var_kinds, lower) -> None:
    """`fill(y, x)` where fill writes into its parameter: the caller's y changes under a
    call whose only output, for the differentiator, is what it returns."""
    for s in statements:
        call = _user_call(s)
        if call is None:
            continue
        for i, (write, aug) in sorted(_written_params(call.func.key, lower, set()).items()):
            source = _shared_source(call.args[i]) if i < len(call.args) else None
            if source is None or not (array(source) or (not aug and kinds.is_list(var_kinds.get(source)))):
                continue
            name = getattr(call.func.key, "__name__", "the helper")
            where = f"{write.pos.file}:{write.pos.line}:{write.pos.col + 1}: `{write.pos.text.strip()}`" \
                if write.pos is not None else f"in {name}"
            raise UnsupportedSyntaxError(
                f"{name}() writes into its argument `{source}` in place ({where}), which a "
                f"differentiated function cannot follow", s.pos,
                f"let {name} build and return a new array (copy its parameter before writing "
                f"into it) and bind it: `{source} = {name}(...)`.")


def params_written_through_aliases(fn: ir.Function, var_kinds: dict, lower=None) -> set[str]:
    """The array parameters written into through another name (`v = x; v[0] = 0.0`).
    Derivative code works on copies of them: it leaves the caller's arrays alone."""
    shares = _param_shares(fn, lower, set())
    out = set()
    for s in ir.walk_stmts(fn.body):
        if isinstance(s, ir.Assign) and len(s.targets) == 1:
            t = s.targets[0]
            var = ir.target_name(t)
            if var in fn.params or not (isinstance(t, ir.Subscript) or (s.aug and isinstance(t, ir.Name))):
                continue
            out |= {fn.params[i] for i in shares.get(var, set())
                    if kinds.is_array(var_kinds.get(fn.params[i]))}
    return out


def _user_call(s) -> ir.Call | None:
    """The user-function call of `h(a)` or `b = h(a)`."""
    call = s.call if isinstance(s, ir.CallAssign) else s.expr if isinstance(s, ir.ExprStmt) else None
    return call if isinstance(call, ir.Call) and isinstance(call.func, ir.UserFn) else None


def _written_params(pyfunc, lower, seen: set) -> dict[int, tuple[ir.Stmt, bool]]:
    """Position of each parameter a user function may write into in place (itself, through
    a name sharing it, or through a call that writes into it) -> (a write, whether it is
    an augmented assignment to a name, which is in place only for an array)."""
    if pyfunc in seen:
        return {}
    seen = seen | {pyfunc}
    try:
        fn = lower(pyfunc)
    except Exception:  # no source to read: the caller refuses or handles it elsewhere
        return {}
    shares = _param_shares(fn, lower, set())
    out: dict[int, tuple[ir.Stmt, bool]] = {}
    for s in ir.walk_stmts(fn.body):
        if _add_at_target(s) is not None:
            for i in shares.get(_add_at_target(s), set()):
                out.setdefault(i, (s, False))
        if isinstance(s, ir.Assign) and len(s.targets) == 1:
            t = s.targets[0]
            if isinstance(t, ir.Subscript) or (s.aug and isinstance(t, ir.Name)):
                for i in shares.get(ir.target_name(t), set()):
                    out.setdefault(i, (s, not isinstance(t, ir.Subscript)))
        call = _user_call(s)
        if call is not None:
            for j, write in _written_params(call.func.key, lower, seen).items():
                if j < len(call.args):
                    for i in shares.get(_shared_source(call.args[j]), set()):
                        out.setdefault(i, write)  # the write itself, in the callee
    return out


def _param_shares(fn: ir.Function, lower, seen: set) -> dict[str, set[int]]:
    """Each name of fn -> the positions of the parameters whose memory it may share
    (`seen`: the functions whose returns are being worked out, for recursion)."""
    copied = _copied_first(fn)
    shares: dict[str, set[int]] = {p: {i} for i, p in enumerate(fn.params) if p not in copied}
    for _ in range(2):  # twice: a loop may carry a sharing to its next iteration
        for s in ir.walk_stmts(fn.body):
            if isinstance(s, ir.Assign) and not s.aug:
                for t, v in zip(s.targets, s.values):
                    if isinstance(t, ir.Name):
                        values = v.elts if isinstance(v, (ir.ListExpr, ir.TupleExpr)) else [v]
                        for e in values:
                            shares.setdefault(t.id, set()).update(shares.get(_shared_source(e), set()))
            elif isinstance(s, ir.CallAssign) and isinstance(s.call.func, ir.UserFn):
                for i in _returned_params(s.call.func.key, lower, seen):
                    if i < len(s.call.args):
                        for t in s.targets:
                            shares.setdefault(t.id, set()).update(
                                shares.get(_shared_source(s.call.args[i]), set()))
            elif isinstance(s, ir.Append):
                shares.setdefault(s.target.id, set()).update(shares.get(_shared_source(s.value), set()))
    return shares


def _copied_first(fn: ir.Function) -> set[str]:
    """Parameters rebound at the top level to a copy of themselves (a vjp's copy of its
    cotangent, `d_result = np.array(d_result, dtype=float)`, which its adjoint then
    starts as; the lowering may spell it through temporaries) before anything else binds or writes
    anything from them (a test or a raise may read them: `if np.shape(p) != ...`): from
    then on p is the function's own memory."""
    out = set()
    for p in fn.params:
        fresh: set[str] = set()  # names bound to new arrays: copies, or views of copies
        for s in fn.body:
            if isinstance(s, ir.Assign) and not s.aug and len(s.targets) == 1 \
                    and isinstance(s.targets[0], ir.Name) and _fresh_copy(s.values[0], fresh):
                if s.targets[0].id == p:
                    out.add(p)
                    break
                fresh.add(s.targets[0].id)
                continue
            if any(p in ir.assigned_names([x]) or (p in ir.stmt_reads(x) and not isinstance(x, _READ_ONLY))
                   for x in ir.walk_stmts([s])):
                break
    return out


_READ_ONLY = (ir.If, ir.While, ir.ExprStmt, ir.Comment)  # statements whose reads share no memory


def _fresh_copy(e: ir.Expr, fresh: set[str]) -> bool:
    """np.array(x) (not copy=False), np.copy(x), a name bound to one, or a view of one."""
    if isinstance(e, ir.Name):
        return e.id in fresh
    if not (isinstance(e, ir.Call) and isinstance(e.func, ir.Lib) and e.func.module == "numpy" and e.args):
        return False
    if e.func.attr in ("array", "copy"):
        return not any(k == "copy" and not (isinstance(v, ir.Const) and v.value is True) for k, v in e.kwargs)
    return e.func.attr in VIEWS and _fresh_copy(e.args[0], fresh)


def _returned_params(pyfunc, lower, seen: set) -> set[int]:
    """The positions of the parameters a user function may return (or a view of, or a
    list holding them): `def h(v): return v`."""
    if pyfunc in seen:
        return set(range(64))  # recursion: anything
    seen = seen | {pyfunc}
    try:
        fn = lower(pyfunc)
    except Exception:  # no source to read: the caller refuses or handles it elsewhere
        return set()
    return _param_shares(fn, lower, seen).get(fn.result, set())


def added_into(stmts) -> set[str]:
    """The arrays np.add.at adds into (add_at(y, index, v) as the frontend lowers it)."""
    return {_add_at_target(s) for s in ir.walk_stmts(stmts) if _add_at_target(s) is not None}


def _add_at_target(s) -> str | None:
    """y of `add_at(y, index, v)` (np.add.at as the frontend lowers it)."""
    if isinstance(s, ir.ExprStmt) and s.kind == "expr" and isinstance(s.expr, ir.Call) \
            and isinstance(s.expr.func, ir.Lib) and (s.expr.func.module, s.expr.func.attr) == ("runtime", "add_at") \
            and s.expr.args and isinstance(s.expr.args[0], ir.Name):
        return s.expr.args[0].id
    return None


def _array_updated_in_place(s, array, var_kinds) -> str | None:
    """The array `s *= c`, `s[i] = v` or np.add.at(s, i, v) writes into (`L[0][i] = v`:
    the list L holding it); None for any other statement."""
    target = _add_at_target(s)
    if target is not None:
        return target if array(target) else None
    if not isinstance(s, ir.Assign) or len(s.targets) != 1:
        return None
    t = s.targets[0]
    var = ir.target_name(t)
    if isinstance(t, ir.Subscript) and isinstance(t.value, ir.Subscript) and kinds.is_list(var_kinds.get(var)):
        return var  # an array held by a list, written into
    if s.aug and isinstance(t, ir.Subscript) and isinstance(t.value, ir.Name) and kinds.is_list(var_kinds.get(var)) \
            and not kinds.is_scalar(var_kinds[var].elem):
        return var  # L[0] += v on an array item: numpy's += updates that array in place
    if not ((s.aug and isinstance(t, ir.Name)) or isinstance(t, ir.Subscript)) or not array(var):
        return None
    return var


def _aliased_update_error(var: str, s: ir.Stmt) -> UnsupportedSyntaxError:
    return UnsupportedSyntaxError(
        f"updating the array `{var}` in place while another name may refer to it "
        f"(a list it was appended to, a view, an alias, or the caller's argument)", s.pos,
        f"build a new array instead (`{var} = {var} * ...`, or `{var} = {var}.copy()` "
        f"before writing into it).")


def list_written_after(body, s: ir.Stmt, names: set[str]) -> bool:
    """Whether an element of one of these lists may be written, appended or popped
    after statement s (or s runs in a loop)."""
    order = statement_order(body)
    for st in ir.walk_stmts(body):
        if isinstance(st, ir.Assign):
            written = {ir.target_name(t) for t in st.targets if isinstance(t, ir.Subscript)}
        elif isinstance(st, (ir.Append, ir.Pop)):
            written = {st.target.id}
        else:
            continue
        if written & names and id(st) in order and may_run_after(st, s, order):
            return True
    return False


def updated_in_place(stmts, var_kinds) -> set[str]:
    """Arrays the function writes into (x[i] = ..., x += ... on an array)."""
    out = set()
    for s in ir.walk_stmts(stmts):
        if _add_at_target(s) is not None:
            out.add(_add_at_target(s))
        if isinstance(s, ir.Assign):
            for t in s.targets:
                if isinstance(t, ir.Subscript) and not kinds.is_list(var_kinds.get(ir.target_name(t))):
                    out.add(ir.target_name(t))
                elif isinstance(t, ir.Name) and s.aug and kinds.is_array(var_kinds.get(t.id)):
                    out.add(t.id)
    return out


def may_alias_existing(e: ir.Expr) -> bool:
    """Whether e may be (a view of) an existing array rather than a new one."""
    return isinstance(e, ir.Name) or (isinstance(e, ir.Subscript) and may_alias_existing(e.value))


# ---------------------------------------------------------------------- statement order
def statement_order(stmts, loops=(), out=None) -> dict:
    """id(statement) -> (position in source order, the loops around it)."""
    out = {} if out is None else out
    for s in stmts:
        out[id(s)] = (len(out), loops)
        inner = loops + (id(s),) if isinstance(s, (ir.ForRange, ir.ForEach, ir.While)) else loops
        for block in ir.blocks(s):
            statement_order(block, inner, out)
    return out


def may_run_after(later, earlier, order) -> bool:
    """Whether `later` can run after `earlier`: it comes after it, or a loop holds both."""
    (i, loops_i), (j, loops_j) = order[id(later)], order[id(earlier)]
    around_earlier = set(loops_j) | ({id(earlier)} if isinstance(earlier, ir.ForEach) else set())
    return i > j or bool(set(loops_i) & around_earlier)


def _rebound_between(var, earlier, later, body, order, views_too=False) -> bool:
    """Whether a new value (not a view, unless views_too) is bound to var on every path
    from earlier to later."""
    (i, loops_i), (j, loops_j) = order[id(later)], order[id(earlier)]
    shared_loops = set(loops_i) & set(loops_j)
    for s in _dominators(later, body):
        if isinstance(s, ir.Assign) and not s.aug and len(s.targets) == 1 \
                and isinstance(s.targets[0], ir.Name) and s.targets[0].id == var \
                and (views_too or _shared_source(s.values[0]) is None):
            k, loops_k = order[id(s)]
            # between the two in source order; or, where `later` comes first (it runs
            # after `earlier` in a next trip of a loop around both), anywhere in that loop
            # before `later` (a binding before `earlier` in the same trip is not between)
            if k > j or (i <= j and set(loops_k) & shared_loops):
                return True
    return False


def _dominators(target, stmts) -> list:
    """The statements that run before `target` whenever it runs (same or enclosing blocks)."""
    before = []
    for s in stmts:
        if s is target:
            return before
        for block in ir.blocks(s):
            inner = _dominators(target, block)
            if inner is not None:
                return before + inner
        before.append(s)
    return None


def view_source(v: ir.Expr) -> str | None:
    """The variable whose memory `v` may share (x for x, x[1:], x.T, x.reshape(...))."""
    return _shared_source(v)


def _shared_source(v: ir.Expr) -> str | None:
    """The variable whose memory `v` may share: x for x, x[1:], x.T, x.reshape(...)."""
    root = _view_root(v)
    return root.id if isinstance(root, ir.Name) else None


def _view_root(v: ir.Expr) -> ir.Name | ir.Global | None:
    """The variable or constant whose memory `v` may share (x for x[1:], x.T, ...)."""
    if isinstance(v, (ir.Name, ir.Global)):
        return v
    if isinstance(v, ir.Subscript) and isinstance(v.value, (ir.Name, ir.Global)):
        return v.value
    if isinstance(v, ir.Call) and isinstance(v.func, ir.Lib) and v.func.attr in VIEWS and v.args:
        return _view_root(v.args[0])
    if isinstance(v, ir.Call) and isinstance(v.func, ir.Foreign) and v.args:
        return _view_root(v.args[0])  # a call s2sgrad cannot read (np.fliplr's C or lambda) may give a view
    return None
