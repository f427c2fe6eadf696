"""Statements real code is written in, lowered by frontend/desugar.py: loops over
enumerate and zip with tuple targets, imports inside the function, list comprehensions,
sum(...), chained assignment, del, lists joined with +.

Every derivative is checked with check_grads (central differences of the function itself,
reverse and forward mode), often for part of the arguments; a few against derivatives
written out by hand.  What stays refused is checked to be refused at its position.
"""
# ruff: noqa: F841, PLR1704 - the functions below are inputs: their variables are what is read

import math

import numpy as np
import pytest
import torch

import s2sgrad
from s2sgrad import UnsupportedSyntaxError
from s2sgrad.testing import check_grads

RNG = np.random.default_rng(13)


# ---------------------------------------------------------------------- loops with tuple targets
def rnn(Ws, bs, h0, xs):
    """An RNN step per layer: h <- tanh(W @ h + b + x), over enumerate(zip(Ws, bs))."""
    h = h0
    for i, (W, b) in enumerate(zip(Ws, bs)):
        h = np.tanh(W @ h + b + xs[i])
    return np.sum(h * h)


def weighted(xs, ws):
    s = 0.0
    for i, x in enumerate(xs, 1):
        s = s + i * x * x
    for x, w in zip(xs, ws):
        s = s + math.sin(x) * w
    return s


def over_ranges(x, n):
    """zip of a range and an array, the range with a start and a step."""
    s = 0.0
    for j, v in zip(range(2, 2 + 3 * n, 3), x):
        s = s + j * np.sin(v)
    return s


def rows_with_index(X, w):
    s = 0.0
    for i, row in enumerate(X):
        s = s + (i + 1.0) * np.sum(np.exp(row) * w)
    for row in X:
        s = s + np.sum(row * row)
    return s


def counter_rebound(xs):
    """The body rebinds enumerate's index: iteration must not see it."""
    s = 0.0
    for i, x in enumerate(xs):
        i = i * 2
        s = s + i * x
    return s


def mlp(params, x):
    """A multilayer perceptron over its (W, b) pairs."""
    h = x
    for W, b in params:
        h = np.tanh(W @ h + b)
    return np.sum(h * h)


def test_mlp_over_a_list_of_pairs():
    params = [(RNG.normal(size=(4, 3)), RNG.normal(size=4)), (RNG.normal(size=(2, 4)), RNG.normal(size=2))]
    x = RNG.normal(size=3)
    check_grads(mlp, params, x, wrt=(0, 1))
    check_grads(mlp, params, x, wrt="params")
    check_grads(mlp, [[W, b] for W, b in params], x, wrt="x")


def test_mlp_against_torch():
    params = [(RNG.normal(size=(3, 3)), RNG.normal(size=3)) for _ in range(3)]
    x = RNG.normal(size=3)
    tp = [(torch.tensor(W, requires_grad=True), torch.tensor(b, requires_grad=True)) for W, b in params]
    h = torch.tensor(x)
    for W, b in tp:
        h = torch.tanh(W @ h + b)
    (h * h).sum().backward()
    d_params = s2sgrad.grad(mlp)(params, x)
    for (d_W, d_b), (W, b) in zip(d_params, tp):
        np.testing.assert_allclose(d_W, W.grad.numpy(), rtol=1e-10)
        np.testing.assert_allclose(d_b, b.grad.numpy(), rtol=1e-10)


def test_rnn_over_enumerate_zip():
    Ws = [RNG.normal(size=(3, 3)) * 0.5 for _ in range(3)]
    bs = [RNG.normal(size=3) for _ in range(3)]
    h0, xs = RNG.normal(size=3), RNG.normal(size=(3, 3))
    check_grads(rnn, Ws, bs, h0, xs, wrt=(0, 1, 2, 3))
    check_grads(rnn, Ws, bs, h0, xs, wrt="h0")
    check_grads(rnn, Ws, bs, h0, xs, wrt=("Ws", "xs"))


def test_rnn_against_torch():
    import torch
    Ws = [RNG.normal(size=(4, 4)) * 0.5 for _ in range(2)]
    bs = [RNG.normal(size=4) for _ in range(2)]
    h0, xs = RNG.normal(size=4), RNG.normal(size=(2, 4))
    tW = [torch.tensor(W, requires_grad=True) for W in Ws]
    th = torch.tensor(h0, requires_grad=True)
    h = th
    for i in range(2):
        h = torch.tanh(tW[i] @ h + torch.tensor(bs[i]) + torch.tensor(xs[i]))
    (h * h).sum().backward()
    d_Ws, d_h0 = s2sgrad.grad(rnn, wrt=("Ws", "h0"))(Ws, bs, h0, xs)
    for d, t in zip(d_Ws, tW):
        np.testing.assert_allclose(d, t.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(d_h0, th.grad.numpy(), rtol=1e-10)


def test_enumerate_start_and_zip_of_lists():
    xs, ws = [0.3, -1.2, 2.0], [1.5, 0.25, -0.5]
    check_grads(weighted, xs, ws, wrt=(0, 1))
    # by hand: d/dx_k = 2 (k+1) x_k + cos(x_k) w_k
    d_xs = s2sgrad.grad(weighted)(xs, ws)
    assert d_xs == pytest.approx([2 * (k + 1) * x + math.cos(x) * w for k, (x, w) in enumerate(zip(xs, ws))])


def test_zip_stops_at_the_shortest():
    xs, ws = [0.3, -1.2, 2.0], [1.5, 0.25]
    check_grads(weighted, xs, ws, wrt=(0, 1))
    assert s2sgrad.grad(weighted, wrt="ws")(xs, ws) == pytest.approx([math.sin(0.3), math.sin(-1.2)])


def test_zip_of_a_range_and_an_array():
    x = RNG.normal(size=4)
    check_grads(over_ranges, x, 4)
    np.testing.assert_allclose(s2sgrad.grad(over_ranges)(x, 4), np.arange(2, 14, 3) * np.cos(x))
    np.testing.assert_allclose(s2sgrad.grad(over_ranges)(x, 2), [2 * np.cos(x[0]), 5 * np.cos(x[1]), 0, 0])


def test_rows_of_a_matrix():
    X, w = RNG.normal(size=(3, 4)), RNG.normal(size=4)
    check_grads(rows_with_index, X, w, wrt=(0, 1))
    check_grads(rows_with_index, RNG.normal(size=(5, 2)), RNG.normal(size=2), wrt="w")


def test_a_rebound_index_does_not_steer_the_loop():
    xs = [1.0, 2.0, 3.0]
    assert s2sgrad.grad(counter_rebound)(xs) == pytest.approx([0.0, 2.0, 4.0])
    check_grads(counter_rebound, xs)


# ---------------------------------------------------------------------- imports in the function
def rosenbrock(x):
    """More-Garbow-Hillstrom problem 1, written with its own imports."""
    import numpy as np
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def helical_valley(x1, x2, x3):
    """More-Garbow-Hillstrom problem 7."""
    import math
    from math import atan, sqrt as root
    theta = atan(x2 / x1) / (2 * math.pi)
    return 100.0 * ((x3 - 10 * theta) ** 2 + (root(x1 * x1 + x2 * x2) - 1) ** 2) + x3 * x3


def logistic_loss(w, X, y):
    import scipy.special as sc
    return np.sum(np.log1p(np.exp(-y * (X @ w)))) + np.sum(sc.expit(w))


def test_mgh_functions_that_import_numpy_and_math():
    check_grads(rosenbrock, RNG.normal(size=5))
    x = np.array([-1.2, 1.0, 0.5])
    d = s2sgrad.grad(rosenbrock)(x)
    by_hand = np.zeros(3)
    by_hand[:-1] += -400 * x[:-1] * (x[1:] - x[:-1] ** 2) - 2 * (1 - x[:-1])
    by_hand[1:] += 200 * (x[1:] - x[:-1] ** 2)
    np.testing.assert_allclose(d, by_hand)
    check_grads(helical_valley, 1.1, 0.4, 0.7, wrt=(0, 1, 2))
    check_grads(helical_valley, 1.1, 0.4, 0.7, wrt="x3")


def test_import_of_scipy_special_in_the_function():
    X, y = RNG.normal(size=(6, 3)), np.sign(RNG.normal(size=6))
    check_grads(logistic_loss, RNG.normal(size=3), X, y)


def imports_os(x):
    import os
    return x * 2.0


def imports_in_a_branch(x):
    if x > 0:
        import math
    return x


def test_other_imports_are_refused():
    with pytest.raises(UnsupportedSyntaxError, match="importing `os`") as e:
        s2sgrad.grad(imports_os)(1.0)
    assert "import os" in str(e.value)
    with pytest.raises(UnsupportedSyntaxError, match="import inside a block"):
        s2sgrad.grad(imports_in_a_branch)(1.0)


# ---------------------------------------------------------------------- comprehensions and sum
def polynomial(coeffs, x):
    return sum([c * x ** k for k, c in enumerate(coeffs)])


def filtered(xs, t):
    ys = [math.exp(x * t) for x in xs if x > 0]
    return sum(ys) + sum(y * y for y in ys) + sum(xs, 1.5)


def pairwise(xs, ws):
    products = [x * w for x, w in zip(xs, ws)]
    return np.sum(np.array(products) ** 2) + np.sum([v for v in products if v < 0.9])


def nested_comprehension(X):
    """two for clauses; the comprehension's x must not overwrite the function's x."""
    x = 2.0
    cells = [X[i, j] * x for i in range(X.shape[0]) for j in range(X.shape[1]) if i != j]
    return sum(cells) * x


def sum_of_arrays(Ws, v):
    return np.sum(sum(W @ v for W in Ws) ** 2) + np.sum(sum(Ws))


def comprehension_as_argument(xs, t):
    return helper_sum([math.sin(x * t) for x in xs], t)


def helper_sum(values, t):
    total = 0.0
    for v in values:
        total = total + v * t
    return total


def test_polynomial_by_comprehension():
    coeffs = [1.0, -2.0, 0.5, 3.0]
    check_grads(polynomial, coeffs, 0.7, wrt=(0, 1))
    assert s2sgrad.grad(polynomial, wrt=1)(coeffs, 0.7) == pytest.approx(-2.0 + 2 * 0.5 * 0.7 + 9 * 0.49)


def test_filters_and_sums():
    xs = [0.5, -0.3, 1.2, 0.1]
    check_grads(filtered, xs, 0.8, wrt=(0, 1))
    check_grads(filtered, [-1.0, -2.0], 0.8, wrt=(0, 1))  # nothing passes the filter


def test_comprehension_over_zip_into_np_array():
    check_grads(pairwise, [0.5, -0.3, 1.2], [2.0, 1.0, -1.0], wrt=(0, 1))


def test_nested_comprehension_keeps_its_variables_apart():
    X = RNG.normal(size=(3, 4))
    check_grads(nested_comprehension, X)
    d = s2sgrad.grad(nested_comprehension)(X)
    np.testing.assert_allclose(d, 4.0 * (1 - np.eye(3, 4)))


def test_sum_of_arrays():
    Ws = [RNG.normal(size=(2, 3)) for _ in range(3)]
    check_grads(sum_of_arrays, Ws, RNG.normal(size=3), wrt=(0, 1))


def test_comprehension_passed_to_a_helper():
    check_grads(comprehension_as_argument, [0.2, 0.9, -0.4], 1.3, wrt=(0, 1))


def dict_comprehension(xs):
    d = {k: x for k, x in enumerate(xs)}
    return d[0]


def generator_alone(xs):
    g = list(x * x for x in xs)
    return g[0]


def numpy_sum_of_generator(xs):
    return np.sum(x for x in xs)


def comprehension_in_while(xs):
    n = 0
    while n < len([x for x in xs if x > 0]):
        n = n + 1
    return xs[0] * n


def test_other_comprehensions_are_refused():
    with pytest.raises(UnsupportedSyntaxError, match="dict comprehension"):
        s2sgrad.grad(dict_comprehension)([1.0])
    with pytest.raises(UnsupportedSyntaxError, match="generator expression outside sum"):
        s2sgrad.grad(generator_alone)([1.0])
    with pytest.raises(UnsupportedSyntaxError, match="generator expression outside sum"):
        s2sgrad.grad(numpy_sum_of_generator)([1.0])
    with pytest.raises(UnsupportedSyntaxError, match="comprehension or sum"):
        s2sgrad.grad(comprehension_in_while)([1.0])


# ---------------------------------------------------------------------- chained assignment, del, +
def chained(x, y):
    a = b = x * y
    s = t = 0.0
    for k in range(3):
        s = s + a * k
        t = t + b
    return s * t


def deleted(x):
    tmp = np.sin(x)
    y = tmp * 2.0
    del tmp
    return np.sum(y * x)


def read_after_del(x):
    tmp = x * 2.0
    del tmp
    tmp = x
    return tmp


def del_in_loop(xs):
    s = 0.0
    for x in xs:
        t = x * x
        s = s + t
        del t
    return s


def del_then_loop_reads(xs):
    s = 0.0
    t = 1.0
    for x in xs:
        s = s + t * x
        t = x * x
        del t
    return s


def joined(x, y):
    xs = [x]
    xs = xs + [x * y, y]
    xs += [np.sin(y)]
    ys = [x] + [y, x * x]
    return xs[0] * xs[1] + xs[2] * xs[3] + ys[2] * ys[1]


def test_chained_assignment():
    check_grads(chained, 0.7, -1.3, wrt=(0, 1))
    # s = 3 x y, t = 3 x y: s t = 9 x^2 y^2
    assert s2sgrad.grad(chained)(0.7, -1.3) == pytest.approx(18 * 0.7 * 1.3 ** 2)


def test_del_of_a_local():
    check_grads(deleted, RNG.normal(size=3))
    check_grads(del_in_loop, [0.5, 2.0])


def test_del_then_read_is_refused():
    with pytest.raises(UnsupportedSyntaxError, match="reading `tmp` after `del tmp`"):
        s2sgrad.grad(read_after_del)(1.0)
    with pytest.raises(UnsupportedSyntaxError, match="reading `t` after `del t`"):
        s2sgrad.grad(del_then_loop_reads)([1.0, 2.0])  # the second iteration reads t


def test_lists_joined_with_plus():
    check_grads(joined, 0.6, 1.7, wrt=(0, 1))
    check_grads(joined, 0.6, 1.7, wrt="y")


def array_plus_list(x):
    """x + [1.0, 2.0] on an array adds element-wise: never turned into appends."""
    x = x + [1.0, 2.0]
    return np.sum(x * x)


def test_array_plus_list_literal_stays_addition():
    x = np.array([0.5, -1.0])
    np.testing.assert_allclose(s2sgrad.grad(array_plus_list)(x), 2 * (x + [1.0, 2.0]))


# ---------------------------------------------------------------------- *args in a helper
def weighted_squares(scale, *terms):
    s = 0.0
    for t in terms:
        s = s + scale * t * t
    return s


def uses_star_helper(x, y, w):
    return weighted_squares(w, x, np.sin(y), x * y) + weighted_squares(2.0)


def uses_star_helper_on_arrays(x, w):
    return np.sum(weighted_squares(w, x, np.exp(x)))


def top_level_star(x, *rest):
    return x * x


def test_star_args_of_a_helper():
    check_grads(uses_star_helper, 0.3, 1.1, 0.7, wrt=(0, 1, 2))
    check_grads(uses_star_helper, 0.3, 1.1, 0.7, wrt="y")
    x, y, w = 0.3, 1.1, 0.7
    assert s2sgrad.grad(uses_star_helper, wrt=(0, 2))(x, y, w) == pytest.approx(
        (w * (2 * x + 2 * x * y * y), x * x + math.sin(y) ** 2 + (x * y) ** 2))
    check_grads(uses_star_helper_on_arrays, RNG.normal(size=3), 0.7, wrt=(0, 1))


def test_star_args_of_the_differentiated_function_is_refused():
    with pytest.raises(UnsupportedSyntaxError, match=r"\*args"):
        s2sgrad.grad(top_level_star)(1.0)


# ---------------------------------------------------------------------- numba compiles the user's code too
def numba_enumerate(x, w):
    s = 0.0
    for i, v in enumerate(x):
        s = s + w[i] * np.sin(v)
    for a, b in zip(x, w):
        s = s + a * b * b
    return s


def numba_comprehension(x):
    import numpy as np
    ys = [np.exp(v) for v in x if v > 0]
    return sum(ys)


def test_numba_backend():
    x, w = RNG.normal(size=5), RNG.normal(size=5)
    ref = s2sgrad.grad(numba_enumerate, wrt=(0, 1))(x, w)
    got = s2sgrad.grad(numba_enumerate, wrt=(0, 1), backend="numba")(x, w)
    np.testing.assert_allclose(got[0], w * np.cos(x) + w * w)
    np.testing.assert_allclose(got[1], np.sin(x) + 2 * x * w)
    np.testing.assert_allclose(ref[0], got[0])
    d = s2sgrad.grad(numba_comprehension, backend="numba")(x)
    np.testing.assert_allclose(d, np.where(x > 0, np.exp(x), 0.0))
    _, t = s2sgrad.jvp(numba_comprehension, backend="numba")(x, np.ones(5))
    assert t == pytest.approx(np.sum(np.exp(x[x > 0])))


# ---------------------------------------------------------------- np.add.at
def scatter_add(x, w):
    y = np.zeros(4)
    np.add.at(y, np.array([0, 2, 0, 3]), x * w)  # index 0 twice: both add
    return np.sum(y * y * np.arange(1.0, 5.0))


def scatter_rows(X):
    y = np.ones((3, 2))
    np.add.at(y, [0, 0, 1], np.sin(X))
    return np.sum(y ** 3)


def add_into_argument(y, x):
    np.add.at(y, [1, 1], x)
    return np.sum(y * y)


def add_at_of_a_global(x):
    np.add.at(np.zeros(3), [0], x)  # not into a variable of the function
    return x


def test_add_at_by_hand_and_against_torch():
    x, w = np.array([0.5, -1.0, 2.0, 0.3]), np.array([1.0, 2.0, -0.5, 1.5])
    y0 = x[0] * w[0] + x[2] * w[2]  # f = y0^2 + 3 y2^2 + 4 y3^2
    want = [2 * y0 * w[0], 6 * x[1] * w[1] ** 2, 2 * y0 * w[2], 8 * x[3] * w[3] ** 2]
    assert np.allclose(s2sgrad.grad(scatter_add)(x, w), want)
    X = np.array([[0.1, 0.2], [0.3, -0.4], [0.5, 0.6]])
    t = torch.tensor(X, requires_grad=True)
    y = torch.ones(3, 2, dtype=torch.float64).index_add(0, torch.tensor([0, 0, 1]), torch.sin(t))
    torch.sum(y ** 3).backward()
    assert np.allclose(s2sgrad.grad(scatter_rows)(X), t.grad.numpy())


@pytest.mark.parametrize("f, args, wrt", [
    (scatter_add, (np.array([0.5, -1.0, 2.0, 0.3]), np.array([1.0, 2.0, -0.5, 1.5])), (0, 1)),
    (scatter_add, (np.array([0.5, -1.0, 2.0, 0.3]), np.array([1.0, 2.0, -0.5, 1.5])), 1),
    (scatter_rows, (np.array([[0.1, 0.2], [0.3, -0.4], [0.5, 0.6]]),), 0),
    (add_into_argument, (np.ones(3), np.array([0.5, 0.25])), (0, 1)),
])
def test_add_at_both_modes(f, args, wrt):
    check_grads(f, *args, wrt=wrt)


def test_add_at_leaves_the_caller_array_alone_and_refuses_other_forms():
    y = np.ones(3)
    s2sgrad.grad(add_into_argument, wrt=(0, 1))(y, np.array([0.5, 0.25]))
    s2sgrad.jvp(add_into_argument, wrt=(0, 1))(y, np.array([0.5, 0.25]), np.ones(3), np.ones(2))
    assert np.array_equal(y, np.ones(3))
    with pytest.raises(UnsupportedSyntaxError, match="np.add.at"):
        s2sgrad.grad(add_at_of_a_global)(1.0)


def test_add_at_numba():
    x, w = np.array([0.5, -1.0, 2.0, 0.3]), np.array([1.0, 2.0, -0.5, 1.5])
    assert np.allclose(s2sgrad.grad(scatter_add, backend="numba")(x, w), s2sgrad.grad(scatter_add)(x, w))
