"""Typed tapes for the compiled targets: a tape of numbers becomes an array and a count.

transforms/reverse.py tapes values in lists used as stacks (`tape_x.append(x)`, `x = tape_x.pop()`),
which is what plain Python does fastest.  numba and CUDA want homogeneous, preallocated
storage instead (DESIGN.md, "typed tapes"), so for those targets this pass rewrites every
tape of numbers into ir.TapeNew / TapeReserve / TapePush / TapePop statements:

    tape_x = np.empty(0, np.float64)          # TapeNew: one array a tape, of the value's type
    n_tape_x = 0
    tape_x = tape_reserve(tape_x, n_tape_x + len(range(n)))   # TapeReserve: before a for loop
    for i in range(n):
        tape_x[n_tape_x] = x                   # TapePush: no check, the room was reserved
        n_tape_x += 1
    ...
        n_tape_x -= 1                          # TapePop
        x = tape_x[n_tape_x]

A `for` loop's trip count is known at its entry, so the room for its pushes is reserved
there, and for its inner loops' pushes too where their trip counts are known at the
outer loop's entry (they read nothing the outer loop assigns): a loop nest reserves its
whole tape once, at the outermost such loop (`n * (k * d)` for GMM's points x components
x dimensions), and its pushes check nothing.  A tape still empty where its first room is
reserved, at the function's top level, is made at that size instead of grown.  A push
whose innermost loop is a `while` (or a `for` over a list its body grows), or that no
enclosing loop reserves room for (a triangular inner loop reserves its own, at its own
entry), checks the room and doubles the array when it is full.  Each printer decides how these statements look (backends/); the
CUDA printer gives each thread a local array of a fixed bound instead.

A tape of array elements (`tape_y_items`, the old `y[i]` of a write `y[i] = ...` in a
loop) is a tape of numbers too, of the array's dtype.  Tapes of arrays and of lists stay
lists: numba types a list of arrays of one rank.

The element type of a tape comes from `scalar_types`: bool, int or float for each
number the function holds, from the argument types of the call and what each variable
is assigned (`x.shape[1]`, `len(xs)` and `i + 1` are ints).  Where it cannot be shown to
be an int the tape is float64: an int restored from it becomes a float, which numba may
refuse (an index), but a value is never truncated.  reverse.py's placeholder first
value (`v = 0.0` for a variable saved before it is bound) is never read, so it does not
count, and it is printed in the variable's type (`v = 0`).
"""
from __future__ import annotations

import copy

from .. import ir
from ..analysis import dataflow, kinds

DTYPES = {"bool": "bool_", "int": "int64", "float": "float64"}
_ORDER = {"bool": 0, "int": 1, "float": 2}


def typed_tapes(fn: ir.Function, var_kinds: dict, param_types: dict, namer) -> ir.Function:
    """A copy of the generated function `fn` whose tapes of numbers are typed arrays, and
    whose arrays bound on some paths only start as empty arrays of their rank, not 0.0
    (numba gives a variable one type)."""
    fn = copy.deepcopy(fn)
    types = scalar_types(fn, param_types)
    _typed_first_values(fn.body, var_kinds, types)
    tapes = _number_tapes(fn.body, var_kinds)
    if not tapes:
        return fn
    counts = {t: namer.fresh(f"n_{t}") for t in sorted(tapes)}
    elem = {t: DTYPES[_join_all(_element_type(v, item, types, var_kinds) for v, item in tapes[t])]
            for t in tapes}
    room = Room(fn, counts)
    fn.body = _rewrite(fn.body, counts, elem, room, reserved=frozenset())
    _make_at_first_room(fn.body, elem, room)
    return fn


_ZEROS = {"bool": False, "int": 0, "float": 0.0}


def _typed_first_values(body, var_kinds, types) -> None:
    """The placeholder `v = 0.0` that reverse.py gives a variable saved before it is bound
    gets v's own type: `np.zeros((0,))` for an array, `0` for an int (an index stays an int)."""
    for s in ir.walk_stmts(body):
        if isinstance(s, ir.Assign) and s.role == "placeholder" and len(s.targets) == 1 \
                and isinstance(s.targets[0], ir.Name) and isinstance(s.values[0], ir.Const):
            k = var_kinds.get(s.targets[0].id)
            if kinds.is_array(k) and k.ndim is not None:
                empty = ir.TupleExpr([ir.Const(0)] * k.ndim)
                s.values[0] = ir.Call(ir.Lib("numpy", "zeros"), [empty], pos=s.pos)
            elif k is None or kinds.is_scalar(k):
                s.values[0] = ir.Const(_ZEROS[types.get(s.targets[0].id, "float")], pos=s.values[0].pos)


# ------------------------------------------------------------------------------ which tapes
def _number_tapes(body, var_kinds) -> dict[str, set[tuple[str, bool]]]:
    """Tape name -> the variables pushed onto it (with whether an element of it is), for
    tapes holding numbers only."""
    pushed: dict[str, set[tuple[str, bool]]] = {}
    other: set[str] = set()
    for s in ir.walk_stmts(body):
        if isinstance(s, ir.Append) and s.pair is not None:
            var = _pushed_variable(s.value)
            if var is None or not _is_number(var, s.value, var_kinds):
                other.add(s.target.id)
            else:
                pushed.setdefault(s.target.id, set()).add((var, isinstance(s.value, ir.Subscript)))
    return {t: vs for t, vs in pushed.items() if t not in other}


def _element_type(var, item: bool, types, var_kinds) -> str:
    """The tape type of a pushed number: a variable's from `types`; an array element's
    from the array's dtype where it is known (float64 otherwise: nothing is truncated)."""
    if not item:
        return types.get(var, "float")
    dtype = getattr(var_kinds.get(var), "dtype", None) or ""
    return "bool" if dtype == "bool" else "int" if dtype.startswith(("int", "uint")) else "float"


def _pushed_variable(value: ir.Expr) -> str | None:
    if isinstance(value, ir.Name):
        return value.id
    if isinstance(value, ir.Subscript) and isinstance(value.value, ir.Name):
        return value.value.id
    return None


def _is_number(var, value, var_kinds) -> bool:
    k = var_kinds.get(var)
    if isinstance(value, ir.Subscript):  # an item of a list of numbers, an element of an array
        if kinds.is_list(k):
            return k.elem == kinds.SCALAR
        return kinds.is_array(k) and kinds.is_scalar(kinds.KindInference(None, var_kinds, shared=True).of(value))
    return k is None or k == kinds.SCALAR  # flags and counters have no user kind


# ------------------------------------------------------------------------------ rewriting
def _rewrite(stmts, counts, elem, room, reserved) -> list[ir.Stmt]:
    """`reserved`: the tapes an enclosing loop made room for (their pushes check nothing)."""
    out = []
    for s in stmts:
        if isinstance(s, ir.Assign) and s.role == "save" and len(s.targets) == 1 \
                and isinstance(s.targets[0], ir.Name) and s.targets[0].id in counts \
                and isinstance(s.values[0], ir.ListExpr):
            name = s.targets[0].id
            out.append(ir.TapeNew(ir.Name(name), ir.Name(counts[name]), elem[name], pos=s.pos))
            continue
        if isinstance(s, ir.Append) and s.target.id in counts:
            checked = s.target.id not in reserved
            out.append(ir.TapePush(s.target, ir.Name(counts[s.target.id]), s.value, checked, pos=s.pos))
            continue
        if isinstance(s, ir.Pop) and s.target.id in counts:
            out.append(ir.TapePop(s.target, ir.Name(counts[s.target.id]), s.into, pos=s.pos))
            continue
        if isinstance(s, ir.If):
            s.body = _rewrite(s.body, counts, elem, room, reserved)
            s.orelse = _rewrite(s.orelse, counts, elem, room, reserved)
        elif isinstance(s, (ir.ForRange, ir.ForEach, ir.While)):
            rooms = {tape: r for tape in sorted(_pushed_in(s.body, counts) - reserved)
                     if (r := room.for_loop(s, tape)) is not None}
            s.body = _rewrite(s.body, counts, elem, room, reserved | set(rooms))
            for tape, extra in rooms.items():
                out.append(ir.TapeReserve(ir.Name(tape), ir.Name(counts[tape]), extra, pos=s.pos))
        out.append(s)
    return out


def _pushed_in(body, counts) -> set[str]:
    return {s.target.id for s in ir.walk_stmts(body) if isinstance(s, ir.Append) and s.target.id in counts}


class Room:
    """How many pushes onto a tape a loop makes, as an expression computable at its entry."""

    def __init__(self, fn: ir.Function, counts):
        self.counts = counts
        self.bound_before: dict[int, set[str]] = {}
        dataflow.definitely_bound(fn.body, set(fn.params), self.bound_before)
        # variables bound once, to a length (x.shape[1], len(xs)): never negative
        assigned = dataflow.count_assignments(fn)
        self.lengths = {t.id for st in ir.walk_stmts(fn.body) if isinstance(st, ir.Assign) and not st.aug
                        and len(st.targets) == len(st.values)
                        for t, v in zip(st.targets, st.values)
                        if isinstance(t, ir.Name) and assigned.get(t.id) == 1 and self._is_length(v, set())}

    def for_loop(self, loop, tape) -> ir.Expr | None:
        """The room one run of the loop takes on `tape`, inner loops included; None where an
        inner loop's trip count is not known at this loop's entry (or is a while's)."""
        if not _sized_at_entry(loop):
            return None
        per_trip = self._per_trip(loop.body, tape, ir.assigned_names(loop.body),
                                  self.bound_before.get(id(loop), set()))
        return None if per_trip is None else _times(trip_count(loop), per_trip)

    def _per_trip(self, body, tape, assigned, bound) -> ir.Expr | None:
        pushes, terms = 0, []
        for s in body:
            if isinstance(s, ir.Append) and s.target.id == tape:
                pushes += 1
            elif isinstance(s, ir.If):  # both branches: an upper bound
                for block in (s.body, s.orelse):
                    branch = self._per_trip(block, tape, assigned, bound)
                    if isinstance(branch, ir.Const):
                        pushes += branch.value
                    else:
                        terms.append(branch)
            elif ir.blocks(s) and tape in _pushed_in(s.body, self.counts):
                if not isinstance(s, ir.ForRange):  # a list's length could change in between
                    return None
                trips = trip_count(s)
                if ir.names_in(trips) & assigned or not ir.names_in(trips) <= bound:
                    return None  # varies with the outer loop, or may be unbound at its entry
                inner = self._per_trip(s.body, tape, assigned, bound)
                terms.append(None if inner is None else _times(self.at_least_zero(trips), inner))
        if any(t is None for t in terms):
            return None
        total = ir.Const(pushes) if pushes or not terms else None
        for t in terms:
            total = t if total is None else ir.BinOp("+", total, t)
        return total

    def at_least_zero(self, e: ir.Expr) -> ir.Expr:
        """e, or max(e, 0) where e may be negative (range(a, b) with b < a runs no times:
        two negative trip counts must not multiply into a positive room)."""
        if self._is_length(e, self.lengths):
            return e
        return ir.Call(ir.Lib("builtins", "max"), [e, ir.Const(0)])

    def _is_length(self, e: ir.Expr, lengths) -> bool:
        if isinstance(e, ir.Const):
            return type(e.value) is int and e.value >= 0
        if isinstance(e, ir.Name):
            return e.id in lengths
        if isinstance(e, ir.Subscript) and isinstance(e.value, ir.Attr) and e.value.attr == "shape":
            return True
        if isinstance(e, ir.Call) and isinstance(e.func, ir.Lib) and (e.func.module, e.func.attr) == ("builtins", "len"):
            return True
        if isinstance(e, ir.BinOp) and e.op in ("+", "*"):
            return self._is_length(e.left, lengths) and self._is_length(e.right, lengths)
        return False


def _times(a: ir.Expr, b: ir.Expr) -> ir.Expr:
    if isinstance(b, ir.Const) and b.value == 1:
        return a
    if isinstance(a, ir.Const) and a.value == 1:
        return b
    return ir.BinOp("*", b, a) if isinstance(b, ir.Const) else ir.BinOp("*", a, b)  # 2 * (n - 1)


def _make_at_first_room(body, elem, room) -> None:
    """A top-level reservation on a tape nothing pushed onto yet marks it `fresh`: the
    numba printer makes the tape there, at that size (one allocation, not an empty array
    and a copy)."""
    news = {s.tape.id: s for s in body if isinstance(s, ir.TapeNew)}
    touched: set[str] = set()
    for s in body:
        if isinstance(s, ir.TapeReserve) and s.tape.id not in touched and s.tape.id in news:
            s.fresh = elem[s.tape.id]
            s.extra = room.at_least_zero(s.extra)
            news[s.tape.id].sized_later = True
        touched |= {t.tape.id for t in ir.walk_stmts([s])
                    if isinstance(t, (ir.TapeReserve, ir.TapePush, ir.TapePop))}


def _sized_at_entry(loop) -> bool:
    """Whether the loop's trip count is known when it starts: a range, or a list its body
    does not grow (a write past the reserved room would not be checked)."""
    if isinstance(loop, ir.ForEach):
        return loop.seq.id not in ir.assigned_names(loop.body)
    return isinstance(loop, ir.ForRange)


def trip_count(loop) -> ir.Expr:
    """An upper bound of the loop's trip count, computable at its entry."""
    if isinstance(loop, ir.ForEach):
        return ir.Call(ir.Lib("builtins", "len"), [copy.deepcopy(loop.seq)])
    args = copy.deepcopy(loop.args)  # a limit only shortens the loop
    a, b, step = (ir.Const(0), args[0], ir.Const(1)) if len(args) == 1 else \
        (args[0], args[1], args[2] if len(args) == 3 else ir.Const(1))
    if isinstance(step, ir.Const) and step.value == 1:  # b - a: room for nothing when negative
        return b if isinstance(a, ir.Const) and a.value == 0 else ir.BinOp("-", b, a)
    return ir.Call(ir.Lib("builtins", "len"), [ir.Call(ir.Lib("builtins", "range"), args)])


# ------------------------------------------------------------------------------ number types
def scalar_types(fn: ir.Function, param_types: dict) -> dict[str, str]:
    """"bool", "int" or "float" for each number variable: the least fixpoint over every
    assignment (a variable is an int only if every value it gets is one)."""
    sources: dict[str, list] = {}
    for s in ir.walk_stmts(fn.body):
        if isinstance(s, ir.Assign) and s.role == "placeholder":
            continue  # never read: it takes the type of the values that are
        if isinstance(s, ir.Assign):
            for t, v in _pairs(s):
                if isinstance(t, ir.Name):
                    sources.setdefault(t.id, []).append(
                        ir.BinOp(s.aug, ir.Name(t.id), v) if s.aug else v)
        elif isinstance(s, ir.ForRange):
            sources.setdefault(s.target.id, []).append(ir.Const(0))
        elif isinstance(s, (ir.ForEach, ir.CallAssign)):
            for t in ([s.target] if isinstance(s, ir.ForEach) else s.targets):
                sources.setdefault(t.id, []).append(None)  # not known: a float
    # what is neither a number parameter nor assigned here (a list, an array) is no int;
    # a parameter is the join of its argument's type and what it is assigned later (an
    # int argument that later holds a float is a float: its tape must not truncate it)
    given = {p: t for p, t in param_types.items() if t in _ORDER}
    types = dict(given)
    types.update({v: "bool" for v in sources if v not in given})  # the least type, to start
    changed = True
    while changed:
        changed = False
        for var, values in sources.items():
            new = _join_all([given.get(var, "bool")] + [_type_of(v, types) for v in values])
            if new != types.get(var):
                types[var] = new
                changed = True
    return types


def _pairs(s: ir.Assign):
    if len(s.targets) == len(s.values):
        return list(zip(s.targets, s.values))
    return [(t, None) for t in s.targets]  # a, b = f(): not known


def _join_all(ts) -> str:
    out = "bool"
    for t in ts:
        out = t if _ORDER[t] > _ORDER[out] else out
    return out


def _arith(t: str) -> str:
    return "int" if t == "bool" else t


def _type_of(e, types) -> str:
    """The number type of an expression; "float" wherever it might not be an int."""
    if isinstance(e, ir.Const):
        v = e.value
        return "bool" if isinstance(v, bool) else "int" if isinstance(v, int) else "float"
    if isinstance(e, ir.Name):
        return types.get(e.id, "float")
    if isinstance(e, ir.Attr) and e.attr in ("ndim", "size"):
        return "int"
    if isinstance(e, ir.Subscript) and isinstance(e.value, ir.Attr) and e.value.attr == "shape":
        return "int"  # x.shape[0]
    if isinstance(e, ir.BinOp):
        if e.op in ("+", "-", "*", "//", "%"):
            return _arith(_join_all([_type_of(e.left, types), _type_of(e.right, types)]))
        if e.op in ("&", "|", "^"):
            return _join_all([_type_of(e.left, types), _type_of(e.right, types)])
        return "float"  # / and ** give floats (2 ** -1 is 0.5)
    if isinstance(e, ir.UnaryOp):
        return "bool" if e.op == "not" else _arith(_type_of(e.operand, types))
    if isinstance(e, (ir.Compare,)):
        return "bool"
    if isinstance(e, ir.BoolOp):
        return _join_all(_type_of(v, types) for v in e.values)
    if isinstance(e, ir.IfExp):
        return _join_all([_type_of(e.body, types), _type_of(e.orelse, types)])
    if isinstance(e, ir.Call) and isinstance(e.func, ir.Lib):
        f = (e.func.module, e.func.attr)
        if f in (("builtins", "len"), ("builtins", "int"), ("math", "floor"), ("math", "ceil"),
                 ("math", "trunc")) or (f == ("builtins", "round") and len(e.args) == 1):
            return "int"
        if f == ("builtins", "bool"):
            return "bool"
        if f in (("builtins", "abs"), ("builtins", "min"), ("builtins", "max")) and e.args and not e.kwargs:
            return _arith(_join_all(_type_of(a, types) for a in e.args))
    return "float"
