"""s2sgrad.jacobian in forward, reverse and auto mode against finite differences."""
import math

import numpy as np
import pytest

import s2sgrad

W = np.array([[0.5, -0.3, 0.2], [0.1, 0.4, -0.6], [0.3, 0.2, 0.1], [-0.2, 0.5, 0.3]])


def elementwise_and_cumsum(x):
    return np.sin(x) * x[0] + np.cumsum(x)


def affine_plus_square(x, y):
    return W @ x + y ** 2


def numbers_to_vector(x, y):
    return np.array([x * y, x + y, math.sin(x) * y])


def recurrent(h, w):
    for i in range(3):
        h = np.tanh(W[:3] @ h * w + h)
    return h


def softmax(z):
    e = np.exp(z - np.max(z))
    return e / np.sum(e)


def matrix_output(a, x):
    return np.outer(a, x) * np.sum(x ** 2)


def loop_over_entries(x, n):
    out = np.zeros(n)
    acc = 0.0
    for i in range(n):
        acc = acc * 0.5 + x[i] ** 2
        out[i] = acc * x[n - 1 - i]
    return out


def tuple_output(x, y):
    return x * y, x + math.sin(y), x ** 2


CASES = [
    (tuple_output, (0.5, 0.7), (0, 1)),
    (elementwise_and_cumsum, (np.array([0.3, -1.2, 0.8, 2.0]),), 0),
    (affine_plus_square, (np.array([0.5, -0.4, 1.1]), np.array([0.2, 0.3, -0.7, 1.5])), (0, 1)),
    (numbers_to_vector, (0.7, -1.3), (0, 1)),
    (recurrent, (np.array([0.1, -0.2, 0.3]), 0.8), (0, 1)),
    (softmax, (np.array([0.5, -1.0, 2.0, 0.1]),), 0),
    (matrix_output, (np.array([1.0, -2.0]), np.array([0.3, 0.6, -0.9])), (0, 1)),
    (loop_over_entries, (np.array([0.4, -0.8, 1.2, 0.5]), 4), 0),
]


def fd_jacobian(f, args, i, eps=1e-6):
    """Central differences, one input element at a time: out.shape + in.shape."""
    x = np.asarray(args[i], dtype=float)
    out = np.asarray(f(*args), dtype=float)
    jac = np.zeros(out.shape + x.shape)
    for k in np.ndindex(x.shape or ()):
        step = np.zeros_like(x)
        step[k] = eps
        plus = list(args)
        minus = list(args)
        plus[i] = x + step if x.shape else float(x + step)
        minus[i] = x - step if x.shape else float(x - step)
        jac[(Ellipsis,) + k] = (np.asarray(f(*plus)) - np.asarray(f(*minus))) / (2 * eps)
    return jac


@pytest.mark.parametrize("mode", ["forward", "reverse", "auto"])
@pytest.mark.parametrize("f, args, wrt", CASES, ids=[c[0].__name__ for c in CASES])
def test_jacobian_equals_finite_differences(f, args, wrt, mode):
    jac = s2sgrad.jacobian(f, wrt=wrt, mode=mode)(*args)
    blocks = jac if isinstance(wrt, tuple) else (jac,)
    positions = wrt if isinstance(wrt, tuple) else (wrt,)
    assert len(blocks) == len(positions)
    for block, i in zip(blocks, positions):
        expected = fd_jacobian(f, args, i)
        assert np.shape(block) == expected.shape
        np.testing.assert_allclose(block, expected, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("f, args, wrt", CASES, ids=[c[0].__name__ for c in CASES])
def test_forward_and_reverse_agree_to_rounding(f, args, wrt):
    forward = s2sgrad.jacobian(f, wrt=wrt, mode="forward")(*args)
    reverse = s2sgrad.jacobian(f, wrt=wrt, mode="reverse")(*args)
    for a, b in zip(forward if isinstance(wrt, tuple) else (forward,),
                    reverse if isinstance(wrt, tuple) else (reverse,)):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


def test_auto_picks_the_mode_with_fewer_passes():
    wide = s2sgrad.jacobian(lambda_free_sum, mode="auto")  # 50 inputs, 1 output: reverse
    wide(np.linspace(0.1, 1.0, 50))
    assert wide._reverse is not None and wide._forward is None
    tall = s2sgrad.jacobian(numbers_to_vector, wrt=(0, 1), mode="auto")  # 2 inputs, 3 outputs: forward
    tall(0.7, -1.3)
    assert tall._forward is not None and tall._reverse is None


def lambda_free_sum(x):
    return np.sum(np.sin(x) ** 2)


def elementwise(x):
    return np.sin(x) * x[0] + x ** 2


def test_forward_jacobian_is_one_vector_mode_pass():
    jac = s2sgrad.jacobian(elementwise, mode="forward")
    x = np.array([0.3, -1.2, 0.8, 2.0])
    np.testing.assert_allclose(jac(x), fd_jacobian(elementwise, (x,), 0), rtol=1e-6, atol=1e-8)
    source = jac._forward.source
    assert "Each tangent has a leading axis of n_dirs directions" in source
    # element-wise tangents broadcast along it: no loop over directions
    assert "return (np.sin(x) * x[0] + x ** 2, t_x[:, 0][:, None] * np.sin(x) + t_x * (x[0] * np.cos(x) + 2 * x))" \
        in source


def test_jacobian_of_a_number_to_number_function_is_a_float():
    jac = s2sgrad.jacobian(lambda_free_sum, mode="forward")(np.array([0.3]))
    assert jac.shape == (1,)
    d = s2sgrad.jacobian(math_square, mode="forward")(1.5)
    assert isinstance(d, float) and d == pytest.approx(3.0)


def math_square(x):
    return x * x


def test_unknown_mode_is_refused():
    with pytest.raises(ValueError, match="mode="):
        s2sgrad.jacobian(math_square, mode="sideways")


def layer(x, w):
    h = np.tanh(W @ x + w)
    return np.sum(h * h, axis=0) + h


def test_matmul_and_sum_take_all_directions_at_once():
    x, w = np.array([0.5, -0.4, 1.1]), 0.3
    jac = s2sgrad.jacobian(layer, wrt=(0, 1), mode="forward")
    got = jac(x, w)
    for block, i in zip(got, (0, 1)):
        np.testing.assert_allclose(block, fd_jacobian(layer, (x, w), i), rtol=1e-6, atol=1e-8)
    source = jac._forward.source
    assert "t_matmul_1 = t_x @ W.T" in source and "t_sum_3 = np.sum(t_arg_2, axis=1)" in source
    assert "for j" not in source  # no loop over the directions
