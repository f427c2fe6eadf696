"""The numba target's own passes, each gradient checked element by element against
central differences of the function itself:

- lent arrays (transforms/lending.py): a helper's vjp adds into its caller's adjoints and
  makes its tapes in rooms the caller lends; on helpers called in loops, with the same
  array twice, with arguments that grow (the room grows), from another helper, and
  where an array cotangent keeps an adjoint returned;
- loop elements in locals (transforms/loop_locals.py): on loops that do not run where
  the index is out of bounds, elements written beside under another index, elements a
  tape puts back in the loop, int and float32 elements (which round at each addition),
  and reads in a branch not taken or behind `and`."""
import math
import os
import subprocess
import sys

import numpy as np
import pytest

import s2sgrad


def lse(v):
    m = v[0]
    for c in range(1, v.shape[0]):
        if v[c] > m:
            m = v[c]
    s = 0.0
    for c in range(v.shape[0]):
        s += math.exp(v[c] - m)
    return m + math.log(s)


def rows_lse(x):
    """lse of each row, through one work array rewritten a row at a time."""
    work = np.zeros(x.shape[1])
    total = 0.0
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            work[j] = x[i, j] * x[i, j]
        total += lse(work) * (i + 1.0)
    return total


def pair(a, b):
    s = 0.0
    for c in range(a.shape[0]):
        s += a[c] * b[c] + math.sin(a[c])
    return s


def same_array_twice(x):
    total = 0.0
    for i in range(3):
        total += pair(x, x) * (i + 1.0)
    return total


def prefixes(x):
    """lse of x[:1], x[:2], ...: every call needs more tape than the last."""
    total = 0.0
    for i in range(1, x.shape[0] + 1):
        total += lse(x[:i]) * i
    return total


def growing_work(x):
    total = 0.0
    for i in range(1, x.shape[0] + 1):
        work = np.zeros(i)
        for j in range(i):
            work[j] = x[j] * (i - j)
        total += lse(work)
    return total


def lse_while(v):
    m = v[0]
    c = 1
    while c < v.shape[0]:
        if v[c] > m:
            m = v[c]
        c += 1
    return m + math.log(np.sum(np.exp(v - m)))


def via_while(x):
    total = 0.0
    for i in range(x.shape[0]):
        total += lse_while(x[i]) + lse_while(x[i] * 2.0)
    return total


def outer(v):
    s = 0.0
    for c in range(2):
        s += lse(v) * (c + 1.0)
    return s


def nested(x):
    work = np.zeros(x.shape[1])
    total = 0.0
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            work[j] = math.sin(x[i, j])
        total += outer(work)
    return total


def scaled(v):
    return v * 2.0


def array_result(x):
    """A vjp whose cotangent is an array: its adjoint is not lent (it could share memory)."""
    acc = np.zeros(x.shape[1])
    for i in range(x.shape[0]):
        row = np.zeros(x.shape[1])
        for j in range(x.shape[1]):
            row[j] = x[i, j]
        acc = acc + scaled(row) * row
    return np.sum(acc * acc)


def fd_gradient(f, x, eps=1e-6):
    g = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        up, down = x.copy(), x.copy()
        up[idx] += eps
        down[idx] -= eps
        g[idx] = (f(up) - f(down)) / (2 * eps)
    return g


CASES = [(rows_lse, (4, 3)), (same_array_twice, (5,)), (prefixes, (6,)), (growing_work, (5,)),
         (via_while, (3, 4)), (nested, (3, 4)), (array_result, (3, 2))]


@pytest.mark.parametrize("f, shape", CASES, ids=[c[0].__name__ for c in CASES])
def test_lent_gradients_equal_finite_differences(f, shape):
    rng = np.random.default_rng(3)
    g = s2sgrad.grad(f, backend="numba")
    for _ in range(2):  # the second call starts from the rooms' arrays as the first left them
        x = rng.normal(size=shape)
        want = fd_gradient(f, x)
        np.testing.assert_allclose(g(x), want, rtol=1e-6, atol=1e-7)


def test_the_vjp_adds_into_the_callers_adjoint_and_takes_its_tape_room():
    g = s2sgrad.grad(rows_lse, backend="numba")
    g(np.ones((2, 3)))
    source = g.source
    assert ("tape_branch_room, tape_exp_room = vjp_lse(work, d_lse_1, d_work, tape_branch_room, "
            "tape_exp_room)") in source  # the exps kept for the reverse sweep (kept_values.py) too
    assert "def vjp_lse(v, d_result_1, d_v, tape_branch_room, tape_exp_room):" in source
    assert "d_v = np.zeros_like(v)" not in source and "d_work += " not in source
    python = s2sgrad.grad(rows_lse).source
    assert "_room" not in python  # the python target's tapes are lists: nothing lent


def test_an_array_cotangent_keeps_its_adjoint_returned():
    g = s2sgrad.grad(array_result, backend="numba")
    g(np.ones((2, 2)))
    assert "d_v = np.zeros_like(v)" in g.source


def triangle(x):
    """out[i] summed over j >= i: the inner loop does not run for i == n, where out[i]
    is the last slot and x[i] would be out of bounds."""
    n = x.shape[0]
    out = np.zeros(n + 1)
    for i in range(n + 1):
        for j in range(i, n):
            out[i] += x[j] * x[i]
    s = 0.0
    for i in range(n + 1):
        s += out[i] * out[i]
    return s


def read_in_branch(x):
    """x[k] is out of bounds, and read only in a branch never taken."""
    n = x.shape[0]
    k = n
    s = 0.0
    for i in range(n):
        if k < n:
            s += x[k] * x[i]
        s += x[i] * x[i] * x[0]
    return s


def same_slot_two_ways(x):
    """acc[0] is added into under the index 0 and under i (which is 0 on the first trip)."""
    acc = np.zeros(3)
    for r in range(2):
        for i in range(3):
            acc[0] += x[i] * x[r]
            acc[i] += x[i] * 2.0
    return np.sum(acc * acc)


def restored_in_loop(x):
    """The reverse loop puts y[0] and y[1] back from the tape on every trip: reads of
    them there are not the same each trip."""
    y = np.zeros(2)
    for i in range(x.shape[0]):
        y[0] = np.sin(y[0] + x[i])
        y[1] = y[1] * y[0] + x[i]
    return y[0] * y[1]


def int_slot(x):
    """a[1] is an int: each addition rounds (0 + 0.75 is 0), which a float local would not."""
    a = np.zeros(2, np.int64)
    for i in range(x.shape[0]):
        a[1] += 0.75
    return np.sum(x * x) * (a[1] + 1.0)


def float32_slot(x):
    a = np.zeros(2, np.float32)
    for i in range(x.shape[0]):
        a[1] += 0.1
    return np.sum(x * x) * a[1]


def read_after_and(x):
    """x[k] is out of bounds, and `and` never evaluates it."""
    n = x.shape[0]
    k = n
    s = 0.0
    for i in range(n):
        if k < n and x[k] > 0.0:
            s += x[i]
        s += x[i] * x[i]
    return s


LOCALS = [(triangle, (4,)), (read_in_branch, (3,)), (same_slot_two_ways, (3,)), (restored_in_loop, (5,)),
          (int_slot, (4,)), (float32_slot, (4,)), (read_after_and, (3,))]


@pytest.mark.parametrize("f, shape", LOCALS, ids=[c[0].__name__ for c in LOCALS])
def test_loop_locals_gradients_equal_finite_differences(f, shape):
    rng = np.random.default_rng(5)
    g = s2sgrad.grad(f, backend="numba")
    for _ in range(2):
        x = rng.normal(size=shape)
        np.testing.assert_allclose(g(x), fd_gradient(f, x), rtol=1e-6, atol=1e-7)


def test_sums_and_reads_move_out_of_the_loop_only_where_that_is_the_same():
    g = s2sgrad.grad(triangle, backend="numba")
    g(np.ones(3))
    source = g.source
    # the forward loop: out[i] summed in a local, x[i] read once, both only where it runs
    assert "        if i < n:\n            out_i = out[i]\n            x_i = x[i]\n" in source
    assert "out_i += x[j] * x_i" in source and "out[i] = out_i" in source
    # the reverse loop adds into d_x[i] and d_x[j] (the same slot where j == i): kept
    assert "d_x[i] += d_out_i * x[j]" in source
    g = s2sgrad.grad(read_in_branch, backend="numba")
    g(np.ones(3))
    assert "x_k" not in g.source and "d_x[k] += d_s * x[i]" in g.source
    for f in (int_slot, float32_slot):  # their element sums stay in the arrays
        g = s2sgrad.value_and_grad(f, backend="numba")
        x = np.arange(1.0, 5.0)
        value, _ = g(x)
        assert value == f(x) and "a_1" not in g.source


def test_an_element_is_read_only_where_the_loop_runs(tmp_path):
    """With numba's bounds checks on, an element read before a loop that does not run
    (x[n] in triangle, where the inner loop is empty) raises IndexError."""
    script = ("import sys, numpy as np, s2sgrad\n"
              f"sys.path.insert(0, {os.path.dirname(__file__)!r})\n"
              "from test_numba_passes import triangle, read_in_branch, read_after_and\n"
              "for f in (triangle, read_in_branch, read_after_and):\n"
              "    print(list(s2sgrad.grad(f, backend='numba')(np.arange(1.0, 4.0))))\n")
    env = dict(os.environ, NUMBA_BOUNDSCHECK="1", S2SGRAD_CACHE_DIR=str(tmp_path))
    run = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    lines = run.stdout.split("\n")
    x = np.arange(1.0, 4.0)
    np.testing.assert_allclose(eval(lines[0]), fd_gradient(triangle, x), rtol=1e-6)
    np.testing.assert_allclose(eval(lines[1]), fd_gradient(read_in_branch, x), rtol=1e-6)
    np.testing.assert_allclose(eval(lines[2]), fd_gradient(read_after_and, x), rtol=1e-6)


def weighted_pairs(x, w):
    total = 0.0
    for i in range(x.shape[0]):
        total += pair(x, w) * x[i]
    return total


@pytest.mark.parametrize("f, shape", CASES + LOCALS, ids=[c[0].__name__ for c in CASES + LOCALS])
def test_forward_mode_on_numba_equals_finite_differences(f, shape):
    """The passes run on every function of a numba module: tangents too."""
    rng = np.random.default_rng(7)
    x, v = rng.normal(size=shape), rng.normal(size=shape)
    value, tangent = s2sgrad.jvp(f, backend="numba")(x, v)
    want = np.sum(fd_gradient(f, x) * v)
    assert abs(tangent - want) <= 1e-6 * max(1.0, abs(want))
    assert abs(value - f(x)) <= 1e-12 * max(1.0, abs(f(x)))


@pytest.mark.parametrize("wrt", [0, 1, (0, 1)])
def test_a_helper_with_two_arrays_lends_what_wrt_asks(wrt):
    rng = np.random.default_rng(11)
    x, w = rng.normal(size=4), rng.normal(size=4)
    got = s2sgrad.grad(weighted_pairs, wrt=wrt, backend="numba")(x, w)
    got = got if isinstance(wrt, tuple) else (got,)
    wants = [fd_gradient(lambda a: weighted_pairs(a, w), x), fd_gradient(lambda b: weighted_pairs(x, b), w)]
    for g, k in zip(got, wrt if isinstance(wrt, tuple) else (wrt,)):
        np.testing.assert_allclose(g, wants[k], rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("f, shape", [(triangle, (4,)), (same_array_twice, (4,)), (prefixes, (4,))],
                         ids=["triangle", "same_array_twice", "prefixes"])
def test_hessians_through_the_passes_equal_the_python_backends(f, shape):
    """A Hessian differentiates the generated gradient again; the python backend's, itself
    checked against finite differences of gradients elsewhere, is the reference here."""
    x = np.random.default_rng(13).normal(size=shape)
    np.testing.assert_allclose(s2sgrad.hessian(f, backend="numba")(x), s2sgrad.hessian(f)(x),
                               rtol=1e-9, atol=1e-10)


def test_a_vjp_whose_rooms_change_shape_between_calls():
    vjp = s2sgrad.vjp(rows_lse, backend="numba")
    rng = np.random.default_rng(17)
    for shape in [(2, 3), (5, 4), (1, 1), (3, 6)]:
        x = rng.normal(size=shape)
        np.testing.assert_allclose(vjp(x, 1.7), 1.7 * fd_gradient(rows_lse, x), rtol=1e-6, atol=1e-7)


# ------------------------------------------------------------------ the entry's tapes lent by the call before
def _rooms_of(g):
    """The rooms of the variant the calls ran (not the one `.source` showed before them)."""
    [rooms] = {id(v.rooms): v.rooms for key, v in g._variants.items()
               if v.rooms is not None and key[2] is not None}.values()
    return rooms


def test_the_entrys_tapes_are_lent_by_the_call_before_at_every_size():
    """Tapes lent by a call with more rows, fewer, then more again: each result is the one
    the plain entry (fresh tapes, what a generated file's reader calls) gives, bit for bit,
    and equals finite differences; what an earlier call left in a room is never read."""
    g = s2sgrad.grad(rows_lse, backend="numba")
    rng = np.random.default_rng(8)
    for rows in (3, 7, 2, 7, 9):
        x = rng.normal(size=(rows, 4))
        got = g(x)
        np.testing.assert_array_equal(got, g.generated(x))
        np.testing.assert_allclose(got, fd_gradient(rows_lse, x), rtol=1e-6, atol=1e-7)
    source = g.source
    assert "def grad_rows_lse(x):\n" in source and "return grad_rows_lse_in_rooms(x, np.empty(0, np.float64)" in source
    assert "def grad_rows_lse_in_rooms(x, tape_" in source


def test_a_call_keeps_the_rooms_it_grew_and_the_next_one_writes_in_them():
    g = s2sgrad.grad(rows_lse, backend="numba")
    g(np.ones((50, 4)))
    rooms = _rooms_of(g)
    [kept] = rooms.free
    assert max(r.shape[0] for r in kept) >= 50
    g(np.ones((20, 4)))  # fits: the same arrays come back
    assert all(a is b for a, b in zip(rooms.free[0], kept))


def test_rooms_over_the_limit_are_not_kept(monkeypatch):
    g = s2sgrad.grad(rows_lse, backend="numba")
    g(np.ones((2, 4)))
    rooms = _rooms_of(g)
    monkeypatch.setattr(rooms, "LIMIT", 1000)
    rooms.free.clear()
    x = np.linspace(-1.0, 1.0, 160).reshape(40, 4)  # 40 * 4 floats on one tape: over 1000 bytes
    got = g(x)
    np.testing.assert_array_equal(got, g.generated(x))
    np.testing.assert_allclose(got, fd_gradient(rows_lse, x), rtol=1e-6, atol=1e-6)
    assert rooms.free == []


def test_value_and_grad_and_vjp_lend_their_tapes_too_and_threads_share_none():
    import threading
    vg = s2sgrad.value_and_grad(rows_lse, backend="numba")
    vjp = s2sgrad.vjp(rows_lse, backend="numba")
    rng = np.random.default_rng(4)
    xs = [rng.normal(size=(n, 3)) for n in (2, 9, 5, 9, 3, 7)]
    wants = [fd_gradient(rows_lse, x) for x in xs]
    vg(xs[0]), vjp(xs[0], 1.0)
    assert _rooms_of(vg) is not None and _rooms_of(vjp) is not None
    failures = []

    def run(x, want):
        for _ in range(20):
            value, grad = vg(x)
            if value != pytest.approx(rows_lse(x), rel=1e-12) or not np.allclose(grad, want, rtol=1e-6, atol=1e-7):
                failures.append(x.shape)
            if not np.allclose(vjp(x, 2.0), 2.0 * want, rtol=1e-6, atol=1e-7):
                failures.append(x.shape)

    threads = [threading.Thread(target=run, args=(x, w)) for x, w in zip(xs, wants)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
