"""Lent arrays for the numba target: a helper's vjp works in arrays its caller lends it.

A helper called in a loop (GMM's `logsumexp_loop(main_term)`, once a point) has its vjp
called once an iteration of the reverse sweep, and each call made its cotangent arrays
and its tapes anew, and the caller then added the cotangents into its adjoints: at
GMM's sizes these allocations and additions cost about as much as the vjp's own work.
So the caller lends the vjp two kinds of arrays:

- the adjoint a cotangent is added into (`d_main_term += g_main_term` right after the
  call): the vjp adds into it where it added into its own zeros;
- room for each tape the vjp makes at its top level, which comes back with the
  cotangents (grown, where the vjp needed more):

    tape_branch_room = np.empty(0, np.bool_)          # the caller, once
    ...
        tape_branch_room = vjp_h(v, d_y, d_v, tape_branch_room)

    def vjp_h(v, d_result, d_v, tape_branch_room):
        tape_branch = tape_branch_room
        if tape_branch.shape[0] < n:
            tape_branch = np.empty(n, np.bool_)
        ...
        return tape_branch

An adjoint is lent only where that is the same sum: the vjp made it as zeros of its
parameter (which it never rebinds) and only adds into it (`d_v[c] += e`, e not reading
it), and at every call the caller adds that cotangent into the adjoint of the argument
(a name) right after, among the statements that follow every call (the targets'
adjoints restarting, the cotangents added), mentioning that adjoint nowhere in the call
or before the addition.  A tape's values never outlive the call that pushes them (each is popped
before the vjp returns), so one room serves every call of a vjp in the caller, and what
a call finds in it is never read.  Only the numba target lends: Python's tapes are
lists, and CUDA's are fixed local arrays.

The function s2sgrad itself calls is lent its tapes the same way, by the call before
(`in_rooms`): GMM's gradient makes 2.4 MB of tapes at 10k points, and memory the
allocator has just handed back to the system costs a page fault per 4 KB at its first
writes, a fifth of the gradient's time.  The function keeps its name and parameters
(the one a generated file's reader calls) and lends empty rooms; api.py calls the work
itself with the rooms of the call before.
"""
from __future__ import annotations

import copy

from .. import ir


def lend(functions: list[ir.Function], vjp_names: set[str], scalar_vjps: set[str], namer) -> list[ir.Function]:
    """The functions (copies already, from tapes.typed_tapes) with the vjps named in
    `vjp_names` working in arrays their callers lend, where every use of such a vjp is a
    call whose cotangents are assigned (`g_a, g_b = vjp_h(...)`).  Adjoints are lent only
    to the vjps in `scalar_vjps`, whose cotangent is a number: an array cotangent could
    share memory with the adjoint lent, and the vjp reads it while adding into that."""
    vjps = {fn.name: fn for fn in functions if fn.name in vjp_names and _returns_once(fn)}
    for fn in functions:
        for name in _used_otherwise(fn):
            vjps.pop(name, None)
    plans = {name: _Plan(fn, namer, name in scalar_vjps) for name, fn in vjps.items()}
    unpacked_otherwise = set()
    for fn in functions:
        for site in _call_sites(fn, plans):
            site.plan.keep_adjoints_where(site)
            if len(site.targets) != len(site.plan.returned):  # `cotangents = vjp_h(...)`: a tuple kept
                unpacked_otherwise.add(site.plan.fn.name)
    plans = {name: plan for name, plan in plans.items() if plan.lends() and name not in unpacked_otherwise}
    for fn in functions:
        if fn.name in plans:
            plans[fn.name].borrow()
        _lend(fn, plans)
    return functions


class _Plan:
    """What one vjp borrows: the adjoints it adds into (by return position) and its tapes' rooms."""

    def __init__(self, fn: ir.Function, namer, lend_adjoints: bool):
        self.fn = fn
        ret = fn.body[-1].value
        self.returned = list(ret.elts) if isinstance(ret, ir.TupleExpr) else [ret]
        # return position -> (adjoint, parameter)
        self.adjoints = _addable_adjoints(fn, self.returned) if lend_adjoints else {}
        self.tapes = [s for s in fn.body if isinstance(s, ir.TapeNew)]
        self.rooms = [namer.fresh(f"{t.tape.id}_room") for t in self.tapes]

    def keep_adjoints_where(self, site: "_Site") -> None:
        self.adjoints = {k: v for k, v in self.adjoints.items() if k in site.added_into}

    def lends(self) -> bool:
        return bool(self.adjoints or self.tapes)

    def kept(self) -> list[int]:
        """Return positions still returned."""
        return [k for k in range(len(self.returned)) if k not in self.adjoints]

    def borrow(self) -> None:
        """The vjp's side: a parameter an adjoint and a tape; the adjoints no longer made,
        the tapes made from their rooms, and handed back."""
        fn = self.fn
        made = {d for d, _ in self.adjoints.values()}
        fn.body = [s for s in fn.body if not (_zeros_of_param(s) and _zeros_of_param(s)[0] in made)]
        fn.params = fn.params + [self.adjoints[k][0] for k in sorted(self.adjoints)] + self.rooms
        rooms = dict(zip((t.tape.id for t in self.tapes), self.rooms))
        for t in self.tapes:
            t.room = rooms[t.tape.id]
        for s in fn.body:
            if isinstance(s, ir.TapeReserve) and s.fresh is not None and s.tape.id in rooms:
                s.room = rooms[s.tape.id]
        if self.adjoints:
            fn.doc += "\n\n    Adds the cotangents into the caller's adjoints it is lent: " + ", ".join(
                f"{p}'s into {d}" for d, p in self.adjoints.values()) + "."
        if self.tapes:
            fn.doc += ("\n\n    Its tapes start in the arrays the caller lends (" + ", ".join(self.rooms)
                       + "), and go back to it for the next call.")
        back = [self.returned[k] for k in self.kept()] + [ir.Name(t.tape.id) for t in self.tapes]
        fn.body[-1].value = None if not back else back[0] if len(back) == 1 else ir.TupleExpr(back)


def in_rooms(fn: ir.Function, namer) -> tuple[ir.Function, ir.Function, list[str]] | None:
    """(the work of `fn` in rooms its caller lends, `fn` calling it with empty ones, the
    rooms' element types) where fn makes tapes at its top level; None elsewhere.  The
    work returns (what fn returns, its tapes), the rooms for the next call."""
    tapes = [s for s in fn.body if isinstance(s, ir.TapeNew)]
    if not tapes or not _returns_once(fn):
        return None
    work = copy.deepcopy(fn)
    work.name = namer.fresh(f"{fn.name}_in_rooms")
    rooms = [namer.fresh(f"{t.tape.id}_room") for t in tapes]
    by_tape = dict(zip((t.tape.id for t in tapes), rooms))
    for s in ir.walk_stmts(work.body):
        if isinstance(s, ir.TapeNew) and s.tape.id in by_tape:
            s.room = by_tape[s.tape.id]
        elif isinstance(s, ir.TapeReserve) and s.fresh is not None and s.tape.id in by_tape:
            s.room = by_tape[s.tape.id]
    work.params = fn.params + rooms
    work.body[-1].value = ir.TupleExpr([work.body[-1].value, ir.TupleExpr([ir.Name(t.tape.id) for t in tapes])])
    work.doc = (f"The work of {fn.name}, in tapes that start in the arrays lent (its last\n    "
                f"parameters) and come back with its result, the rooms of the next call.")
    dtypes = [t.dtype for t in tapes]
    empty = [ir.Call(ir.Lib("numpy", "empty"), [ir.Const(0), ir.Raw(f"np.{d}")]) for d in dtypes]
    call = ir.Call(ir.Ref(work.name), [ir.Name(p) for p in fn.params] + empty)
    lender = copy.copy(fn)
    lender.body = [ir.Return(ir.Subscript(call, ir.Const(0)))]
    lender.doc = fn.doc + f"\n\n    The work is {work.name}'s, in tapes made anew."
    return work, lender, dtypes


def _returns_once(fn: ir.Function) -> bool:
    return bool(fn.body) and isinstance(fn.body[-1], ir.Return) and fn.body[-1].value is not None \
        and sum(isinstance(s, ir.Return) for s in ir.walk_stmts(fn.body)) == 1


def _zeros_of_param(s: ir.Stmt) -> tuple[str, str] | None:
    """(d, p) for `d = np.zeros_like(p)`."""
    if isinstance(s, ir.Assign) and not s.aug and len(s.targets) == 1 == len(s.values) \
            and isinstance(s.targets[0], ir.Name) and isinstance(s.values[0], ir.Call):
        call = s.values[0]
        if isinstance(call.func, ir.Lib) and (call.func.module, call.func.attr) == ("numpy", "zeros_like") \
                and len(call.args) == 1 and not call.kwargs and isinstance(call.args[0], ir.Name):
            return s.targets[0].id, call.args[0].id
    return None


def _addable_adjoints(fn: ir.Function, returned: list) -> dict[int, tuple[str, str]]:
    """Return position -> (d, p) for each returned adjoint d the vjp makes as zeros of
    its parameter p at its top level and then only adds into."""
    made = {z[0]: z[1] for s in fn.body if (z := _zeros_of_param(s))}
    rebound = ir.assigned_names(fn.body)
    out = {}
    for k, r in enumerate(returned):
        if not isinstance(r, ir.Name) or r.id not in made or made[r.id] not in fn.params:
            continue
        if made[r.id] in rebound or sum(isinstance(x, ir.Name) and x.id == r.id for x in returned) != 1:
            continue
        zeros = [s for s in ir.walk_stmts(fn.body) if (_zeros_of_param(s) or ("",))[0] == r.id]
        if len(zeros) == 1 and all(_only_adds_into(s, r.id) for s in ir.walk_stmts(fn.body[:-1])
                                   if s is not zeros[0]):  # made once: no restart to lose
            out[k] = (r.id, made[r.id])
    return out


def _only_adds_into(s: ir.Stmt, d: str) -> bool:
    """Whether s leaves d alone, or is `d += e` / `d[i] -= e` with d in neither i nor e."""
    if isinstance(s, ir.Assign) and s.aug in ("+", "-") and len(s.targets) == 1 == len(s.values) \
            and ir.target_name(s.targets[0]) == d:
        t = s.targets[0]
        index = [] if isinstance(t, ir.Name) else [t.index] if isinstance(t, ir.Subscript) \
            and isinstance(t.value, ir.Name) else None
        return index is not None and all(d not in ir.names_in(e) for e in index + [s.values[0]])
    return d not in _mentions(s)


def _mentions(s: ir.Stmt) -> set[str]:
    """Every variable s reads or writes itself (not in its nested blocks)."""
    names = set().union(*(ir.names_in(e) for e in ir.stmt_exprs(s)))
    if not ir.blocks(s):
        names |= ir.assigned_names([s])
    for attr in ("target", "seq", "tape", "count"):
        v = getattr(s, attr, None)
        if isinstance(v, ir.Name):
            names.add(v.id)
    return names


class _Site:
    """One call of a planned vjp: `g_a, g_b = vjp_h(...)`, the statement `stmt` of `block`."""

    def __init__(self, block, at, plan):
        self.block, self.stmt, self.plan = block, block[at], plan
        self.call = self.stmt.values[0]
        self.targets = self.stmt.targets
        self.added_into = self._added_into(at)  # return position -> its `d_x += g`

    def _added_into(self, at) -> dict:
        found = {}
        if len(self.targets) != len(self.plan.returned):
            return found
        returned = {t.id: k for k, t in enumerate(self.targets) if isinstance(t, ir.Name)}
        seen: set[str] = set().union(*(ir.names_in(a) for a in self.call.args))
        for s in self.block[at + 1:]:
            if not _after_call(s):  # only the statements adjoints.after_call writes: none reads an adjoint
                break
            k = _adds_returned(s, returned)
            if k is not None and s.targets[0].id not in seen and k in self.plan.adjoints \
                    and _argument_is(self.call, self.plan, k):
                found[k] = s
            seen |= _mentions(s)
        return found


def _after_call(s: ir.Stmt) -> bool:
    """`d_t = 0.0` / `d_t = np.zeros_like(t)` (a target's adjoint restarting) or `d_x += g`."""
    if not (isinstance(s, ir.Assign) and len(s.targets) == 1 == len(s.values) and isinstance(s.targets[0], ir.Name)):
        return False
    v = s.values[0]
    if s.aug:
        return s.aug == "+" and isinstance(v, ir.Name)
    return isinstance(v, ir.Const) or (isinstance(v, ir.Call) and isinstance(v.func, ir.Lib)
                                        and (v.func.module, v.func.attr) == ("numpy", "zeros_like"))


def _adds_returned(s: ir.Stmt, returned: dict) -> int | None:
    """k for `d_x += g` where g is the call's k-th target."""
    if isinstance(s, ir.Assign) and s.aug == "+" and len(s.targets) == 1 == len(s.values) \
            and isinstance(s.targets[0], ir.Name) and isinstance(s.values[0], ir.Name) \
            and s.values[0].id in returned:
        return returned[s.values[0].id]
    return None


def _argument_is(call: ir.Call, plan: _Plan, k: int) -> bool:
    """Whether the argument for the parameter the k-th adjoint belongs to is a plain name."""
    param = plan.adjoints[k][1]
    i = plan.fn.params.index(param)
    return i < len(call.args) and isinstance(call.args[i], ir.Name)


def _call_sites(fn: ir.Function, plans: dict) -> list[_Site]:
    sites = []
    for block in _blocks(fn.body):
        for at, s in enumerate(block):
            name = _calls_of(s)
            if name in plans and name != fn.name:
                sites.append(_Site(block, at, plans[name]))
    _drop_targets_read_elsewhere(fn, sites)
    return sites


def _drop_targets_read_elsewhere(fn: ir.Function, sites: list[_Site]) -> None:
    """A cotangent read anywhere but in its one addition stays returned."""
    uses: dict[str, int] = {}
    for s in ir.walk_stmts(fn.body):
        for e in ir.stmt_exprs(s):
            for x in ir.subexprs(e):
                if isinstance(x, ir.Name):
                    uses[x.id] = uses.get(x.id, 0) + 1
    for site in sites:
        site.added_into = {k: j for k, j in site.added_into.items()
                           if uses.get(site.targets[k].id, 0) == 2}  # its binding and the addition


def _blocks(body):
    yield body
    for s in body:
        for b in ir.blocks(s):
            yield from _blocks(b)


def _calls_of(s: ir.Stmt) -> str | None:
    """The function `s` calls, where s is `targets = f(...)` with f defined in the module."""
    if isinstance(s, ir.Assign) and not s.aug and len(s.values) == 1 and isinstance(s.values[0], ir.Call) \
            and isinstance(s.values[0].func, ir.Ref) and not s.values[0].kwargs:
        return s.values[0].func.name
    return None


def _used_otherwise(fn: ir.Function) -> set[str]:
    """Names of module functions fn refers to other than as the whole value of an assignment."""
    seen = set()
    for s in ir.walk_stmts(fn.body):
        exprs = ir.stmt_exprs(s)
        if _calls_of(s) is not None:
            exprs = list(s.targets) + list(s.values[0].args)
        for e in exprs:
            seen |= {x.name for x in ir.subexprs(e) if isinstance(x, ir.Ref)}
    return seen


def _lend(fn: ir.Function, plans: dict) -> None:
    """The caller's side: each room made once at the top; each call passed the adjoints
    and rooms, its additions of lent adjoints gone, the rooms taken back."""
    made: dict[str, str] = {}  # room -> dtype
    for site in _call_sites(fn, plans):
        plan = site.plan
        adds = [site.added_into[k] for k in sorted(plan.adjoints)]
        site.call.args = site.call.args + [ir.Name(a.targets[0].id) for a in adds] \
            + [ir.Name(r) for r in plan.rooms]
        targets = [site.targets[k] for k in plan.kept()] + [ir.Name(r) for r in plan.rooms]
        at = _index(site.block, site.stmt)
        if targets:
            site.stmt.targets = targets
        else:
            site.block[at] = ir.ExprStmt(site.call, pos=site.stmt.pos)
        site.block[:] = [s for s in site.block if not any(s is a for a in adds)]
        made.update({room: t.dtype for t, room in zip(plan.tapes, plan.rooms)})
    first = [ir.Comment("room for the tapes of the vjps called here, lent to each call")] if made else []
    fn.body[:0] = first + [ir.Assign([ir.Name(room)], [ir.Call(ir.Lib("numpy", "empty"),
                                                               [ir.Const(0), ir.Lib("numpy", dtype)])],
                                     role="flag") for room, dtype in made.items()]


def _index(block, stmt) -> int:
    return next(i for i, s in enumerate(block) if s is stmt)
