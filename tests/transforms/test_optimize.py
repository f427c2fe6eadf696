"""transforms.optimize on its own: constant folding, constant propagation, merging first
writes, dead code, tidying; and that optimize is a fixpoint.

The functions to optimize are written as Python below and lowered with the frontend
(load_program, without controlflow, so they keep their `return`); `adjoint_ir` then
gives them the roles the differentiator would (d_* adjoint, tape_* = [] save, each
tape's push and pop one pair).  Each expected text is derived by hand from the rules in
optimize.py's docstring, and each optimized function is executed against the original.
"""
# ruff: noqa: F841 - the functions below are inputs to a pass: their variables are what it reads

import copy
import math
import types
import zlib

import numpy as np
import pytest

import s2sgrad
from s2sgrad import ir
from s2sgrad.backends.python import PythonPrinter, expr_source
from s2sgrad.frontend import controlflow, load_program
from s2sgrad.transforms import optimize
from s2sgrad.transforms.naming import Namer

import corpus  # noqa: E402  (tests/corpus.py: tests/ is on sys.path, see tests/conftest.py)
import numpy_ops  # noqa: E402


def adjoint_ir(f, exact=()) -> ir.Function:
    fn, _ = load_program(f)
    tapes = sorted({s.target.id for s in ir.walk_stmts(fn.body) if isinstance(s, (ir.Append, ir.Pop))})
    for s in ir.walk_stmts(fn.body):
        if isinstance(s, ir.Assign):
            name = ir.target_name(s.targets[0])
            if name.startswith("d_"):
                s.role = "adjoint"
                s.exact = name in exact
            elif name.startswith("tape_") and isinstance(s.values[0], ir.ListExpr):
                s.role = "save"
        if isinstance(s, (ir.Append, ir.Pop)):
            s.pair = tapes.index(s.target.id)
    return fn


def text(fn) -> str:
    return PythonPrinter().function(fn)


def python_function(fn, namespace=None):
    namespace = dict(namespace or {}, math=math, np=np)
    for s in ir.walk_stmts(fn.body):
        for e in ir.stmt_exprs(s):
            for sub in ir.subexprs(e):
                if isinstance(sub, ir.Global):
                    namespace[sub.name] = sub.value
                elif isinstance(sub, ir.Foreign):
                    namespace[sub.name] = sub.obj
    exec(text(fn), namespace)
    return namespace[fn.name]


def optimized(f, **kw):
    fn = adjoint_ir(f, **kw)
    before = python_function(copy.deepcopy(fn))
    return optimize.optimize(fn), before


# ---------------------------------------------------------------------- folding by hand
X, I = ir.Name("x"), ir.Name("i")


def num(v):
    return ir.Const(v)


@pytest.mark.parametrize("e, floats, expected", [
    (ir.BinOp("*", num(1.0), X), {"x"}, "x"),
    (ir.BinOp("*", X, num(1)), set(), "x"),
    (ir.BinOp("*", num(1.0), I), set(), "float(i)"),   # 1.0 * i is a float even for an int i
    (ir.BinOp("+", num(2), num(3)), set(), "5"),
    (ir.BinOp("-", num(2.5), num(0.5)), set(), "2.0"),
    (ir.BinOp("*", num(0.0), X), set(), "0.0 * x"),   # x may be an array: zeros of its shape
    (ir.BinOp("*", num(0.0), ir.BinOp("+", num(2.0), num(1.5))), set(), "0.0"),
    (ir.BinOp("*", X, num(-1.0)), set(), "-x"),
    (ir.BinOp("+", num(0.0), X), set(), "x"),
    (ir.BinOp("-", X, num(0)), set(), "x"),
    (ir.BinOp("-", num(0.0), X), set(), "-x"),
    (ir.BinOp("/", X, num(1.0)), set(), "x"),
    (ir.UnaryOp("-", ir.UnaryOp("-", X)), set(), "x"),
    (ir.UnaryOp("-", num(2.0)), set(), "-2.0"),
    (ir.BinOp("*", ir.UnaryOp("-", X), I), set(), "-(x * i)"),
    (ir.BinOp("*", num(1.0), ir.BinOp("+", X, num(0.0))), {"x"}, "x"),   # inner first
    (ir.BinOp("/", X, num(2.0)), set(), "x / 2.0"),                        # nothing to fold
    (ir.BinOp("**", num(2.0), num(3.0)), set(), "2.0 ** 3.0"),             # only + - * fold
])
def test_fold(e, floats, expected):
    assert expr_source(optimize.fold(e, floats)) == expected


@pytest.mark.parametrize("e, floats, expected", [
    (num(1.0), set(), True), (num(1), set(), False), (X, {"x"}, True), (X, set(), False),
    (ir.BinOp("/", I, I), set(), True), (ir.BinOp("+", I, num(0.5)), set(), True),
    (ir.BinOp("*", I, I), set(), False), (ir.Call(ir.Lib("math", "sin"), [I]), set(), True),
    (ir.Call(ir.Lib("math", "floor"), [X]), {"x"}, False), (ir.Call(ir.Lib("builtins", "len"), [X]), set(), False),
    (ir.Subscript(X, I), {"x"}, True), (ir.UnaryOp("not", X), {"x"}, False),
])
def test_surely_float(e, floats, expected):
    assert optimize.surely_float(e, floats) is expected


# ---------------------------------------------------------------------- whole functions
def vg(x):
    y = x * 1.0               # a user statement: left as written
    d_y = 1.0                 # a constant seed: propagated into its uses, then dead
    d_x = 0.0                 # a first write ...
    d_x += d_y * (x * 2.0)    # ... merged with its first update
    unused = x * 3.0          # read by nobody
    return y, d_x


def as_float(i):
    k = i * 2
    d_k = 0.0
    d_k += k                  # d_k = k would make the gradient an int
    return d_k


def zeros_first(a, g):
    d_a = np.zeros_like(a)
    d_a += g                  # may broadcast: kept unless exact
    d_b = np.zeros_like(a)
    d_b += 1.0
    d_c = np.zeros_like(a)
    d_c += 2.5
    return d_a, d_b, d_c


def times_zero(p, e):
    d_x = 0.0
    d_x *= p                  # 0 * p is 0: dropped, then the first write merges
    d_x += e * 1.5
    return d_x


def read_between(x):
    d_x = 0.0
    t = d_x + x               # a user statement reads d_x: no merge, no propagation
    d_x += x * 2.0
    return d_x + t


def tapes(x, n):
    tape_y = []
    tape_z = []
    y = 1.0
    z = 1.0
    for i in range(n):
        tape_y.append(y)
        tape_z.append(z)
        y = y * x
        z = z + x
    d_x = 0.0
    d_y = 1.0
    for i in reversed(range(n)):
        y = tape_y.pop()
        z = tape_z.pop()      # nobody reads z after this pop: the pop, its push and z go
        d_x += d_y * y
        d_y *= x
    return d_x


def loop_carried(n):
    a = 0.0
    b = 0.0
    for i in range(n):
        b = a * 2.0           # read after the loop
        a = a + 1.0           # read only by the next iteration: live around the back edge
    return b


def dead_blocks(x, n):
    if x > 0.0:
        u = x * 2.0           # nobody reads u: the branch empties and the if goes
    for i in range(n):
        v = i * x             # nobody reads v: the loop goes
    k = 0
    while k < n:              # a while loop stays (its condition decides termination)
        k = k + 1
    return x


def effects(x):
    r = sorted([x, 1.0])      # a foreign call: kept though r is not read
    assert x > -100.0
    return x


def tidy(x):
    d_x = 0.0
    if x > 0.0:
        pass
    else:
        d_x += x              # if c: pass else: s  ->  if not c: s
    return d_x


def reset_each_trip(x, n):
    d_y = 0.0
    d_a = 0.0
    for i in range(n):
        d_a += x * i * 0.5    # zero at every trip's start: d_a = x * i * 0.5
        d_y += d_a * 2.0
        d_a = 0.0
    return d_y + d_a          # read after the loop: the resets stay


def reset_dead_after(x, n):
    d_y = 0.0
    d_a = 0.0
    for i in range(n):
        d_a -= x * i * 0.5
        d_y += d_a * d_a
        d_a = 0.0             # nobody reads d_a after the loop: the resets go
    return d_y


def not_zero_on_entry(x, n):
    d_y = 0.0
    d_a = 1.0
    for i in range(n):
        d_a += x * i          # 1.0 on the first trip: kept
        d_y += d_a * 2.0
        d_a = 0.0
    return d_y


def reset_on_one_branch(x, n):
    d_y = 0.0
    d_a = 0.0
    for i in range(n):
        d_a += x * i          # not zero after a trip with i <= 1: kept
        d_y += d_a * 2.0
        if i > 1:
            d_a = 0.0
    return d_y


def left_early(x, n):
    d_y = 0.0
    d_a = 0.0
    for i in range(n):
        d_a += x * i          # a trip that breaks skips the reset: kept
        d_y += d_a * 2.0
        if d_y > 10.0:
            break
        d_a = 0.0
    return d_y + d_a


def reuse_cos(t, g):
    c = math.cos(t)
    d_t = 0.0
    d_t -= g * math.cos(t)    # c holds it: d_t = -(g * c)
    return d_t + c


def reuse_killed(t, g):
    c = math.cos(t)
    t = t * 2.0               # t changed: cos(t) is another number now
    d_t = 0.0
    d_t += g * math.cos(t)
    c2 = math.sin(t)
    c2 = c2 + 1.0             # c2 changed: it no longer holds sin(t)
    d_t += g * math.sin(t)
    return d_t + c + c2


def reuse_across_same_test(r, g):
    s = r * r
    c = 0.0
    if s != 0.0:
        c = math.cos(s)
    d_s = 0.0
    if s != 0.0:
        d_s -= g * math.sin(s)    # not computed above: kept
        d_s += g * math.cos(s)    # the earlier if with the same test computed it: c
    if r > 0.5:
        d_s += g * math.cos(s)    # another test: kept
    return d_s + c


def reuse_test_changed(r, g):
    s = r * r
    c = 0.0
    if s != 0.0:
        c = math.cos(s)
    s = s - 1.0               # the test reads s: the second if may differ, and cos(s) too
    d_s = 0.0
    if s != 0.0:
        d_s += g * math.cos(s)
    return d_s + c


def reuse_loop_carried(t, g, n):
    c = math.cos(t)
    d_t = 0.0
    for i in range(n):
        d_t += g * math.cos(t)    # the loop changes t: kept
        t = t + 0.5
    return d_t + c


EXPECTED = {
    reuse_cos: ("""\
def reuse_cos(t, g):
    c = math.cos(t)
    d_t = -(g * c)
    return d_t + c
""", [(0.3, 1.5), (-2.0, 0.5)]),
    reuse_killed: ("""\
def reuse_killed(t, g):
    c = math.cos(t)
    t = t * 2.0
    d_t = g * math.cos(t)
    c2 = math.sin(t)
    c2 = c2 + 1.0
    d_t += g * math.sin(t)
    return d_t + c + c2
""", [(0.3, 1.5)]),
    reuse_across_same_test: ("""\
def reuse_across_same_test(r, g):
    s = r * r
    c = 0.0
    if s != 0.0:
        c = math.cos(s)
    d_s = 0.0
    if s != 0.0:
        d_s -= g * math.sin(s)
        d_s += g * c
    if r > 0.5:
        d_s += g * math.cos(s)
    return d_s + c
""", [(0.7, 1.5), (0.0, 2.0), (0.3, -1.0)]),
    reuse_test_changed: ("""\
def reuse_test_changed(r, g):
    s = r * r
    c = 0.0
    if s != 0.0:
        c = math.cos(s)
    s = s - 1.0
    d_s = 0.0
    if s != 0.0:
        d_s += g * math.cos(s)
    return d_s + c
""", [(0.7, 1.5), (1.0, 2.0)]),
    reuse_loop_carried: ("""\
def reuse_loop_carried(t, g, n):
    c = math.cos(t)
    d_t = 0.0
    for i in range(n):
        d_t += g * math.cos(t)
        t = t + 0.5
    return d_t + c
""", [(0.3, 1.5, 3), (0.3, 1.5, 0)]),
    reset_each_trip: ("""\
def reset_each_trip(x, n):
    d_y = 0.0
    d_a = 0.0
    for i in range(n):
        d_a = x * i * 0.5
        d_y += d_a * 2.0
        d_a = 0.0
    return d_y + d_a
""", [(1.5, 4), (0.5, 0), (-2.0, 1)]),
    reset_dead_after: ("""\
def reset_dead_after(x, n):
    d_y = 0.0
    for i in range(n):
        d_a = -(x * i * 0.5)
        d_y += d_a * d_a
    return d_y
""", [(1.5, 4), (0.5, 0)]),
    not_zero_on_entry: ("""\
def not_zero_on_entry(x, n):
    d_y = 0.0
    d_a = 1.0
    for i in range(n):
        d_a += x * i
        d_y += d_a * 2.0
        d_a = 0.0
    return d_y
""", [(1.5, 4), (0.5, 0)]),
    reset_on_one_branch: ("""\
def reset_on_one_branch(x, n):
    d_y = 0.0
    d_a = 0.0
    for i in range(n):
        d_a += x * i
        d_y += d_a * 2.0
        if i > 1:
            d_a = 0.0
    return d_y
""", [(1.5, 5), (0.5, 0)]),
    left_early: ("""\
def left_early(x, n):
    d_y = 0.0
    d_a = 0.0
    for i in range(n):
        d_a += x * i
        d_y += d_a * 2.0
        if d_y > 10.0:
            break
        d_a = 0.0
    return d_y + d_a
""", [(1.5, 6), (0.5, 0), (3.0, 3)]),
    vg: ("""\
def vg(x):
    y = x * 1.0
    d_x = x * 2.0
    return (y, d_x)
""", [(1.5,), (-2.0,)]),
    as_float: ("""\
def as_float(i):
    k = i * 2
    d_k = float(k)
    return d_k
""", [(3,), (0,)]),
    zeros_first: ("""\
def zeros_first(a, g):
    d_a = np.zeros_like(a)
    d_a += g
    d_b = np.ones_like(a)
    d_c = np.full_like(a, 2.5)
    return (d_a, d_b, d_c)
""", [(np.ones((2, 3)), np.arange(3.0))]),
    times_zero: ("""\
def times_zero(p, e):
    d_x = e * 1.5
    return d_x
""", [(2.0, 3.0)]),
    read_between: ("""\
def read_between(x):
    d_x = 0.0
    t = d_x + x
    d_x += x * 2.0
    return d_x + t
""", [(1.25,)]),
    tapes: ("""\
def tapes(x, n):
    tape_y = []
    y = 1.0
    for i in range(n):
        tape_y.append(y)
        y = y * x
    d_x = 0.0
    d_y = 1.0
    for i in reversed(range(n)):
        y = tape_y.pop()
        d_x += d_y * y
        d_y *= x
    return d_x
""", [(1.5, 3), (0.5, 0), (-2.0, 5)]),
    loop_carried: ("""\
def loop_carried(n):
    a = 0.0
    b = 0.0
    for i in range(n):
        b = a * 2.0
        a = a + 1.0
    return b
""", [(0,), (3,)]),
    dead_blocks: ("""\
def dead_blocks(x, n):
    k = 0
    while k < n:
        k = k + 1
    return x
""", [(1.0, 3), (-1.0, 0)]),
    effects: ("""\
def effects(x):
    r = sorted([x, 1.0])
    assert x > -100.0
    return x
""", [(2.0,)]),
    tidy: ("""\
def tidy(x):
    d_x = 0.0
    if not x > 0.0:
        d_x += x
    return d_x
""", [(1.0,), (-1.0,)]),
}


@pytest.mark.parametrize("f", list(EXPECTED), ids=lambda f: f.__name__)
def test_optimized_text(f):
    fn, _ = optimized(f)
    assert text(fn) == EXPECTED[f][0]


@pytest.mark.parametrize("f", list(EXPECTED), ids=lambda f: f.__name__)
def test_optimized_function_computes_the_same_values(f):
    fn, before = optimized(f)
    after = python_function(fn)
    for args in EXPECTED[f][1]:
        expected, got = before(*copy.deepcopy(args)), after(*copy.deepcopy(args))
        np.testing.assert_array_equal(got, expected)
        assert type(got) is type(expected)


def test_the_tape_gradient_is_right():
    # the optimized tapes() is the reverse sweep of x ** n: n x ** (n - 1)
    after = python_function(optimized(tapes)[0])
    assert after(1.5, 3) == 3 * 1.5 ** 2 and after(-2.0, 5) == 5 * (-2.0) ** 4


def test_an_exact_update_merges_onto_zeros_like():
    fn, before = optimized(zeros_first, exact={"d_a"})
    assert text(fn).splitlines()[1] == "    d_a = g"
    a, g = np.ones((2, 3)), np.arange(6.0).reshape(2, 3)
    for got, expected in zip(python_function(fn)(a, g), before(a, g)):
        np.testing.assert_array_equal(got, expected)


def test_float_names_keep_a_merged_first_write_as_it_is():
    fn = adjoint_ir(as_float)
    fn.float_names = {"k"}
    assert text(optimize.optimize(fn)).splitlines()[2] == "    d_k = k"


def test_comments():
    # "reverse sweep" first goes; a header repeated for one source line is kept once; a
    # header whose statement's adjoint was optimized away goes
    def adj(name, value, aug=None):
        return ir.Assign([ir.Name(name)], [value], aug=aug, role="adjoint")
    x = ir.Name("x")
    body = [ir.Comment("reverse sweep"),
            adj("d_x", num(0.0)),
            ir.Comment("grad of: return x * x"),
            adj("d_x", ir.BinOp("*", num(2.0), x), aug="+"),
            ir.Comment("grad of: return x * x"),
            adj("d_x", num(0.0), aug="+"),
            ir.Comment("grad of: y = x + 1.0"),
            adj("d_y", num(0.0)),
            ir.Return(ir.Name("d_x"))]
    fn = optimize.optimize(ir.Function("grad_f", ["x"], {}, body))
    assert text(fn) == """\
def grad_f(x):
    # grad of: return x * x
    d_x = 2.0 * x
    return d_x
"""


# ---------------------------------------------------------------------- fixpoint
def optimize_is_a_fixpoint(fn):
    once = optimize.optimize(copy.deepcopy(fn))
    twice = optimize.optimize(copy.deepcopy(once))
    assert text(twice) == text(once)
    return once


@pytest.mark.parametrize("f", list(EXPECTED), ids=lambda f: f.__name__)
def test_fixpoint_on_the_functions_above(f):
    optimize_is_a_fixpoint(adjoint_ir(f))


USER_CASES = corpus.CORPUS + numpy_ops.CASES


@pytest.mark.parametrize("c", USER_CASES, ids=[c.name for c in USER_CASES])
def test_user_code_optimized_computes_the_same_values(c):
    # a lowered user function (control flow made explicit, then `return result`), as
    # assemble.py copies it into generated modules: optimize leaves user statements as
    # written and drops only what nobody reads (the unused flags), so values are equal
    fn, _ = load_program(c.func)
    namer = Namer({fn.name, *fn.params, *ir.assigned_names(fn.body)})
    fn = controlflow.lower_jumps(fn, namer.fresh)
    fn.body.append(ir.Return(ir.Name(fn.result)))
    once = optimize_is_a_fixpoint(fn)
    g = python_function(once, c.func.__globals__)
    rng = np.random.default_rng(zlib.crc32(c.name.encode()))
    for _ in range(2):
        args = c.sample(rng)
        np.testing.assert_array_equal(g(*copy.deepcopy(args)), c.func(*copy.deepcopy(args)))


# derivatives generated through the public API: the IR optimize received is recorded
def poly_loop(x, n):
    y = 1.0
    for i in range(n):
        y = y * x + 1.0
    return y


def branchy(x, y):
    if x > y:
        z = x * y
    else:
        z = math.sin(x) - y
    return z * z


def with_arrays(w, x):
    h = np.tanh(w @ x)
    return np.sum(h * h)


def with_list(x, n):
    xs = []
    for i in range(n):
        xs.append(x * i)
    s = 0.0
    for v in xs:
        if v > 1.0:
            continue
        s = s + v * v
    return s


@pytest.mark.parametrize("make", [s2sgrad.grad, s2sgrad.value_and_grad, s2sgrad.jvp, s2sgrad.vjp],
                         ids=lambda m: m.__name__)
@pytest.mark.parametrize("f", [poly_loop, branchy, with_arrays, with_list], ids=lambda f: f.__name__)
def test_fixpoint_on_generated_derivatives(monkeypatch, make, f):
    received = []
    real = optimize.optimize

    def recording(fn):
        received.append(copy.deepcopy(fn))
        return real(fn)

    monkeypatch.setattr(optimize, "optimize", recording)
    fresh = types.FunctionType(f.__code__, f.__globals__, f.__name__)  # not in s2sgrad's cache
    make(fresh)
    monkeypatch.undo()
    assert received, "optimize was not called: the recording misses the pipeline"
    for fn in received:
        optimize_is_a_fixpoint(fn)


# ------------------------------------------------------------------------------ linear time
def _straight_line(tmp_path, n, name):
    from benchmarks.codegen import load, straight_line_source
    return load(straight_line_source(n), str(tmp_path), name).f


def test_optimizer_work_grows_linearly_with_the_function(tmp_path, monkeypatch):
    """The passes that look for a name's next use read each statement a bounded number of
    times: twice the statements, about twice the reads (a rescan from every adjoint
    initialisation made it four times)."""
    calls = []
    real = optimize._reads_deep
    monkeypatch.setattr(optimize, "_reads_deep", lambda s: (calls.append(1), real(s))[1])
    counts = []
    for n in (120, 240):
        calls.clear()
        s2sgrad.grad(_straight_line(tmp_path, n, f"straight_{n}"), wrt=(0, 1))
        counts.append(len(calls))
    assert 1.6 < counts[1] / counts[0] < 2.4, counts


def test_statements_of_one_shape_share_their_partials(tmp_path):
    """sympy differentiates each shape of statement once, whatever its variables are called:
    the 5 shapes of the straight-line code, `v0 = x` (and `v1 = y`), and the return's sum,
    for 60 statements; the gradient is still right."""
    from s2sgrad.rules import partials
    partials._partials.cache_clear()
    f = _straight_line(tmp_path, 60, "straight_shapes")
    g = s2sgrad.grad(f, wrt=(0, 1))
    assert partials._partials.cache_info().currsize == 7
    x, y = 0.3, -0.2
    step = 1e-6
    fd = ((f(x + step, y) - f(x - step, y)) / (2 * step), (f(x, y + step) - f(x, y - step)) / (2 * step))
    assert np.allclose(g(x, y), fd, rtol=1e-5, atol=1e-8)
