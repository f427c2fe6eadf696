"""The numba target's transposes with axes, moveaxis and swapaxes (transforms/axes_views.py,
runtime/numba.py's VIEWS): the same views as NumPy's, for every axis (negative ones too) and
strided inputs; NumPy's errors where NumPy raises; and the gradients that use them equal
the python backend's."""
import itertools

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
    # matrices: rank 3 element-wise code on strided views takes numba 20 s to compile (the
    # views themselves are checked at rank 3 above)
    views = np.moveaxis(np.swapaxes(np.transpose(x, (1, 0)), 0, -1), 1, 0)
    return np.sum(w * np.flip(views, 1)) + x.transpose(1, 0)[0, 1]


def test_a_gradient_through_every_view_equals_the_python_backend():
    r = np.random.default_rng(4)
    x, w = r.normal(size=(3, 4)), r.normal(size=(4, 3))
    compiled_grad = s2sgrad.grad(axes_everywhere, wrt=(0, 1), backend="numba")
    got, expected = compiled_grad(x, w), s2sgrad.grad(axes_everywhere, wrt=(0, 1))(x, w)
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, rtol=1e-13, atol=1e-13)
    source = compiled_grad.source
    assert "def moveaxis(" in source and "s2sgrad" not in "".join(
        line for line in source.splitlines() if line.startswith(("import", "from")))  # it stands alone
    source = "\n".join(line for line in source[source.index("def grad_axes_everywhere"):].splitlines()
                       if not line.lstrip().startswith("#"))  # the comments quote the user's code
    assert "np.moveaxis(" not in source and "np.swapaxes(" not in source and "np.transpose(x, " not in source
    assert "transpose_axes(x, (1, 0))" in source
