"""transforms.tapes on its own: typed tapes for the compiled targets.

The functions below are written the way reverse.py writes tapes (a list per tape,
`tape.append(v)` in the forward sweep, `v = tape.pop()` in the reverse one) and lowered
with the frontend; `tape_ir` gives them the roles reverse.py would (`tape_* = []` a
save, each tape's pushes and pops one pair).  typed_tapes then rewrites them.  Checked:
the element type of each tape (an int gets an int64 tape, a float float64, a bool
bool_), room reserved at a for loop's entry for as many pushes as it can make, checked
pushes where the trip count is not known at entry (a while, a for over a list the loop
grows); the printed text (NumbaPrinter) derived by hand; and the typed function, run as
plain Python with NumPy arrays (so a write past the reserved room raises IndexError and
an int tape would truncate a float), gives the list version's values.
"""
# ruff: noqa: F841 - the functions below are inputs to a pass: their variables are what it reads

import copy
import math
import types

import numpy as np
import pytest

from s2sgrad import ir
from s2sgrad.analysis.kinds import SCALAR, array, list_of
from s2sgrad.backends.numba import NumbaPrinter
from s2sgrad.backends.python import PythonPrinter
from s2sgrad.frontend import load_program
from s2sgrad.runtime.numba import tape_reserve
from s2sgrad.transforms import tapes
from s2sgrad.transforms.naming import Namer


def tape_ir(f) -> ir.Function:
    fn, _ = load_program(f)
    names = sorted({s.target.id for s in ir.walk_stmts(fn.body) if isinstance(s, (ir.Append, ir.Pop))})
    for s in ir.walk_stmts(fn.body):
        if isinstance(s, ir.Assign) and isinstance(s.values[0], ir.ListExpr) \
                and ir.target_name(s.targets[0]).startswith("tape_"):
            s.role = "save"
        if isinstance(s, (ir.Append, ir.Pop)) and s.target.id.startswith("tape_"):
            s.pair = names.index(s.target.id)
    return fn


def typed(f, var_kinds=None, param_types=None):
    fn = tape_ir(f)
    namer = Namer({fn.name, *fn.params, *ir.assigned_names(fn.body)})
    return tapes.typed_tapes(fn, var_kinds or {}, param_types or {}, namer)


def numba_text(fn) -> str:
    return NumbaPrinter().function(fn)


NO_JIT = types.SimpleNamespace(njit=lambda **options: (lambda f: f))


def run_typed(fn):
    """The typed function as plain Python: numba.njit a no-op, tape_reserve's Python."""
    namespace = {"math": math, "np": np, "numba": NO_JIT, "tape_reserve": getattr(tape_reserve, "py_func", tape_reserve)}
    exec(numba_text(fn), namespace)
    return namespace[fn.name]


def run_lists(fn):
    namespace = {"math": math, "np": np}
    exec(PythonPrinter().function(fn), namespace)
    return namespace[fn.name]


def dtypes(fn) -> dict:
    return {s.tape.id: s.dtype for s in ir.walk_stmts(fn.body) if isinstance(s, ir.TapeNew)}


# ---------------------------------------------------------------------- the functions
def int_and_float(x, xs, n):
    tape_k = []
    tape_y = []
    y = x
    for i in range(n):
        k = i * 2
        tape_k.append(k)
        tape_y.append(y)
        y = y * 0.5 + k
    total = 0.0
    for i in reversed(range(n)):
        k = tape_k.pop()
        y = tape_y.pop()
        total = total + xs[k] * y   # k an index: restored as a float, it would not index
    return total


def in_while(x):
    tape_y = []
    y = x
    c = 0
    while y < 10.0:
        tape_y.append(y)
        y = y * 2.0
        c = c + 1
    total = 0.0
    for i in range(c):
        y = tape_y.pop()
        total = total * 0.5 + y
    return total


def over_lists(xs):
    tape_v = []
    total = 0.0
    for v in xs:
        tape_v.append(v)
        total = total + v * v
    ys = [1.0]
    for w in ys:
        tape_v.append(w)
        if w < 40.0:
            ys.append(w * 2.0)   # the loop grows its own list: its trip count is not known at entry
    out = 0.0
    for i in range(len(xs) + len(ys)):
        v = tape_v.pop()
        out = out + v * i
    return out + total


def two_pushes(x, n):
    tape_a = []
    a = x
    for i in range(1, n):
        if i % 2 == 0:
            tape_a.append(a)
            a = a * x
        else:
            tape_a.append(a)
            a = a + x
    total = 0.0
    for i in reversed(range(1, n)):
        a = tape_a.pop()
        total = total + a
    return total


def strided(x, n):
    tape_a = []
    a = x
    for i in range(0, n, 3):
        tape_a.append(a)
        a = a * 1.5
    total = 0.0
    for i in reversed(range(0, n, 3)):
        a = tape_a.pop()
        total = total * 2.0 + a
    return total


def nested(x, m):
    tape_y = []
    y = x
    c = 0
    while c < m:
        for j in range(3):
            tape_y.append(y)
            y = y * 0.5
        tape_y.append(y)
        y = y + 1.0
        c = c + 1
    total = 0.0
    for i in range(4 * c):
        y = tape_y.pop()
        total = total * 0.5 + y
    return total


def nest(x, n, m):
    # inner trip counts known at the outer loop's entry: one room for the whole nest
    tape_y = []
    y = x
    for i in range(n):
        for j in range(m):
            tape_y.append(y)
            y = y * 0.5 + j
        tape_y.append(y)
        y = y + 1.0
    total = 0.0
    for i in range(max(n, 0) * (max(m, 0) + 1)):
        y = tape_y.pop()
        total = total * 0.5 + y
    return total


def triangle(x, n):
    # the inner trip count varies with i: it reserves its own room, at its entry
    tape_y = []
    y = x
    for i in range(n):
        for j in range(i, n):
            tape_y.append(y)
            y = y * 0.5 + j
    total = 0.0
    for i in range(n * (n + 1) // 2 if n > 0 else 0):
        y = tape_y.pop()
        total = total * 0.5 + y
    return total


def two_loops(x, a, b):
    # one tape, two loops: the second grows what the first made; range(a, b) with both
    # trip counts negative must not reserve their (positive) product
    tape_y = []
    y = x
    for i in range(a, b):
        for j in range(a, b):
            tape_y.append(y)
            y = y * 0.5 + j
    for i in range(3):
        tape_y.append(y)
        y = y - 1.0
    total = 0.0
    for i in range(3 + max(b - a, 0) ** 2):
        y = tape_y.pop()
        total = total * 0.5 + y
    return total


EXPECTED = {
    # one push of each tape a trip: the tapes made with room for n (n may be negative:
    # no trips) before the loop, unchecked pushes
    int_and_float: """\
@numba.njit(cache=True, error_model="numpy")
def int_and_float(x, xs, n):
    n_tape_k = 0
    n_tape_y = 0
    y = x
    tape_k = np.empty(max(n, 0), np.int64)
    tape_y = np.empty(max(n, 0), np.float64)
    for i in range(n):
        k = i * 2
        tape_k[n_tape_k] = k
        n_tape_k += 1
        tape_y[n_tape_y] = y
        n_tape_y += 1
        y = y * 0.5 + k
    total = 0.0
    for i in range(n - 1, -1, -1):
        n_tape_k -= 1
        k = tape_k[n_tape_k]
        n_tape_y -= 1
        y = tape_y[n_tape_y]
        total = total + xs[k] * y
    return total
""",
    # a while: no room reserved, the push checks and grows the tape
    in_while: """\
@numba.njit(cache=True, error_model="numpy")
def in_while(x):
    tape_y = np.empty(0, np.float64)
    n_tape_y = 0
    y = x
    c = 0
    while y < 10.0:
        if n_tape_y == tape_y.shape[0]:
            tape_y = tape_reserve(tape_y, 2 * n_tape_y + 16)
        tape_y[n_tape_y] = y
        n_tape_y += 1
        y = y * 2.0
        c = c + 1
    total = 0.0
    for i in range(c):
        n_tape_y -= 1
        y = tape_y[n_tape_y]
        total = total * 0.5 + y
    return total
""",
    # a list the loop does not grow: made with room for len(xs); one it grows: checked pushes
    over_lists: """\
@numba.njit(cache=True, error_model="numpy")
def over_lists(xs):
    n_tape_v = 0
    total = 0.0
    tape_v = np.empty(len(xs), np.float64)
    for v in xs:
        tape_v[n_tape_v] = v
        n_tape_v += 1
        total = total + v * v
    ys = [1.0]
    for w in ys:
        if n_tape_v == tape_v.shape[0]:
            tape_v = tape_reserve(tape_v, 2 * n_tape_v + 16)
        tape_v[n_tape_v] = w
        n_tape_v += 1
        if w < 40.0:
            ys.append(w * 2.0)
    out = 0.0
    for i in range(len(xs) + len(ys)):
        n_tape_v -= 1
        v = tape_v[n_tape_v]
        out = out + v * i
    return out + total
""",
    # both branches push: room for two a trip (an upper bound), for n - 1 trips
    two_pushes: """\
@numba.njit(cache=True, error_model="numpy")
def two_pushes(x, n):
    n_tape_a = 0
    a = x
    tape_a = np.empty(max(2 * (n - 1), 0), np.float64)
    for i in range(1, n):
        if i % 2 == 0:
            tape_a[n_tape_a] = a
            n_tape_a += 1
            a = a * x
        else:
            tape_a[n_tape_a] = a
            n_tape_a += 1
            a = a + x
    total = 0.0
    for i in range(n - 1, 1 - 1, -1):
        n_tape_a -= 1
        a = tape_a[n_tape_a]
        total = total + a
    return total
""",
    nested: """\
@numba.njit(cache=True, error_model="numpy")
def nested(x, m):
    tape_y = np.empty(0, np.float64)
    n_tape_y = 0
    y = x
    c = 0
    while c < m:
        if n_tape_y + 3 > tape_y.shape[0]:
            tape_y = tape_reserve(tape_y, n_tape_y + 3)
        for j in range(3):
            tape_y[n_tape_y] = y
            n_tape_y += 1
            y = y * 0.5
        if n_tape_y == tape_y.shape[0]:
            tape_y = tape_reserve(tape_y, 2 * n_tape_y + 16)
        tape_y[n_tape_y] = y
        n_tape_y += 1
        y = y + 1.0
        c = c + 1
    total = 0.0
    for i in range(4 * c):
        n_tape_y -= 1
        y = tape_y[n_tape_y]
        total = total * 0.5 + y
    return total
""",
    # inner trip counts known at the outer loop's entry: the whole nest's room at once
    nest: """\
@numba.njit(cache=True, error_model="numpy")
def nest(x, n, m):
    n_tape_y = 0
    y = x
    tape_y = np.empty(max(n * (1 + max(m, 0)), 0), np.float64)
    for i in range(n):
        for j in range(m):
            tape_y[n_tape_y] = y
            n_tape_y += 1
            y = y * 0.5 + j
        tape_y[n_tape_y] = y
        n_tape_y += 1
        y = y + 1.0
    total = 0.0
    for i in range(max(n, 0) * (max(m, 0) + 1)):
        n_tape_y -= 1
        y = tape_y[n_tape_y]
        total = total * 0.5 + y
    return total
""",
    # a triangular inner loop: its room at its own entry, each outer trip
    triangle: """\
@numba.njit(cache=True, error_model="numpy")
def triangle(x, n):
    tape_y = np.empty(0, np.float64)
    n_tape_y = 0
    y = x
    for i in range(n):
        if n_tape_y + (n - i) > tape_y.shape[0]:
            tape_y = tape_reserve(tape_y, n_tape_y + (n - i))
        for j in range(i, n):
            tape_y[n_tape_y] = y
            n_tape_y += 1
            y = y * 0.5 + j
    total = 0.0
    if n > 0:
        choice_1 = n * (n + 1) // 2
    else:
        choice_1 = 0
    for i in range(choice_1):
        n_tape_y -= 1
        y = tape_y[n_tape_y]
        total = total * 0.5 + y
    return total
""",
    # the tape made for the first nest (never its negative product), grown for the second loop
    two_loops: """\
@numba.njit(cache=True, error_model="numpy")
def two_loops(x, a, b):
    n_tape_y = 0
    y = x
    tape_y = np.empty(max((b - a) * max(b - a, 0), 0), np.float64)
    for i in range(a, b):
        for j in range(a, b):
            tape_y[n_tape_y] = y
            n_tape_y += 1
            y = y * 0.5 + j
    if n_tape_y + 3 > tape_y.shape[0]:
        tape_y = tape_reserve(tape_y, n_tape_y + 3)
    for i in range(3):
        tape_y[n_tape_y] = y
        n_tape_y += 1
        y = y - 1.0
    total = 0.0
    for i in range(3 + max(b - a, 0) ** 2):
        n_tape_y -= 1
        y = tape_y[n_tape_y]
        total = total * 0.5 + y
    return total
""",
}

PARAM_TYPES = {int_and_float: {"x": "float", "n": "int"}, in_while: {"x": "float"}, over_lists: {},
               two_pushes: {"x": "float", "n": "int"}, strided: {"x": "float", "n": "int"},
               nested: {"x": "float", "m": "int"}, nest: {"x": "float", "n": "int", "m": "int"},
               triangle: {"x": "float", "n": "int"}, two_loops: {"x": "float", "a": "int", "b": "int"}}

POINTS = {
    int_and_float: [(1.5, [], 0), (1.5, [2.0], 1), (0.25, [0.1 * j for j in range(13)], 7)],
    in_while: [(20.0,), (0.3,), (1e-5,)],      # 0, 6 and 20 pushes: the tape grows past its first 16
    over_lists: [([],), ([0.5, -1.5, 2.0],)],   # the grown list pushes 7 times
    two_pushes: [(1.1, 1), (1.1, 2), (0.9, 9)],
    strided: [(1.0, 0), (1.0, 1), (0.7, 10)],
    nested: [(2.0, 0), (2.0, 1), (2.0, 5)],     # 20 pushes: checked ones grow the tape
    nest: [(1.5, 0, 3), (1.5, 3, 0), (1.5, -2, -3), (0.7, 4, 5)],
    triangle: [(1.5, 0), (1.5, 1), (0.7, 6)],
    two_loops: [(1.5, 0, 0), (1.5, 5, -5), (1.5, -300000, -400000), (0.7, 2, 6)],
}


@pytest.mark.parametrize("f", list(EXPECTED), ids=lambda f: f.__name__)
def test_typed_tape_text(f):
    assert numba_text(typed(f, param_types=PARAM_TYPES[f])) == EXPECTED[f]


@pytest.mark.parametrize("f", list(POINTS), ids=lambda f: f.__name__)
def test_typed_tapes_give_the_list_version_values(f):
    fn = tape_ir(f)
    lists = run_lists(copy.deepcopy(fn))
    fast = run_typed(typed(f, param_types=PARAM_TYPES[f]))
    for args in POINTS[f]:
        assert fast(*copy.deepcopy(args)) == lists(*copy.deepcopy(args)) == f(*copy.deepcopy(args)), args


def test_a_stride_reserves_the_length_of_the_range():
    fn = typed(strided, param_types=PARAM_TYPES[strided])
    reserve = [s for s in ir.walk_stmts(fn.body) if isinstance(s, ir.TapeReserve)]
    assert [PythonPrinter().expr(s.extra) for s in reserve] == ["len(range(0, n, 3))"]


def test_pushes_are_checked_exactly_where_no_room_was_reserved():
    for f, checked in [(int_and_float, [False, False]), (in_while, [True]), (over_lists, [False, True]),
                       (two_pushes, [False, False]), (nested, [False, True]), (nest, [False, False]),
                       (triangle, [False]), (two_loops, [False, False])]:
        fn = typed(f, param_types=PARAM_TYPES[f])
        assert [s.checked for s in ir.walk_stmts(fn.body) if isinstance(s, ir.TapePush)] == checked, f.__name__


def test_the_input_is_left_as_it_was():
    fn = tape_ir(int_and_float)
    before = PythonPrinter().function(fn)
    tapes.typed_tapes(fn, {}, PARAM_TYPES[int_and_float], Namer({"x", "xs", "n"}))
    assert PythonPrinter().function(fn) == before


# ---------------------------------------------------------------------- element types
def pushes(a, b, n, flag):
    tape_int = []
    tape_bool = []
    tape_mixed = []
    tape_param = []
    k = n + 1
    on = flag and a > b
    tape_int.append(k)
    tape_bool.append(on)
    tape_mixed.append(k)
    tape_mixed.append(a)
    tape_param.append(n)
    return a


def test_element_types():
    fn = typed(pushes, param_types={"a": "float", "b": "float", "n": "int", "flag": "bool"})
    assert dtypes(fn) == {"tape_int": "int64", "tape_bool": "bool_", "tape_mixed": "float64",
                          "tape_param": "int64"}


def test_unknown_types_are_floats():
    # without the arguments' types nothing is shown to be an int: every tape is float64
    # (an int restored as a float may be refused, a value is never truncated)
    assert set(dtypes(typed(pushes)).values()) == {"float64"}


def arrays_and_items(h, xs, n):
    tape_h = []
    tape_e = []
    for i in range(n):
        tape_h.append(h)
        tape_e.append(xs[i])
        h = h * 2.0
    total = 0.0
    for i in reversed(range(n)):
        h = tape_h.pop()
        e = tape_e.pop()
        total = total + e
    return total


def test_a_tape_of_arrays_stays_a_list():
    fn = typed(arrays_and_items, var_kinds={"h": array(1), "xs": list_of(SCALAR), "e": SCALAR},
               param_types={"n": "int"})
    assert dtypes(fn) == {"tape_e": "float64"}   # list items: a number tape
    stmts = list(ir.walk_stmts(fn.body))
    assert any(isinstance(s, ir.Append) and s.target.id == "tape_h" for s in stmts)
    assert any(isinstance(s, ir.Pop) and s.target.id == "tape_h" for s in stmts)
    assert not any(isinstance(s, (ir.Append, ir.Pop)) and s.target.id == "tape_e" for s in stmts)
    g = run_typed(fn)
    assert g(np.ones(2), [1.0, 2.5, 4.0], 3) == 7.5


def test_an_array_bound_on_some_paths_starts_as_an_empty_array():
    # reverse.py's `v = 0.0` before an if that binds v on one path only: numba gives a
    # variable one type, so an array's first value is an empty array of its rank
    fn = ir.Function("f", ["x"], {}, [ir.Assign([ir.Name("v")], [ir.Const(0.0)], role="placeholder"),
                                      ir.Assign([ir.Name("w")], [ir.Const(0.0)], role="placeholder"),
                                      ir.Return(ir.Name("x"))])
    out = tapes.typed_tapes(fn, {"v": array(2), "w": SCALAR}, {}, Namer({"x", "v", "w"}))
    assert PythonPrinter().function(out).splitlines()[1:3] == ["    v = np.zeros((0, 0))", "    w = 0.0"]


def test_a_placeholder_takes_the_type_of_the_values_assigned_later():
    # `pos = 0.0` before a loop that saves pos before binding it: pos is an int (from
    # x.shape[1] and pos + 1), so the placeholder is 0 and does not make pos a float
    loop = ir.ForRange(ir.Name("i"), [ir.Name("n")], [
        ir.Assign([ir.Name("pos")], [ir.Subscript(ir.Attr(ir.Name("x"), "shape"), ir.Const(1))]),
        ir.Assign([ir.Name("pos")], [ir.BinOp("+", ir.Name("pos"), ir.Const(1))])])
    fn = ir.Function("f", ["x", "n"], {}, [ir.Assign([ir.Name("pos")], [ir.Const(0.0)], role="placeholder"),
                                           loop, ir.Return(ir.Name("x"))])
    assert tapes.scalar_types(fn, {"n": "int"})["pos"] == "int"
    out = tapes.typed_tapes(fn, {"x": array(2), "pos": SCALAR, "n": SCALAR, "i": SCALAR}, {"n": "int"},
                            Namer({"x", "n", "pos", "i"}))
    assert PythonPrinter().function(out).splitlines()[1] == "    pos = 0"


def number_types(x, n, flag, xs):
    i2 = n // 2
    h = n / 2
    b = x > 0.0
    c = b + 1
    m = max(n, 2)
    r = round(x)
    r2 = round(x, 2)
    p = 2 ** n
    q = abs(n)
    ln = len(xs)
    f = flag and b
    g = flag | b
    acc = 0
    for j in range(n):
        acc = acc + j
    mix = 0
    mix = mix + 0.5
    for v in xs:
        last = v
    fl = math.floor(x)
    return x


def test_scalar_types():
    fn, _ = load_program(number_types)
    got = tapes.scalar_types(fn, {"x": "float", "n": "int", "flag": "bool"})
    expected = {"x": "float", "n": "int", "flag": "bool",
                "i2": "int", "h": "float", "b": "bool", "c": "int", "m": "int", "r": "int", "r2": "float",
                "p": "float",     # 2 ** -1 is 0.5
                "q": "int", "ln": "int", "f": "bool", "g": "bool", "acc": "int", "j": "int",
                "mix": "float",   # an int only if every value it gets is one
                "v": "float", "last": "float", "fl": "int"}
    assert got == expected
