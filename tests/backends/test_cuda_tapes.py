"""backend="cuda": tapes sized before the launch (backends/cuda_tapes.py), no tape_bound.

Loops whose trip counts are known at kernel entry get their rooms from a formula of the
arguments (on the host for number arguments, per point for arrays); anything else from
a counting pass.  Runs under numba's simulator (tests/conftest.py): few points.  Every
point is compared with the python backend called point by point, and where the
derivative is known in closed form, with that.
"""
import math

import numpy as np
import pytest

import s2sgrad
from s2sgrad.backends import cuda as s2cuda

import cuda_functions as cf

cuda = pytest.importorskip("numba.cuda")

RNG = np.random.default_rng(16)


def pointwise(f, wrt, *args):
    g = s2sgrad.grad(f, wrt=wrt)
    n = next(len(a) for a in args if isinstance(a, np.ndarray))
    return np.array([g(*[a[k] if isinstance(a, np.ndarray) else a for a in args]) for k in range(n)],
                    dtype=float)


def close(got, want):
    np.testing.assert_allclose(np.asarray(got, dtype=float), np.asarray(want, dtype=float),
                               rtol=1e-12, atol=1e-12)


# ------------------------------------------------------------------------------ at kernel entry
def test_scalar_bound_sized_on_the_host_by_hand():
    """d/dx x**n = n x**(n - 1); the room is n, from a plain host function; a second call
    with a larger n (and n = 0: no trip, no tape) needs no new compile."""
    g = s2sgrad.grad(cf.power_loop, backend="cuda")
    x = RNG.uniform(0.5, 1.5, 7)
    close(g(x, 5), 5 * x ** 4)
    assert g.rooms == {"tape_p": 5}
    assert "\ndef tape_rooms_grad_power_loop(x, n):" in g.source  # no decorator: the host calls it
    assert "kernel_tape_rooms" not in g.source and "count_tapes" not in g.source
    compiled = dict(g._variants)
    close(g(x, 11), 11 * x ** 10)
    assert g.rooms == {"tape_p": 11}
    close(g(x, 7), 7 * x ** 6)  # the 77-value buffer reused for 49, its old values not read
    assert g.rooms == {"tape_p": 7}
    close(g(x, 0), np.zeros(7))
    assert g.rooms == {"tape_p": 0}
    assert g._variants == compiled  # one module for every size


def test_range_between_two_arguments_by_hand():
    """x ** (n - m), and 1 (gradient 0) where n <= m: room max(0, n - m)."""
    g = s2sgrad.grad(cf.power_between, backend="cuda")
    x = RNG.uniform(0.5, 1.5, 5)
    close(g(x, 2, 6), 4 * x ** 3)
    assert "return (max(0, n - m),)" in g.source
    close(g(x, 6, 2), np.zeros(5))
    assert g.rooms == {"tape_p": 0}


def test_range_with_a_step():
    x = RNG.uniform(-1, 1, 6)
    g = s2sgrad.grad(cf.every_other, backend="cuda")
    for n in (6, 9):
        close(g(x, n), pointwise(cf.every_other, 0, x, n))
        assert g.rooms == {"tape_s": len(range(1, n, 2))}
    assert "count_tapes" not in g.source


def test_nested_loops_by_hand():
    """x ** (n m) by nested loops: the room is n m, from the product of the bounds."""
    g = s2sgrad.grad(cf.nested_power, backend="cuda")
    x = RNG.uniform(0.8, 1.2, 5)
    close(g(x, 3, 4), 12 * x ** 11)
    assert g.rooms == {"tape_p": 12}
    assert "max(0, n) * max(0, m)" in g.source
    close(g(x, 4, 0), np.zeros(5))


def test_nested_loops_per_point_bounds():
    """Per-point outer and inner trip counts (zeros among them): a kernel evaluates the
    rooms at each point, the starts are their prefix sum."""
    x, a = RNG.uniform(-1, 1, 10), RNG.uniform(0, 0.5, 10)
    n, m = RNG.integers(0, 5, 10), RNG.integers(0, 4, 10)
    n[:2], m[2] = 0, 0
    g = s2sgrad.grad(cf.nested_sin, wrt=(0, 1), backend="cuda")
    got = g(x, a, n, m)
    want = pointwise(cf.nested_sin, (0, 1), x, a, n, m)
    close(got[0], want[:, 0])
    close(got[1], want[:, 1])
    assert "def kernel_tape_rooms_grad_nested_sin(" in g.source
    assert "Tape rooms at kernel entry" in g.source
    assert g.rooms == {"tape_s": max(n * m + n)}  # the inner loop's pushes and the outer's


def test_per_point_trip_counts_then_larger_ones():
    """A for loop whose count is an int array; a second call with larger counts (and
    points with none) gets rooms for them, without a new module."""
    x, a = RNG.uniform(-1, 1, 8), RNG.uniform(0, 0.3, 8)
    g = s2sgrad.grad(cf.for_loop, wrt=(0, 1), backend="cuda")
    n = np.array([0, 1, 2, 3, 0, 5, 1, 2])
    got = g(x, a, n)
    want = pointwise(cf.for_loop, (0, 1), x, a, n)
    close(got[0], want[:, 0]), close(got[1], want[:, 1])
    assert g.rooms == {"tape_s": 5}
    compiled = dict(g._variants)
    n = n * 7 + 3  # up to 38
    got = g(x, a, n)
    want = pointwise(cf.for_loop, (0, 1), x, a, n)
    close(got[0], want[:, 0]), close(got[1], want[:, 1])
    assert g.rooms == {"tape_s": 38}
    assert g._variants == compiled


def test_tapes_of_two_types():
    """An int tape (k) and a float tape (s): one typed buffer each."""
    x = RNG.uniform(-1, 1, 6)
    g = s2sgrad.grad(cf.int_and_float_tapes, backend="cuda")
    close(g(x, 9), pointwise(cf.int_and_float_tapes, 0, x, 9))
    assert g.rooms == {"tape_k": 9, "tape_s": 9}
    assert "tape_k_all" in g.source and "tape_s_all" in g.source


# ------------------------------------------------------------------------------ counting pass
def test_while_loop_counting_pass_then_longer_loops():
    """creeping_while: about 10 (y - x) trips, each point its own; then y larger."""
    x, y = RNG.uniform(0.5, 1.0, 6), RNG.uniform(1.0, 2.5, 6)
    y[0] = 0.1  # no trip at this point
    g = s2sgrad.grad(cf.creeping_while, wrt=(0, 1), backend="cuda")
    got = g(x, y)
    want = pointwise(cf.creeping_while, (0, 1), x, y)
    close(got[0], want[:, 0]), close(got[1], want[:, 1])
    assert got[0][0] == 2 * x[0] and got[1][0] == 0.0  # z * x with z = x: by hand
    first = g.rooms["tape_z"]
    assert "Counting pass" in g.source and "def kernel_count_tapes_grad_creeping_while(" in g.source
    compiled = dict(g._variants)
    y = y + 3.0
    got = g(x, y)
    want = pointwise(cf.creeping_while, (0, 1), x, y)
    close(got[0], want[:, 0]), close(got[1], want[:, 1])
    assert g.rooms["tape_z"] > first + 20
    assert g._variants == compiled


def test_counting_pass_stores_nothing():
    """The counting function is the forward sweep, its pushes replaced by counts."""
    g = s2sgrad.grad(cf.while_loop, wrt=(0, 1), backend="cuda")
    src = g.source
    counting = src[src.index("def count_tapes_grad_while_loop("):src.index("@cuda.jit", src.index(
        "def count_tapes_grad_while_loop("))]
    assert "n_tape_z += 1" in counting and "tape_z[" not in counting and "reverse sweep" not in counting
    x, y = RNG.uniform(0.1, 2, 8), RNG.uniform(0.1, 2, 8)
    x[0], y[0] = 4.0, 4.0  # z = 16 >= 10: no trip
    got = g(x, y)
    want = pointwise(cf.while_loop, (0, 1), x, y)
    close(got[0], want[:, 0]), close(got[1], want[:, 1])
    close([got[0][0], got[1][0]], [y[0], x[0]])  # z = x y: by hand


@pytest.mark.parametrize("f,args", [
    (cf.triangle, lambda: (RNG.uniform(0.2, 1.0, 5), 5)),           # inner bound: the outer variable
    (cf.computed_bound, lambda: (RNG.uniform(-1, 1, 5), np.array([0, 1, 2, 3, 4]))),  # m = 2 n + 1
])
def test_bounds_not_known_at_entry_are_counted(f, args):
    args = args()
    g = s2sgrad.grad(f, backend="cuda")
    close(g(*args), pointwise(f, 0, *args))
    assert "Counting pass" in g.source and "tape_rooms" not in g.source


def test_triangle_room_is_exact():
    g = s2sgrad.grad(cf.triangle, backend="cuda")
    g(RNG.uniform(0.2, 1.0, 3), 6)
    assert g.rooms == {"tape_s": 6 * 5 // 2}


def test_helper_with_its_own_tape():
    """A helper's while loop keeps a tape in its vjp (a local array, grown as needed),
    called from the reverse sweep of a loop whose own tape is in global memory."""
    x = RNG.uniform(0.3, 0.9, 5)
    g = s2sgrad.grad(cf.loop_with_helper, backend="cuda")
    close(g(x, 4), pointwise(cf.loop_with_helper, 0, x, 4))
    assert "cuda.local.array(" in g.source and "tape_s_all" in g.source


def test_value_and_grad_and_device_arrays():
    x, y = RNG.uniform(0.5, 1.0, 5), RNG.uniform(2.0, 3.0, 5)
    vg = s2sgrad.value_and_grad(cf.creeping_while, wrt=0, backend="cuda")
    value, grad = vg(cuda.to_device(x), cuda.to_device(y))
    assert s2cuda._on_device(value) and s2cuda._on_device(grad)
    close(value.copy_to_host(), [cf.creeping_while(a, b) for a, b in zip(x, y)])
    close(grad.copy_to_host(), pointwise(cf.creeping_while, 0, x, y))


# ------------------------------------------------------------------------------ the cap
def test_tape_bound_caps_a_while_loop():
    x, y = RNG.uniform(0.5, 1.0, 6), RNG.uniform(2.0, 5.0, 6)
    need = max(len(list(_trips(a, b))) for a, b in zip(x, y))
    g = s2sgrad.grad(cf.creeping_while, wrt=(0, 1), backend="cuda", tape_bound=need - 1)
    with pytest.raises(s2cuda.TapeOverflowError) as info:
        g(x, y)
    assert f"tape_bound={need}" in str(info.value)
    ok = s2sgrad.grad(cf.creeping_while, wrt=(0, 1), backend="cuda", tape_bound=need)
    got = ok(x, y)
    close(got[0], pointwise(cf.creeping_while, (0, 1), x, y)[:, 0])
    assert "count_tapes" not in ok.source  # a cap: nothing is counted first


def _trips(x, y):
    z = x
    while z < y:
        yield z
        z = z + 0.05 * math.sin(z) * x + 0.1


def test_offsets_are_an_exclusive_prefix_sum():
    from s2sgrad.backends import cuda_tapes
    assert cuda_tapes.offsets(np.array([3, 0, 2], dtype=np.int64)).tolist() == [0, 3, 3, 5]
    assert cuda_tapes.offsets(np.zeros(0, dtype=np.int64)).tolist() == [0]


# ------------------------------------------------------------------------------ checkpointing
def test_checkpointed_loop_by_hand():
    """x ** n with 8 bytes a trip and point over the budget: the loop is checkpointed,
    the tapes fit tape_memory, and the gradient is still n x ** (n - 1)."""
    x = RNG.uniform(0.8, 1.2, 4)
    n = 24
    plain = 4 * n * 8                      # 24 values of 8 bytes at each of 4 points
    g = s2sgrad.grad(cf.power_loop, backend="cuda", tape_memory=plain // 2)
    close(g(x, n), n * x ** (n - 1))
    assert g.checkpoint_every is not None and 1 < g.checkpoint_every < n
    assert g.tape_bytes <= plain // 2
    assert "# checkpointed loop (cuda_functions.py:97, k = checkpoint_every trips" in g.source
    assert "checkpoint_p[n_checkpoint_p] = p" in g.source
    # room enough: no recomputation
    roomy = s2sgrad.grad(cf.power_loop, backend="cuda", tape_memory=plain)
    close(roomy(x, n), n * x ** (n - 1))
    assert roomy.checkpoint_every is None and "checkpointed" not in roomy.source


@pytest.mark.parametrize("budget", [300, 400, 600])
def test_checkpointed_per_point_trip_counts(budget):
    """Per-point trip counts (zeros among them): the trips are found per point, k fits
    the budget over all points, the gradients are the python backend's."""
    x, a = RNG.uniform(-1, 1, 6), RNG.uniform(0, 0.3, 6)
    n = np.array([0, 17, 5, 30, 1, 12])  # 65 trips: 520 bytes of plain tape
    g = s2sgrad.grad(cf.for_loop, wrt=(0, 1), backend="cuda", tape_memory=budget)
    got = g(x, a, n)
    want = pointwise(cf.for_loop, (0, 1), x, a, n)
    close(got[0], want[:, 0]), close(got[1], want[:, 1])
    assert g.tape_bytes <= budget
    assert (g.checkpoint_every is None) == (budget >= 65 * 8)
    if g.checkpoint_every is not None:
        assert "def kernel_trips_grad_for_loop(" in g.source


def test_checkpointed_state_of_two_types():
    """s (float) and k (int) are carried from trip to trip: both are checkpointed."""
    x = RNG.uniform(-1, 1, 4)
    g = s2sgrad.grad(cf.int_and_float_tapes, backend="cuda", tape_memory=600)
    close(g(x, 20), pointwise(cf.int_and_float_tapes, 0, x, 20))  # 640 bytes plain
    assert g.checkpoint_every is not None
    assert "its state (k, s) saved every k trips" in g.source
    assert g.rooms["checkpoint_k"] == -(-20 // g.checkpoint_every)


def test_checkpointed_value_and_grad_then_longer_loop():
    x = RNG.uniform(-1, 1, 4)
    """12 trips fit 450 bytes (384), 40 do not (1280): the second call checkpoints."""
    vg = s2sgrad.value_and_grad(cf.for_loop, wrt=0, backend="cuda", tape_memory=450)
    for n in (12, 40):
        value, grad = vg(x, 0.2, n)
        close(value, [cf.for_loop(xk, 0.2, n) for xk in x])
        close(grad, pointwise(cf.for_loop, 0, x, 0.2, n))
        assert (vg.checkpoint_every is not None) == (n == 40) and vg.tape_bytes <= 450


def test_tape_memory_too_small_or_loop_not_checkpointable():
    x = RNG.uniform(-1, 1, 4)
    g = s2sgrad.grad(cf.power_loop, backend="cuda", tape_memory=40)
    with pytest.raises(s2cuda.TapeOverflowError) as info:
        g(x, 30)
    assert "tape_memory=40" in str(info.value) and "still needs" in str(info.value)
    least = int(str(info.value).split("pass tape_memory=")[1].split()[0])
    ok = s2sgrad.grad(cf.power_loop, backend="cuda", tape_memory=least)
    close(ok(x, 30), 30 * x ** 29)
    w = s2sgrad.grad(cf.creeping_while, backend="cuda", tape_memory=64)
    with pytest.raises(s2cuda.TapeOverflowError, match="can be checkpointed"):
        w(RNG.uniform(0.5, 1.0, 4), np.full(4, 4.0))
    triangle = s2sgrad.grad(cf.triangle, backend="cuda", tape_memory=64)
    with pytest.raises(s2cuda.TapeOverflowError, match="a loop inside it runs a number of trips"):
        triangle(x, 6)


def test_tape_memory_arguments():
    with pytest.raises(ValueError, match="not both"):
        s2sgrad.grad(cf.power_loop, backend="cuda", tape_memory=1000, tape_bound=8)
    with pytest.raises(ValueError, match="tape_memory"):
        s2sgrad.grad(cf.power_loop, tape_memory=1000)
    with pytest.raises(ValueError, match="positive int"):
        s2sgrad.grad(cf.power_loop, backend="cuda", tape_memory=0)


# ------------------------------------------------------------------------------ adversarial
def test_push_on_one_branch():
    x = RNG.uniform(0.0, 1.0, 8)
    g = s2sgrad.grad(cf.branchy_loop, backend="cuda")
    for n in (3, 10):
        close(g(x, n), pointwise(cf.branchy_loop, 0, x, n))
    c = s2sgrad.grad(cf.branchy_loop, backend="cuda", tape_memory=700)  # 1360 bytes plain at n=10
    close(c(x, 10), pointwise(cf.branchy_loop, 0, x, 10))
    assert c.checkpoint_every is not None
    assert "its state (branch, s) saved" in c.source  # the pushed flag is state too


def test_names_that_collide_with_generated_ones():
    """A parameter named tape_s, checkpoint_every, segment: the generated names step aside."""
    t, k = RNG.uniform(-1, 1, 5), RNG.uniform(0.5, 1.5, 5)
    for memory in (None, 320):  # 12 trips: 480 bytes plain
        g = s2sgrad.grad(cf.colliding_names, wrt=(0, 1), backend="cuda", tape_memory=memory)
        got = g(t, k, 12)
        want = pointwise(cf.colliding_names, (0, 1), t, k, 12)
        close(got[0], want[:, 0]), close(got[1], want[:, 1])
        assert (g.checkpoint_every is None) == (memory is None)


@pytest.mark.parametrize("f,args", [
    (cf.power_loop, (3,)),                                  # rooms on the host
    (cf.for_loop, (np.zeros(0), np.zeros(0, dtype=np.int64))),  # rooms per point
    (cf.creeping_while, (np.zeros(0),)),                    # counting pass
])
def test_no_points(f, args):
    g = s2sgrad.grad(f, backend="cuda")
    out = g(np.zeros(0), *args)
    assert isinstance(out, np.ndarray) and out.shape == (0,)
    assert g.tape_bytes == 0


def test_checkpointed_nested_loops_by_hand():
    """x ** (n m): the outer loop is checkpointed, a segment's tape holds k trips of m
    pushes each; the gradient is still n m x ** (n m - 1)."""
    x = RNG.uniform(0.9, 1.1, 4)
    g = s2sgrad.grad(cf.nested_power, backend="cuda", tape_memory=4 * 8 * 60)  # plain: 4 * 8 * 120
    close(g(x, 12, 10), 120 * x ** 119)
    assert g.checkpoint_every is not None and g.tape_bytes <= 4 * 8 * 60
    assert g.rooms["tape_p"] == g.checkpoint_every * 10


def test_checkpointed_nested_loops_per_point():
    x, a = RNG.uniform(-1, 1, 6), RNG.uniform(0, 0.5, 6)
    n, m = np.array([0, 3, 9, 12, 5, 7]), np.array([4, 0, 3, 5, 2, 6])
    plain = 8 * int((n * m + n).sum())
    g = s2sgrad.grad(cf.nested_sin, wrt=(0, 1), backend="cuda", tape_memory=plain // 2)
    got = g(x, a, n, m)
    want = pointwise(cf.nested_sin, (0, 1), x, a, n, m)
    close(got[0], want[:, 0]), close(got[1], want[:, 1])
    assert g.checkpoint_every is not None and g.tape_bytes <= plain // 2


def test_tapes_larger_than_memory_are_an_error():
    """10^13 trips at one point: the exact tape cannot be allocated; the error says so and
    points at tape_memory (which checkpoints the loop)."""
    g = s2sgrad.grad(cf.power_loop, backend="cuda")
    with pytest.raises(s2cuda.TapeOverflowError, match="more than the GPU could give") as info:
        g(np.ones(1), 10 ** 13)
    assert "tape_memory" in str(info.value)
