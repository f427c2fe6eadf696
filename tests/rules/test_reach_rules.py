"""Rules for functions real code uses (issue 13): np.atleast_1d/2d/3d, np.triu/tril,
np.diagonal, np.roll, np.sort, np.mod / % / np.fmod / math.fmod, np.clip's keyword
spellings, and a reduction of a guessed rank.

Each function is checked against central differences in both modes (check_grads), and
against torch where torch has the same function (torch.triu, torch.diagonal,
torch.roll, torch.sort, torch.remainder, torch.fmod), and a few on backend="numba".
"""
import math

import numpy as np
import pytest
import torch

import s2sgrad
from s2sgrad.testing import check_grads

RNG = np.random.default_rng(13)
W34 = RNG.uniform(-1.5, 1.5, (3, 4))


# --- the functions under test -----------------------------------------------------------
def atleast(x):
    return np.sum(np.atleast_1d(x) * 2.0) + np.sum(np.atleast_2d(x) ** 2) + np.sum(np.atleast_3d(x) ** 3)


def atleast_scalar(p):
    return np.sum(np.atleast_2d(p) * np.ones((1, 1)) * 3.0)


def triangles(a, w):
    return np.sum(w * np.triu(a, k=1)) + np.sum(w * np.tril(a * a, -1))


def diagonals(a):
    return np.sum(np.diagonal(a) ** 3) + np.sum(a.diagonal(1) * 2.0) + np.sum(a.diagonal(offset=-2) ** 2)


def rolled(a, w):
    return np.sum(w * np.roll(a, 1)) + np.sum(w * np.roll(a, -1, axis=1) ** 2) \
        + np.sum(w * np.roll(a, (2, 1), axis=(1, 0)) ** 3)


def roll_by(a, w, s):
    return np.sum(w * np.roll(a, s, axis=0))


def sorted_weighted(x, w):
    return np.sum(w * np.sort(x))


def sorted_rows(a, w):
    return np.sum(w * np.sort(a * a, axis=1)) + np.sum(np.sort(a, axis=None) * np.arange(12.0))


def remainders(x, y):
    return np.sum(np.mod(x, y) * x) + np.sum((x % y) ** 2) + np.sum(np.remainder(y, x))


def fmods(x, y):
    return np.sum(np.fmod(x, y) ** 2)


def scalar_fmod(x, y):
    return math.fmod(x, y) * x + x % y


def clipped(x):
    return np.sum(np.clip(x, a_min=-0.5, a_max=0.5) ** 2) + np.sum(x.clip(min=-0.2, max=0.3) * 3.0) \
        + np.sum(x.clip(0.0) * x) + np.sum(np.clip(x, -0.4, a_max=0.1))


def sum_of_squares_axis(x):
    return np.sum(x ** 2, axis=0)


# --- finite differences, both modes -------------------------------------------------------
def _apart(*shape):
    n = int(np.prod(shape))
    return (RNG.permutation(n) + RNG.uniform(0.2, 0.8, n)).reshape(shape) - n / 2


@pytest.mark.parametrize("f, args, wrt", [
    (atleast, (RNG.standard_normal(4),), 0),
    (atleast, (RNG.standard_normal((2, 3)),), 0),
    (atleast_scalar, (0.7,), 0),
    (triangles, (RNG.standard_normal((3, 4)), W34), 0),
    (triangles, (RNG.standard_normal((2, 3, 4)), W34), 0),
    (diagonals, (RNG.standard_normal((4, 5)),), 0),
    (rolled, (RNG.standard_normal((3, 4)), W34), 0),
    (roll_by, (RNG.standard_normal((3, 4)), W34, 2), 0),
    (sorted_weighted, (_apart(6), RNG.uniform(-1, 1, 6)), 0),
    (sorted_rows, (_apart(3, 4), W34), 0),
    (remainders, (RNG.uniform(0.1, 4.0, 5), RNG.uniform(0.7, 1.3, 5) * RNG.choice([-1, 1], 5)), (0, 1)),
    (fmods, (RNG.uniform(-4.0, 4.0, 5), RNG.uniform(0.7, 1.3, 5) * RNG.choice([-1, 1], 5)), (0, 1)),
    (scalar_fmod, (-3.3, 0.8), (0, 1)),
    (scalar_fmod, (5.2, -1.1), (0, 1)),
    (clipped, (np.array([-0.9, -0.3, -0.1, 0.05, 0.2, 0.45, 0.8]),), 0),
    (sum_of_squares_axis, (RNG.standard_normal(5),), 0),
], ids=lambda v: getattr(v, "__name__", "") if callable(v) else "")
def test_matches_finite_differences(f, args, wrt):
    check_grads(f, *args, wrt=wrt)


@pytest.mark.parametrize("f, args", [
    (sorted_rows, (_apart(3, 4), W34)),          # unsort / sort_like, each other's adjoint
    (sorted_weighted, (_apart(5), RNG.uniform(-1, 1, 5))),
    (diagonals, (RNG.standard_normal((4, 5)),)),  # undiagonal's own row
    (triangles, (RNG.standard_normal((4,)), RNG.uniform(-1, 1, (4, 4)))),  # a vector: unbroadcast
], ids=["sort-rows", "sort-vector", "diagonal", "triu-of-vector"])
def test_second_derivatives(f, args):
    check_grads(f, *args, order=2)


def test_sum_over_axis_0_of_a_vector_is_a_number_before_any_call():
    """Issue 13: np.sum(x**2, axis=0) was refused as "array(ndim=-1)" (x guessed a number,
    its reduction a rank below zero) before the first call brought x's real kind."""
    g = s2sgrad.grad(sum_of_squares_axis)
    assert "def " in g.source  # generated for guessed kinds, without a refusal
    x = np.array([0.5, -1.5, 2.0])
    np.testing.assert_allclose(g(x), 2 * x)
    value, tangent = s2sgrad.jvp(sum_of_squares_axis)(x, np.array([1.0, 0.0, 2.0]))
    assert value == pytest.approx(6.5) and tangent == pytest.approx(2 * 0.5 + 2 * 2 * 2.0)


def test_sum_over_axis_0_of_a_matrix_is_still_an_array_for_grad():
    with pytest.raises(s2sgrad.NonScalarOutputError):
        s2sgrad.grad(sum_of_squares_axis)(np.ones((2, 3)))


# --- against torch ---------------------------------------------------------------------------
def _torch_grads(fn, *arrays):
    ts = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in arrays]
    fn(*ts).backward()
    return [t.grad.numpy() for t in ts]


def test_triangles_diagonals_and_rolls_match_torch():
    a = RNG.standard_normal((3, 4))
    want = _torch_grads(lambda t: torch.sum(torch.tensor(W34) * torch.triu(t, 1))
                        + torch.sum(torch.tensor(W34) * torch.tril(t * t, -1)), a)
    np.testing.assert_allclose(s2sgrad.grad(triangles)(a, W34), want[0], rtol=1e-12)
    a = RNG.standard_normal((4, 5))
    want = _torch_grads(lambda t: torch.sum(torch.diagonal(t) ** 3) + torch.sum(torch.diagonal(t, 1) * 2.0)
                        + torch.sum(torch.diagonal(t, -2) ** 2), a)
    np.testing.assert_allclose(s2sgrad.grad(diagonals)(a), want[0], rtol=1e-12)
    a = RNG.standard_normal((3, 4))
    w = torch.tensor(W34)
    want = _torch_grads(lambda t: torch.sum(w * torch.roll(t, 1)) + torch.sum(w * torch.roll(t, -1, 1) ** 2)
                        + torch.sum(w * torch.roll(t, (2, 1), (1, 0)) ** 3), a)
    np.testing.assert_allclose(s2sgrad.grad(rolled)(a, W34), want[0], rtol=1e-12)


def test_sort_matches_torch():
    a = _apart(3, 4)
    want = _torch_grads(lambda t: torch.sum(torch.tensor(W34) * torch.sort(t * t, dim=1).values)
                        + torch.sum(torch.sort(t.flatten()).values * torch.arange(12.0, dtype=torch.float64)), a)
    np.testing.assert_allclose(s2sgrad.grad(sorted_rows)(a, W34), want[0], rtol=1e-12)


def test_sort_ties_follow_the_stable_order():
    """Tied values: the first occurrence takes the first sorted place (NumPy's stable order)."""
    x = np.array([2.0, 1.0, 2.0, 1.0, 0.5])  # sorted: 0.5 (4), 1 (1), 1 (3), 2 (0), 2 (2)
    w = np.array([10.0, 20.0, 30.0, 40.0, 50.0])
    np.testing.assert_array_equal(s2sgrad.grad(sorted_weighted)(x, w), [40.0, 20.0, 50.0, 30.0, 10.0])
    _, t = s2sgrad.jvp(sorted_weighted)(x, w, np.array([1.0, 2.0, 3.0, 4.0, 5.0]))
    assert t == 10 * 5 + 20 * 2 + 30 * 4 + 40 * 1 + 50 * 3


def test_remainders_match_torch():
    """d/dx = 1, d/dy = -floor(x / y) (remainder) or -trunc(x / y) (fmod), as torch."""
    x, y = np.array([3.7, -2.2, 0.4, -5.1]), np.array([1.1, 0.9, -0.7, -1.3])
    want = _torch_grads(lambda a, b: torch.sum(torch.remainder(a, b) * a) + torch.sum(torch.remainder(a, b) ** 2)
                        + torch.sum(torch.remainder(b, a)), x, y)
    for got, w in zip(s2sgrad.grad(remainders, wrt=(0, 1))(x, y), want):
        np.testing.assert_allclose(got, w, rtol=1e-12)
    want = _torch_grads(lambda a, b: torch.sum(torch.fmod(a, b) ** 2), x, y)
    for got, w in zip(s2sgrad.grad(fmods, wrt=(0, 1))(x, y), want):
        np.testing.assert_allclose(got, w, rtol=1e-12)
    dx, dy = s2sgrad.grad(scalar_fmod, wrt=(0, 1))(-3.3, 0.8)
    fm = math.fmod(-3.3, 0.8)
    assert dx == pytest.approx(fm + (-3.3) * 1.0 + 1.0) and dy == pytest.approx(-3.3 * 4.0 + -math.floor(-3.3 / 0.8))


def test_clip_keyword_spellings_pass_inside_only():
    x = np.array([-0.9, -0.3, -0.1, 0.05, 0.2, 0.45, 0.8])
    inside_a = (x >= -0.5) & (x <= 0.5)
    inside_m = (x >= -0.2) & (x <= 0.3)
    want = 2 * np.clip(x, -0.5, 0.5) * inside_a + 3.0 * inside_m + np.where(x >= 0, 2 * x, 0.0) \
        + ((x >= -0.4) & (x <= 0.1))
    np.testing.assert_allclose(s2sgrad.grad(clipped)(x), want, rtol=1e-12)


def test_several_arrays_to_atleast_nd_are_refused():
    def pair(x, y):
        a, b = np.atleast_1d(x, y)
        return np.sum(a * b)
    with pytest.raises(s2sgrad.S2SGradError, match="positional argument"):
        s2sgrad.grad(pair)(np.ones(2), np.ones(2))


def test_sort_with_order_is_refused():
    def by_field(x):
        return np.sum(np.sort(x, order="f"))
    with pytest.raises(s2sgrad.S2SGradError, match="order="):
        s2sgrad.grad(by_field)(np.ones(3))


# --- numba ---------------------------------------------------------------------------------
def numba_mix(x, w):
    return np.sum(w * np.sort(x)) + np.sum(np.roll(x, 2) * w) + np.sum(np.triu(np.outer(x, w), 1))


def test_sort_roll_triu_on_numba():
    x, w = _apart(5), RNG.uniform(-1, 1, 5)
    got = s2sgrad.grad(numba_mix, backend="numba")(x, w)
    np.testing.assert_allclose(got, s2sgrad.grad(numba_mix)(x, w), rtol=1e-12)
    t = RNG.standard_normal(5)
    _, tangent = s2sgrad.jvp(numba_mix, backend="numba")(x, w, t)
    assert tangent == pytest.approx(np.sum(got * t))


# ---------------------------------------------------------------------- np.cross, index arrays
def cross_energy(a, b):
    return np.sum(np.cross(a, b) ** 2)


def cross_sine(a, b):
    return np.sum(np.sin(np.cross(a, b)))


def pairwise_products(x):
    rows, cols = np.tril_indices(x.shape[0], -1)  # integers: constants of the shape
    return np.sum(x[rows] * x[cols])


RNG = np.random.default_rng(13)


@pytest.mark.parametrize("a, b", [(RNG.normal(size=3), RNG.normal(size=3)),
                                  (RNG.normal(size=(4, 3)), RNG.normal(size=3)),  # broadcast
                                  (RNG.normal(size=(2, 1, 3)), RNG.normal(size=(5, 3)))])
def test_cross_matches_torch(a, b):
    ta, tb = (torch.tensor(v, requires_grad=True) for v in (a, b))
    torch.sum(torch.sin(torch.linalg.cross(*torch.broadcast_tensors(ta, tb)))).backward()
    d_a, d_b = s2sgrad.grad(cross_sine, wrt=(0, 1))(a, b)
    np.testing.assert_allclose(d_a, ta.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(d_b, tb.grad.numpy(), rtol=1e-12)
    check_grads(cross_sine, a, b, wrt=(0, 1))  # forward mode too
    check_grads(cross_energy, a, b, wrt=(0, 1), order=2)


def test_cross_hessian_matches_torch():
    a, b = np.array([1.0, 2.0, 3.0]), np.array([0.5, -1.0, 2.0])
    tb = torch.tensor(b)
    expected = torch.autograd.functional.hessian(
        lambda v: torch.sum(torch.linalg.cross(v, tb) ** 2), torch.tensor(a))
    np.testing.assert_allclose(s2sgrad.hessian(cross_energy, wrt=0)(a, b), expected.numpy(), rtol=1e-12)


@pytest.mark.filterwarnings("ignore:Arrays of 2-dimensional vectors are deprecated")
def test_cross_of_2_vectors_by_hand():
    a, b = np.array([0.3, -1.2]), np.array([[2.0, 0.5], [-1.0, 0.7]])
    z = a[0] * b[:, 1] - a[1] * b[:, 0]  # NumPy gives the third entry only
    d_a, d_b = s2sgrad.grad(cross_sine, wrt=(0, 1))(a, b)
    np.testing.assert_allclose(d_a, [np.sum(np.cos(z) * b[:, 1]), -np.sum(np.cos(z) * b[:, 0])], rtol=1e-12)
    np.testing.assert_allclose(d_b, np.stack([-np.cos(z) * a[1], np.cos(z) * a[0]], axis=1), rtol=1e-12)


def test_cross_axis_keywords_are_refused():
    def along_first_axis(a, b):
        return np.sum(np.cross(a, b, axis=0))
    with pytest.raises(s2sgrad.errors.S2SGradError, match="axis"):
        s2sgrad.grad(along_first_axis)(np.ones((3, 2)), np.ones((3, 2)))


@pytest.mark.parametrize("n", [1, 3, 5])
def test_index_arrays_are_constants(n):
    x = RNG.normal(size=n)
    # by hand: f = sum over i > j of x_i x_j; df/dx_k = sum(x) - x_k
    np.testing.assert_allclose(s2sgrad.grad(pairwise_products)(x), np.sum(x) - x, rtol=1e-12)
    check_grads(pairwise_products, x)


def test_cross_on_numba():
    a, b = RNG.normal(size=(4, 3)), RNG.normal(size=(4, 3))
    np.testing.assert_allclose(np.concatenate(s2sgrad.grad(cross_sine, wrt=(0, 1), backend="numba")(a, b)),
                               np.concatenate(s2sgrad.grad(cross_sine, wrt=(0, 1))(a, b)), rtol=1e-12)
