"""Array rules that gave silently wrong derivatives or raw crashes: each reproduction, with
variants, against central differences (check_grads), hand derivations or torch.autograd;
forms without a rule are refused with a positioned error."""
import inspect

import numpy as np
import pytest
import scipy.special

import s2sgrad
from s2sgrad.errors import S2SGradError, UnsupportedCallError
from s2sgrad.testing import check_grads

torch = pytest.importorskip("torch")
torch.set_default_dtype(torch.float64)

RNG = np.random.default_rng(7)
MODES = ["reverse", "forward"]


def _derivative(f, args, wrt, mode, backend="python"):
    if mode == "reverse":
        return s2sgrad.grad(f, wrt=wrt, backend=backend)(*args)
    return s2sgrad.jacobian(f, wrt=wrt, mode="forward", backend=backend)(*args)


def _refused(f, args, mode, what, error=UnsupportedCallError):
    """The derivative is refused at f's line, with its source line, naming `what`."""
    with pytest.raises(error) as info:
        _derivative(f, args, 0, mode)
    text = str(info.value)
    lines, start = inspect.getsourcelines(f)
    line = next(k for k, src in enumerate(lines) if "return" in src) + start
    assert f"{__file__}:{line}:" in text, text
    assert lines[line - start].strip() in text, text
    assert what in text, text


# --- 1: np.full / np.full_like with an active fill value ------------------------------------
def full_vector(a):
    return np.sum(np.full(3, a) * np.arange(3.0))


def full_matrix_of_vector(v, w):
    return np.sum(np.full((2, 3), v) ** 2 * w)


def full_like_fill(x, a):
    return np.sum(np.full_like(x, a) * x)


def full_size_one(a):
    return np.sum(np.full((1, 1), a * a))


@pytest.mark.parametrize("mode", MODES)
def test_full_fill_value_reproduction(mode):
    # d/da sum(a * [0, 1, 2]) = 3, not 0
    assert _derivative(full_vector, (2.0,), 0, mode) == pytest.approx(3.0)


@pytest.mark.parametrize("mode", MODES)
def test_full_like_both_arguments(mode):
    x = RNG.standard_normal(4)
    dx, da = _derivative(full_like_fill, (x, 1.5), (0, 1), mode)
    np.testing.assert_allclose(dx, np.full(4, 1.5))  # d/dx_i a x_i = a
    assert da == pytest.approx(np.sum(x))


def test_full_variants_against_differences():
    check_grads(full_vector, 2.0)
    check_grads(full_matrix_of_vector, RNG.standard_normal(3), RNG.standard_normal((2, 3)), wrt=(0, 1))
    check_grads(full_matrix_of_vector, RNG.standard_normal(3), RNG.standard_normal((2, 3)), wrt=1)
    check_grads(full_like_fill, RNG.standard_normal((2, 3)), 0.7, wrt=(0, 1))
    check_grads(full_like_fill, RNG.standard_normal((2, 3)), 0.7, wrt=1)
    check_grads(full_size_one, 1.3)
    assert s2sgrad.grad(full_size_one)(1.3) == pytest.approx(2.6)


def test_full_numba():
    assert s2sgrad.grad(full_vector, backend="numba")(2.0) == pytest.approx(3.0)


def full_with_dtype(a):
    return np.sum(np.full(3, a, dtype=np.float32))


@pytest.mark.parametrize("mode", MODES)
def test_full_with_dtype_is_refused(mode):
    _refused(full_with_dtype, (2.0,), mode, "np.full with dtype=")


# --- 2: np.array of a Python list of numbers --------------------------------------------------
def array_of_literal_list(a, b):
    xs = [a, b * a]
    return np.sum(np.array(xs) ** 2)


def array_of_appended(a):
    xs = []
    for i in range(3):
        xs.append(a * i)
    v = np.array(xs)
    return np.sum(v * v)


def array_indexed(a, b):
    xs = []
    xs.append(a)
    xs.append(a * b)
    v = np.array(xs)
    return v[1] * v[0] + np.dot(v, v)


def array_one_element(a):
    xs = [a * a]
    return np.array(xs)[0] * 3.0


@pytest.mark.parametrize("mode", MODES)
def test_array_of_list_reproduction(mode):
    da, db = _derivative(array_of_literal_list, (2.0, 3.0), (0, 1), mode)
    assert (da, db) == (pytest.approx(2 * 2.0 * (1 + 9.0)), pytest.approx(2 * 3.0 * 4.0))
    assert _derivative(array_of_appended, (2.0,), 0, mode) == pytest.approx(10 * 2.0)  # 5 a^2


def test_array_of_list_variants():
    check_grads(array_of_literal_list, 2.0, 3.0, wrt=(0, 1))
    check_grads(array_of_literal_list, 2.0, 3.0, wrt=1)
    check_grads(array_of_appended, -1.5)
    check_grads(array_indexed, 0.8, -1.2, wrt=(0, 1))
    check_grads(array_indexed, 0.8, -1.2, wrt=1)
    check_grads(array_one_element, 1.7)


# --- 3: np.sum / np.mean of a list ------------------------------------------------------------
def sum_of_numbers(a):
    return np.sum([a, a * a])


def sum_of_arrays_axis0(x):
    return np.sum(np.sum([x, x * x], axis=0) ** 2)


def mean_of_arrays(x, a):
    return np.mean([x, a * x]) * a


def mean_axis0(x):
    return np.sum(np.mean([x, x * x], axis=0) ** 2)


def mean_tuple(a, b):
    return np.mean((a, 3.0, a * b))


def sum_appended(x):
    xs = []
    for i in range(3):
        xs.append(x * i)
    return np.sum(xs)


def mean_appended(x):
    xs = []
    for i in range(1, 3):
        xs.append(x ** i)
    return np.sum(np.mean(xs, axis=0) * x)


def sum_list_axis1(x):
    return np.sum(np.sum([x, x * x], axis=1))


@pytest.mark.parametrize("mode", MODES)
def test_sum_of_list_reproduction(mode):
    assert _derivative(sum_of_numbers, (2.0,), 0, mode) == pytest.approx(5.0)  # 1 + 2a
    x = np.arange(1.0, 4.0)
    np.testing.assert_allclose(_derivative(sum_appended, (x,), 0, mode), np.full(3, 3.0))


def test_sum_mean_of_list_variants():
    x = RNG.standard_normal(3)
    check_grads(sum_of_numbers, -0.4)
    check_grads(sum_of_arrays_axis0, x)
    check_grads(mean_of_arrays, x, 1.3, wrt=(0, 1))
    check_grads(mean_of_arrays, x, 1.3, wrt=1)
    check_grads(mean_axis0, x)
    check_grads(mean_tuple, 2.0, 3.0, wrt=(0, 1))
    check_grads(sum_appended, 2.0)
    check_grads(sum_appended, x)
    check_grads(mean_appended, RNG.standard_normal((2, 2)))
    da, db = s2sgrad.grad(mean_tuple, wrt=(0, 1))(2.0, 3.0)
    assert (da, db) == (pytest.approx(4 / 3), pytest.approx(2 / 3))


@pytest.mark.parametrize("mode", MODES)
def test_sum_of_list_other_axis_is_refused(mode):
    _refused(sum_list_axis1, (np.ones((2, 2)),), mode, "np.sum of a list with an axis")


# --- 4: np.linalg.norm at the zero vector -----------------------------------------------------
def norm(x):
    return np.linalg.norm(x)


def norm_rows(x):
    return np.sum(np.linalg.norm(x, axis=1) * np.arange(1.0, 3.0))


def _torch_grad(f, x):
    t = torch.tensor(x, requires_grad=True)
    f(t).backward()
    return t.grad.numpy()


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("backend", ["python", "numba"])
def test_norm_at_zero_is_the_subgradient(mode, backend):
    for x in (np.zeros(3), np.zeros(1)):
        g = _derivative(norm, (x,), 0, mode, backend)
        np.testing.assert_array_equal(g, _torch_grad(torch.linalg.norm, x))
        np.testing.assert_array_equal(g, np.zeros_like(x))


@pytest.mark.parametrize("mode", MODES)
def test_norm_rows_with_a_zero_row(mode):
    x = np.array([[0.0, 0.0, 0.0], [1.0, -2.0, 2.0]])
    want = _torch_grad(lambda t: torch.sum(torch.linalg.norm(t, dim=1) * torch.arange(1.0, 3.0)), x)
    np.testing.assert_allclose(_derivative(norm_rows, (x,), 0, mode), want, rtol=1e-12)
    check_grads(norm_rows, RNG.standard_normal((2, 3)))


# --- 5: det (singular, stacks), inv of stacks, concatenate axis=None, dot of numbers, logsumexp
def det(a):
    return np.linalg.det(a)


def det_stack(a):
    return np.sum(np.linalg.det(a) ** 2)


def inv_stack(a):
    return np.sum(np.linalg.inv(a) ** 2 * np.arange(1.0, 4.0))


def slogdet_stack(a):
    sign, logdet = np.linalg.slogdet(a)
    return np.sum(logdet * np.arange(1.0, 3.0))


def _torch_det(x):
    return _torch_grad(torch.linalg.det, x)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("backend", ["python", "numba"])
def test_det_of_singular_matrices(mode, backend):
    # the cofactor matrix, by hand: [[d, -c], [-b, a]] for [[a, b], [c, d]]
    s = np.array([[1.0, 2.0], [2.0, 4.0]])
    np.testing.assert_allclose(_derivative(det, (s,), 0, mode, backend), [[4.0, -2.0], [-2.0, 1.0]], atol=1e-12)
    z = np.zeros((3, 3))  # every 2x2 minor is 0
    np.testing.assert_allclose(_derivative(det, (z,), 0, mode, backend), z, atol=1e-12)
    r1 = np.outer([1.0, 2.0, 3.0], [1.0, -1.0, 2.0])  # rank 1: the cofactors are 0
    np.testing.assert_allclose(_derivative(det, (r1,), 0, mode, backend), _torch_det(r1), atol=1e-10)
    one = np.array([[0.0]])
    np.testing.assert_allclose(_derivative(det, (one,), 0, mode, backend), [[1.0]])
    rank2 = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]])
    by_hand = np.array([[-3.0, 6.0, -3.0], [6.0, -12.0, 6.0], [-3.0, 6.0, -3.0]])
    np.testing.assert_allclose(_derivative(det, (rank2,), 0, mode, backend), by_hand, atol=1e-10)


def test_det_regular_against_torch_and_second_order():
    a = RNG.standard_normal((4, 4))
    np.testing.assert_allclose(s2sgrad.grad(det)(a), _torch_det(a), rtol=1e-10)
    check_grads(det, a, order=2)
    t = torch.tensor(a)
    want = torch.autograd.functional.hessian(torch.linalg.det, t).numpy()
    np.testing.assert_allclose(s2sgrad.hessian(det)(a), want, rtol=1e-8, atol=1e-10)


def test_stacks_of_matrices():
    a = RNG.standard_normal((2, 3, 3)) + 3 * np.eye(3)
    for f in (det_stack, inv_stack, slogdet_stack):
        check_grads(f, a)
    check_grads(det_stack, a, order=2)
    t = torch.tensor(a, requires_grad=True)
    torch.sum(torch.linalg.inv(t) ** 2 * torch.arange(1.0, 4.0)).backward()
    np.testing.assert_allclose(s2sgrad.grad(inv_stack)(a), t.grad.numpy(), rtol=1e-10)
    singular = np.stack([np.ones((2, 2)), np.eye(2)])
    t = torch.tensor(singular, requires_grad=True)
    torch.sum(torch.linalg.det(t) ** 2).backward()
    for mode in MODES:
        np.testing.assert_allclose(_derivative(det_stack, (singular,), 0, mode), t.grad.numpy(), atol=1e-12)


def logabsdet(a):
    return np.linalg.slogdet(a)[1]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("backend", ["python", "numba"])
def test_slogdet_regular_and_singular(mode, backend):
    a = RNG.standard_normal((3, 3)) + 2 * np.eye(3)
    t = torch.tensor(a, requires_grad=True)
    torch.linalg.slogdet(t)[1].backward()
    np.testing.assert_allclose(_derivative(logabsdet, (a,), 0, mode, backend), t.grad.numpy(), rtol=1e-10)
    # singular: log|det| is -inf and its derivative inv(a).T does not exist; the derivative
    # code gives IEEE values (no LinAlgError where the function gives -inf)
    singular = np.array([[1.0, 2.0], [2.0, 4.0]])
    assert logabsdet(singular) == -np.inf
    with np.errstate(all="ignore"):
        d = _derivative(logabsdet, (singular,), 0, mode, backend)
    assert np.shape(d) == (2, 2) and not np.isfinite(d).all()


def concatenate_flat(x):
    return np.sum(np.concatenate([x, x * x], axis=None))


@pytest.mark.parametrize("mode", MODES)
def test_concatenate_axis_none_is_refused(mode):
    _refused(concatenate_flat, (np.ones((2, 2)),), mode, "np.concatenate with axis=None")


def dot_numbers(a, b):
    return np.dot(a, b)


def dot_number_vector(a, x):
    return np.sum(np.dot(a, x) ** 2) + np.sum(np.dot(x, a * a))


@pytest.mark.parametrize("mode", MODES)
def test_dot_of_numbers(mode):
    assert _derivative(dot_numbers, (2.0, 3.0), (0, 1), mode) == (pytest.approx(3.0), pytest.approx(2.0))
    assert _derivative(dot_numbers, (2.0, 3.0), 1, mode) == pytest.approx(2.0)
    check_grads(dot_numbers, 2.0, -3.0, wrt=(0, 1))
    check_grads(dot_number_vector, 0.6, RNG.standard_normal(3), wrt=(0, 1))
    check_grads(dot_number_vector, 0.6, RNG.standard_normal((2, 2)), wrt=0)


def logsumexp_sign(x):
    return scipy.special.logsumexp(x, return_sign=True)[0]


@pytest.mark.parametrize("mode", MODES)
def test_logsumexp_return_sign_is_refused(mode):
    _refused(logsumexp_sign, (np.ones(3),), mode, "logsumexp with return_sign")


# --- 6: a @ a with a a number -----------------------------------------------------------------
def matmul_number(a):
    return a @ a


def matmul_number_vector(a, x):
    return np.sum(a @ x)


@pytest.mark.parametrize("mode", MODES)
def test_matmul_of_numbers_is_refused(mode):
    with pytest.raises(TypeError):
        matmul_number(2.0)
    _refused(matmul_number, (2.0,), mode, "matmul (@) of a number")
    _refused(matmul_number_vector, (2.0, np.ones(3)), mode, "matmul (@) of a number")


def test_refusals_are_s2sgrad_errors():
    assert issubclass(UnsupportedCallError, S2SGradError)
