"""s2sgrad.grad on every corpus function, checked against finite differences,
and a few gradients derived by hand."""
import copy
import inspect
import math
import os
import sys
import zlib

import numpy as np
import pytest

import s2sgrad
import s2sgrad.testing
from s2sgrad.testing import check_grads

sys.path.insert(0, os.path.dirname(__file__))
import corpus  # noqa: E402  (tests/corpus.py, found through the path set above)

CASES = pytest.mark.parametrize("c", corpus.CORPUS, ids=[c.name for c in corpus.CORPUS])


def _points(c, n=3):
    """n points of a corpus case, from an rng seeded by its name (stable across runs)."""
    rng = np.random.default_rng(zlib.crc32(c.name.encode()))
    return [c.sample(rng) for _ in range(n)]


def test_corpus_is_large_enough():
    assert len(corpus.CORPUS) >= 70


@CASES
def test_corpus_gradient(c):
    for point in _points(c):
        check_grads(c.func, *point, wrt=c.wrt)


# --- the corpus itself, without s2sgrad ------------------------------------------------

def _coordinate_gradient(f, wrt, args, kwargs, h=1e-4):
    """Gradient by Richardson-extrapolated central differences along each coordinate."""
    params = list(inspect.signature(f).parameters)

    def partial(i, j):
        def at(step):
            moved = copy.deepcopy(list(args))
            if j is None:
                moved[i] += step
            else:
                moved[i][j] += step
            return f(*moved, **kwargs)
        coarse = (at(h) - at(-h)) / (2 * h)
        fine = (at(h / 2) - at(-h / 2)) / h
        return (4 * fine - coarse) / 3

    grads = []
    for w in wrt if isinstance(wrt, tuple) else (wrt,):
        i = w if isinstance(w, int) else params.index(w)
        if isinstance(args[i], list):
            grads.append([partial(i, j) for j in range(len(args[i]))])
        else:
            grads.append(partial(i, None))
    return tuple(grads) if isinstance(wrt, tuple) else grads[0]


@CASES
def test_corpus_points_are_smooth(c, monkeypatch):
    """Coordinate differences (step 1e-4) agree with check_grads' directional ones (1e-6).

    A point near a kink, a jump or a change of loop count would make them disagree, so a
    failure here is the corpus's fault, not s2sgrad's.
    """
    monkeypatch.setattr(s2sgrad.testing, "_reverse_gradient", _coordinate_gradient)
    for point in _points(c):
        check_grads(c.func, *point, wrt=c.wrt)


# --- gradients derived by hand ------------------------------------------------------------

def test_square_plus_sin():
    x = 0.3
    assert s2sgrad.grad(corpus.square_plus_sin)(x) == pytest.approx(2 * x + math.cos(x), rel=1e-12)


def test_int_argument_gives_a_float_gradient():
    g = s2sgrad.grad(corpus.square_plus_sin)(3)
    assert isinstance(g, float)
    assert g == pytest.approx(6 + math.cos(3), rel=1e-12)


def test_variable_power_both_arguments():
    x, y = 1.5, 2.5
    dx, dy = s2sgrad.grad(corpus.variable_power, wrt=(0, 1))(x, y)
    assert dx == pytest.approx(y * x ** (y - 1), rel=1e-12)
    assert dy == pytest.approx(x ** y * math.log(x) + 2 * y, rel=1e-12)


def test_floordiv_mod_piecewise_derivatives():
    a, b = 7.3, 2.0  # a // b = 3, a % b = 1.3
    da, db = s2sgrad.grad(corpus.floordiv_mod, wrt=("a", "b"))(a, b)
    rem = a - b * math.floor(a / b)
    assert da == pytest.approx(2 * rem, rel=1e-12)  # d(q*b)/da = 0, d(rem)/da = 1
    assert db == pytest.approx(math.floor(a / b) + 2 * rem * -math.floor(a / b), rel=1e-12)


def test_floor_ceil_trunc_have_zero_derivative():
    x, y = 0.7, -2.4  # floor -3, ceil -2, trunc -2
    dx, dy = s2sgrad.grad(corpus.floor_ceil_trunc, wrt=(0, 1))(x, y)
    assert dx == pytest.approx(-3 + -2, rel=1e-12)
    assert dy == pytest.approx(-2, rel=1e-12)


def test_compound_interest_by_name():
    p, r, n = 1000.0, 0.05, 10
    dp, dr = s2sgrad.grad(corpus.compound_interest, wrt=("principal", "rate"))(p, r, n)
    assert dp == pytest.approx((1 + r) ** n, rel=1e-12)
    assert dr == pytest.approx(n * p * (1 + r) ** (n - 1), rel=1e-12)


def test_huber_both_regions():
    g = s2sgrad.grad(corpus.huber)
    assert g(0.4) == pytest.approx(0.4, rel=1e-12)
    assert g(-2.5) == pytest.approx(-1.0, rel=1e-12)
    assert g(2.5, delta=2.0) == pytest.approx(2.0, rel=1e-12)


def test_grow_until_counts_the_multiplications():
    x = 2.0  # 2 * 1.5**4 = 10.125 >= 10 after four steps
    assert s2sgrad.grad(corpus.grow_until)(x) == pytest.approx(1.5 ** 4, rel=1e-12)


def test_newton_sqrt():
    a = 2.0
    assert s2sgrad.grad(corpus.newton_sqrt)(a) == pytest.approx(0.5 / math.sqrt(a), rel=1e-9)


def test_list_argument_gradient_is_a_list():
    w, xs = [1.0, 2.0, 3.0], [0.5, -1.0, 4.0]
    g = s2sgrad.grad(corpus.dot)(w, xs)
    assert isinstance(g, list) and all(isinstance(v, float) for v in g)
    assert g == pytest.approx(xs, rel=1e-12)


def test_closure_variable():
    x = 0.8
    assert s2sgrad.grad(corpus.scaled_square)(x) == pytest.approx(2 * 1.7 * x, rel=1e-12)


def test_value_and_grad():
    value, g = s2sgrad.value_and_grad(corpus.spread, wrt=(0, 1, 2))(0.5, -1.0, 2.0)
    assert value == pytest.approx(corpus.spread(0.5, -1.0, 2.0), rel=1e-12)
    # max(x, y, z) * min(x, y, z) = z * y, and max(x, 0.5*y) = x
    assert g == pytest.approx((1.0, 2.0, -1.0), rel=1e-12)


def test_stop_gradient_in_a_product():
    x = 1.7
    assert s2sgrad.grad(corpus.stopped_product)(x) == pytest.approx(x, rel=1e-12)  # not 2x


def test_stop_gradient_of_a_normaliser():
    x, y = 3.0, 4.0
    dx, dy = s2sgrad.grad(corpus.stopped_normalize, wrt=(0, 1))(x, y)
    assert dx == pytest.approx(1 / 5.0, rel=1e-12)
    assert dy == 0.0 and isinstance(dy, float)
