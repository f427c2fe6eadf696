"""The numba target's transposes with axes, moveaxis and swapaxes (transforms/axes_views.py,
runtime/numba.py's VIEWS): the same views as NumPy's, for every axis (negative ones too) and
strided inputs; NumPy's errors where NumPy raises; and the gradients that use them equal
the python backend's."""
import itertools
import sys

import numba
import numpy as np
import pytest

import s2sgrad
from s2sgrad.runtime import numba as compiled

@numba.njit
def _moved(a, s, d):
    return compiled.moveaxis(a, s, d)


@numba.njit
def _swapped(a, i, j):
    return compiled.swapaxes(a, i, j)


@numba.njit
def _transposed(a, axes):
    return compiled.transpose_axes(a, axes)


ARRAYS = [np.arange(24.0).reshape(2, 3, 4), np.arange(120.0).reshape(4, 5, 6)[::2, 1:, ::-3]]


@pytest.mark.parametrize("a", ARRAYS, ids=["contiguous", "strided"])
def test_views_equal_numpy_for_every_axis(a):
    for s, d in itertools.product(range(-3, 3), repeat=2):
        for got, expected in [(_moved(a, s, d), np.moveaxis(a, s, d)), (_swapped(a, s, d), np.swapaxes(a, s, d))]:
            assert got.shape == expected.shape and np.array_equal(got, expected), (s, d)
    for axes in itertools.permutations(range(3)):
        for signs in itertools.product((0, -3), repeat=3):
            shifted = tuple(k + m for k, m in zip(axes, signs))  # -3 + 0 is axis 0 too
            assert np.array_equal(_transposed(a, shifted), np.transpose(a, shifted)), shifted


def test_views_share_memory_as_numpy_does():
    a = np.zeros((2, 3, 4))
    _moved(a, 0, -1)[1, 2, 0] = 5.0
    assert a[0, 1, 2] == 5.0


@pytest.mark.parametrize("call", [lambda a: _moved(a, 3, 0), lambda a: _moved(a, 0, -4),
                                  lambda a: _swapped(a, 0, 3), lambda a: _transposed(a, (0, 0, 1)),
                                  lambda a: _transposed(a, (0, 1, 3))])
def test_axes_numpy_refuses_raise(call):
    with pytest.raises(ValueError):
        call(ARRAYS[0])


def axes_everywhere(x, w):
    y = np.transpose(x, (2, 0, 1)) * w
    z = np.swapaxes(y, 0, -1)
    m = np.moveaxis(z, 1, 0)
    return np.sum(m * np.flip(m, 1) + x.transpose(1, 2, 0)[0, 0, 0])


def test_a_gradient_through_every_view_equals_the_python_backend():
    r = np.random.default_rng(4)
    x, w = r.normal(size=(2, 3, 4)), r.normal(size=(4, 2, 3))
    compiled_grad = s2sgrad.grad(axes_everywhere, wrt=(0, 1), backend="numba")
    got, expected = compiled_grad(x, w), s2sgrad.grad(axes_everywhere, wrt=(0, 1))(x, w)
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, rtol=1e-13, atol=1e-13)
    source = compiled_grad.source
    assert "def moveaxis(" in source
    source = "\n".join(line for line in source[source.index("def grad_axes_everywhere"):].splitlines()
                       if not line.lstrip().startswith("#"))  # the comments quote the user's code
    assert "np.moveaxis(" not in source and "np.swapaxes(" not in source and "np.transpose(x, " not in source
    assert "transpose_axes(x, (2, 0, 1))" in source


def test_the_views_stand_alone_in_the_module():
    """The module defines each helper it calls (no import of s2sgrad)."""
    g = s2sgrad.grad(axes_everywhere, wrt=0, backend="numba")
    g(np.ones((2, 3, 4)), np.ones((4, 2, 3)))
    assert "s2sgrad" not in "".join(line for line in g.source.splitlines() if line.startswith(("import", "from")))
    assert sys.modules.get("s2sgrad") is not None
