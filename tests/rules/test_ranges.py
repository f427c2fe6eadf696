"""np.linspace and np.arange with ends that carry a derivative: start + (stop - start) * t
and start + k * step (they were constants, a silent zero).

Oracles: hand derivations, central differences, torch (torch.linspace takes numbers only,
so the points are built as torch does them: start + (stop - start) * k / (num - 1)).
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

import s2sgrad
from s2sgrad.errors import UnsupportedCallError
from s2sgrad.testing import check_grads


def squares_on_a_grid(a):
    return np.sum(np.linspace(0.0, a, 5) ** 2)


def between(a, b, w):
    return np.sum(np.sin(np.linspace(a, b, 7)) * w)


def open_ended(a, b):
    return np.sum(np.exp(np.linspace(a, b, num=4, endpoint=False)))


def single_point(a, b):
    return np.sum(np.linspace(a, b, 1)) * b


def stepped(step):
    return np.sum(np.arange(0.0, 3.0, step) ** 2)


def shifted(a):
    return np.sum(np.cos(np.arange(a, a + 3.0)))


def counted(n, a):
    return np.sum(np.arange(n) * a)


def float_stop_only(a):
    return np.sum(np.arange(a)) + a


def test_by_hand():
    # the grid a * [0, 1/4, 1/2, 3/4, 1]: a^2 * 15/8
    assert np.isclose(s2sgrad.grad(squares_on_a_grid)(2.0), 2 * 2.0 * 15 / 8)
    # np.arange(0, 3, 0.7) = 0.7 * [0, 1, 2, 3, 4]: sum of squares 0.49 * 30, d/dstep 2 * 0.7 * 30
    assert np.isclose(s2sgrad.grad(stepped)(0.7), 2 * 0.7 * 30)
    # np.arange(3.5) is 0, 1, 2, 3 whatever the stop: only `+ a` carries a derivative
    assert s2sgrad.grad(float_stop_only)(3.5) == 1.0
    # one point: linspace(a, b, 1) is [a]
    assert np.allclose(s2sgrad.grad(single_point, wrt=(0, 1))(0.3, 2.0), (2.0, 0.3))


@pytest.mark.parametrize("f, args, wrt", [
    (squares_on_a_grid, (1.3,), 0), (squares_on_a_grid, (-0.4,), 0),
    (between, (0.2, 1.7, np.arange(7.0)), (0, 1)), (between, (0.2, 1.7, np.ones(7)), 1),
    (open_ended, (0.1, 0.9), (0, 1)), (single_point, (0.3, 2.0), (0, 1)),
    (stepped, (0.7,), 0), (stepped, (0.45,), 0), (shifted, (0.3,), 0), (counted, (4, 0.5), 1),
])
def test_against_differences(f, args, wrt):
    check_grads(f, *args, wrt=wrt)


def test_against_torch():
    a = torch.tensor(0.2, dtype=torch.float64, requires_grad=True)
    b = torch.tensor(1.7, dtype=torch.float64, requires_grad=True)
    w = torch.arange(7.0, dtype=torch.float64)
    points = a + (b - a) * torch.arange(7, dtype=torch.float64) / 6
    torch.sum(torch.sin(points) * w).backward()
    ours = s2sgrad.grad(between, wrt=(0, 1))(0.2, 1.7, np.arange(7.0))
    assert np.allclose(ours, (a.grad.item(), b.grad.item()))


def array_ends(a):
    return np.sum(np.linspace(a, a * 2.0, 3))


def with_dtype(a):
    return np.sum(np.arange(0.0, 3.0, a, dtype=np.float32))


def with_step(a):
    points, step = np.linspace(0.0, a, 5, retstep=True)
    return np.sum(points) * step


@pytest.mark.parametrize("f, arg, what", [(array_ends, np.array([1.0, 2.0]), "array `start`"),
                                          (with_dtype, 0.5, "dtype="), (with_step, 1.0, "retstep=True")])
def test_unsupported_forms_refused(f, arg, what):
    for make in (s2sgrad.grad, s2sgrad.jvp):
        with pytest.raises(UnsupportedCallError, match=what):
            d = make(f)
            d(arg) if make is s2sgrad.grad else d(arg, np.ones_like(arg))


def test_numba_backend():
    assert np.isclose(s2sgrad.grad(squares_on_a_grid, backend="numba")(2.0), 2 * 2.0 * 15 / 8)
    assert np.isclose(s2sgrad.grad(stepped, backend="numba")(0.7), 2 * 0.7 * 30)
