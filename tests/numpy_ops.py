"""NumPy functions that s2sgrad must differentiate, one table row per operation.

Used by tests/rules/test_numpy_ops.py.  Each function registered with ``@case`` goes into
``CASES`` with

* ``points``: a function of a numpy Generator returning the positional arguments of
  one test point (a tuple, or a single value for a one-argument function).  Points lie
  where the function is differentiable: inside the domains of log, arcsin, ..., and
  away from the kinks of abs, sign, clip, max/min and maximum/minimum (``apart`` draws
  values well separated from each other and from the kinks);
* ``wrt``: the arguments to differentiate, as for ``s2sgrad.grad``.

A function whose operation has an array result ends in ``np.sum(w * result)`` with
``w`` a random weight array of the result's shape (never in ``wrt``).  Summing with
unit weights would let an adjoint that ignores its incoming cotangent, or that puts
the right values in the wrong places (a transpose, a reshape, a gather), pass
unnoticed.  ``w`` is always the left operand of the first product it appears in, so
tests/rules/test_numpy_ops.py can check its shape against the result's with a probe.

``scipy_case`` fills ``SCIPY_CASES`` the same way, for rows that need scipy.

Functions without ``@case`` are checked by hand in tests/rules/test_numpy_ops.py: gradients at
ties, functions with array outputs (for vjp), and functions s2sgrad must refuse.  In the
refused ones the line with the offending call carries the marker comment ``# <- here``.
"""

import numpy as np

import scipy.special  # a test dependency (the `test` extra)
from scipy.special import logsumexp


from corpus import Case  # noqa: E402  (the same record as the scalar corpus)


CASES: list[Case] = []
SCIPY_CASES: list[Case] = []


def case(points, wrt=0):
    """Register the decorated function in CASES with its point generator and wrt."""
    def register(func):
        CASES.append(Case(func, points, wrt))
        return func
    return register


def scipy_case(points, wrt=0):
    """Register the decorated function in SCIPY_CASES."""
    def register(func):
        SCIPY_CASES.append(Case(func, points, wrt))
        return func
    return register


# --- point generators ---------------------------------------------------------------

def normal(r, *shape, scale=1.0):
    return scale * r.standard_normal(shape)


def uniform(r, lo, hi, *shape):
    return r.uniform(lo, hi, shape)


def weights(r, *shape):
    """Weights for np.sum(w * result): distinct, of both signs."""
    return r.uniform(-1.5, 1.5, shape)


def signed(r, lo, hi, *shape):
    """Magnitudes uniform in (lo, hi) with random signs: away from zero."""
    return r.choice([-1.0, 1.0], size=shape) * r.uniform(lo, hi, shape)


def apart(r, *shape, lo=-2.0, hi=2.0, kinks=(0.0,)):
    """Uniform values in (lo, hi), pairwise apart and apart from every kink.

    The gap is a quarter of the spacing n evenly spread values would have, so max/min
    (of an array, along an axis, or of two arrays drawn together) has no near-tie and
    abs/sign/clip/maximum(x, 0) no near-kink for a finite-difference step to cross.
    """
    n = int(np.prod(shape))
    gap = 0.25 * (hi - lo) / (n + len(kinks))
    xs = []
    while len(xs) < n:
        x = r.uniform(lo, hi)
        if all(abs(x - k) >= gap for k in (*xs, *kinks)):
            xs.append(x)
    return np.array(xs).reshape(shape)


def well_conditioned(r, n):
    """A random n x n matrix plus 3 I: far from singular."""
    return 0.5 * r.standard_normal((n, n)) + 3.0 * np.eye(n)


def negative_det(r, n):
    """A well-conditioned matrix with its first two rows swapped: det < 0."""
    a = well_conditioned(r, n)
    return a[[1, 0, *range(2, n)]]


def pair_apart(r, *shape, **kw):
    """Two arrays of the same shape whose entries are all apart from each other."""
    both = apart(r, 2, *shape, **kw)
    return both[0].copy(), both[1].copy()


def column_and_row_apart(r, m, n):
    """An (m, 1) and a (1, n) array whose m + n entries are all apart from each other."""
    both = apart(r, m + n)
    return both[:m].reshape(m, 1), both[m:].reshape(1, n)


# ===================================================================================
# Broadcasting: the adjoint of a broadcast operand is summed back to its shape
# ===================================================================================

@case(lambda r: (1.7, normal(r, 3, 4), weights(r, 3, 4)), wrt=(0, 1))
def float_times_array(a, x, w):
    return np.sum(w * (a * x))


@case(lambda r: (normal(r, 3, 4), 0.6, weights(r, 3, 4)), wrt=(0, 1))
def array_plus_float(x, a, w):
    return np.sum(w * np.sin(x + a))


@case(lambda r: (1.3, uniform(r, 0.5, 2.0, 4), weights(r, 4)), wrt=(0, 1))
def float_minus_and_over_array(a, x, w):
    return np.sum(w * ((a - x) * (a / x)))


@case(lambda r: (normal(r, 3, 4), weights(r, 3, 4)))
def numpy_scalar_times_array(x, w):
    s = np.sum(x)
    return np.sum(w * (s * x))


@case(lambda r: (normal(r, 1), normal(r, 3), weights(r, 3)), wrt=(0, 1))
def size1_plus_vector(x, y, w):
    return np.sum(w * np.sin(x + y))


@case(lambda r: (normal(r, 3, 1), normal(r, 1, 4), weights(r, 3, 4)), wrt=(0, 1))
def column_times_row(x, y, w):
    return np.sum(w * (x * y))


@case(lambda r: (normal(r, 4), normal(r, 2, 3, 4), weights(r, 2, 3, 4)), wrt=(0, 1))
def leading_axes_add(x, y, w):
    return np.sum(w * np.tanh(x + y))


@case(lambda r: (normal(r, 3, 1), normal(r, 3, 4), weights(r, 3, 4)), wrt=(0, 1))
def column_minus_matrix(x, y, w):
    return np.sum(w * (x - y) ** 2)


@case(lambda r: (normal(r, 2, 1, 4), normal(r, 3, 1), weights(r, 2, 3, 4)), wrt=(0, 1))
def both_sides_broadcast(x, y, w):
    return np.sum(w * (x * y))


@case(lambda r: (normal(r, 3, 4), uniform(r, 0.5, 2.0, 4), weights(r, 3, 4)), wrt=(0, 1))
def matrix_over_row(x, y, w):
    return np.sum(w * (x / y))


@case(lambda r: (uniform(r, 0.5, 2.0, 3, 1), normal(r, 1, 4), weights(r, 3, 4)), wrt=(0, 1))
def column_power_row(x, y, w):
    return np.sum(w * x ** y)


@case(lambda r: (normal(r, 3, 4), normal(r, 4), weights(r, 3, 4)), wrt=(0, 1))
def augmented_add_broadcast(x, b, w):
    y = x * 2.0
    y += b
    return np.sum(w * np.sin(y))


@case(lambda r: (normal(r, 4), weights(r, 3, 4)))
def vector_times_ones_matrix(x, w):
    return np.sum(w * (x * np.ones((3, 4))))


# ===================================================================================
# Element-wise functions
# ===================================================================================

@case(lambda r: (normal(r, 3, 4, scale=2.0), weights(r, 3, 4)))
def np_sin(x, w):
    return np.sum(w * np.sin(x))


@case(lambda r: (normal(r, 3, 4, scale=2.0), weights(r, 3, 4)))
def np_cos(x, w):
    return np.sum(w * np.cos(x))


@case(lambda r: (uniform(r, -1.2, 1.2, 3, 4), weights(r, 3, 4)))
def np_tan(x, w):
    return np.sum(w * np.tan(x))


@case(lambda r: (uniform(r, -0.9, 0.9, 3, 4), weights(r, 3, 4)))
def np_arcsin(x, w):
    return np.sum(w * np.arcsin(x))


@case(lambda r: (uniform(r, -0.9, 0.9, 3, 4), weights(r, 3, 4)))
def np_arccos(x, w):
    return np.sum(w * np.arccos(x))


@case(lambda r: (normal(r, 3, 4, scale=2.0), weights(r, 3, 4)))
def np_arctan(x, w):
    return np.sum(w * np.arctan(x))


@case(lambda r: (uniform(r, -2.0, 2.0, 3, 4), weights(r, 3, 4)))
def np_sinh(x, w):
    return np.sum(w * np.sinh(x))


@case(lambda r: (uniform(r, -2.0, 2.0, 3, 4), weights(r, 3, 4)))
def np_cosh(x, w):
    return np.sum(w * np.cosh(x))


@case(lambda r: (uniform(r, -2.0, 2.0, 3, 4), weights(r, 3, 4)))
def np_tanh(x, w):
    return np.sum(w * np.tanh(x))


@case(lambda r: (normal(r, 3, 4, scale=2.0), weights(r, 3, 4)))
def np_arcsinh(x, w):
    return np.sum(w * np.arcsinh(x))


@case(lambda r: (uniform(r, 1.1, 3.0, 3, 4), weights(r, 3, 4)))
def np_arccosh(x, w):
    return np.sum(w * np.arccosh(x))


@case(lambda r: (uniform(r, -0.9, 0.9, 3, 4), weights(r, 3, 4)))
def np_arctanh(x, w):
    return np.sum(w * np.arctanh(x))


@case(lambda r: (uniform(r, -2.0, 2.0, 3, 4), weights(r, 3, 4)))
def np_exp(x, w):
    return np.sum(w * np.exp(x))


@case(lambda r: (uniform(r, -2.0, 2.0, 3, 4), weights(r, 3, 4)))
def np_expm1(x, w):
    return np.sum(w * np.expm1(x))


@case(lambda r: (uniform(r, 0.1, 3.0, 3, 4), weights(r, 3, 4)))
def np_log(x, w):
    return np.sum(w * np.log(x))


@case(lambda r: (uniform(r, -0.8, 3.0, 3, 4), weights(r, 3, 4)))
def np_log1p(x, w):
    return np.sum(w * np.log1p(x))


@case(lambda r: (uniform(r, 0.1, 3.0, 3, 4), weights(r, 3, 4)))
def np_log2(x, w):
    return np.sum(w * np.log2(x))


@case(lambda r: (uniform(r, 0.1, 3.0, 3, 4), weights(r, 3, 4)))
def np_log10(x, w):
    return np.sum(w * np.log10(x))


@case(lambda r: (uniform(r, 0.1, 3.0, 3, 4), weights(r, 3, 4)))
def np_sqrt(x, w):
    return np.sum(w * np.sqrt(x))


@case(lambda r: (normal(r, 3, 4), weights(r, 3, 4)))
def np_square(x, w):
    return np.sum(w * np.square(x))


@case(lambda r: (signed(r, 0.3, 2.0, 3, 4), weights(r, 3, 4)))
def np_reciprocal(x, w):
    return np.sum(w * np.reciprocal(x))


@case(lambda r: (apart(r, 3, 4), weights(r, 3, 4)))
def np_abs(x, w):
    return np.sum(w * np.abs(x))


@case(lambda r: (apart(r, 3, 4), weights(r, 3, 4)))
def np_sign(x, w):
    return np.sum(w * np.sign(x))  # zero derivative


@case(lambda r: (apart(r, 3, 4), weights(r, 3, 4)))
def np_sign_times_square(x, w):
    return np.sum(w * (np.sign(x) * x ** 2))


@case(lambda r: (apart(r, 3, 4, lo=-2.0, hi=2.0), normal(r, 3, 4), weights(r, 3, 4)),
      wrt=(0, 1))
def np_arctan2(y, x, w):
    # y away from 0: no origin, and no crossing of the cut along the negative x axis
    return np.sum(w * np.arctan2(y, x))


@case(lambda r: (apart(r, 3, 1), normal(r, 4), weights(r, 3, 4)), wrt=(0, 1))
def np_arctan2_broadcast(y, x, w):
    return np.sum(w * np.arctan2(y, x))


@case(lambda r: (apart(r, 3, 4), normal(r, 3, 4), weights(r, 3, 4)), wrt=(0, 1))
def np_hypot(x, y, w):
    return np.sum(w * np.hypot(x, y))


@case(lambda r: (uniform(r, 0.5, 2.0, 3, 4), normal(r, 3, 4), weights(r, 3, 4)), wrt=(0, 1))
def np_power(x, y, w):
    return np.sum(w * np.power(x, y))


@case(lambda r: (normal(r, 3, 4), weights(r, 3, 4)))
def np_power_int_exponent(x, w):
    return np.sum(w * np.power(x, 3))


@case(lambda r: (uniform(r, 0.5, 2.0, 3, 4), 1.5, weights(r, 3, 4)), wrt=(0, 1))
def np_power_float_exponent(x, p, w):
    return np.sum(w * np.power(x, p))


@case(lambda r: (*pair_apart(r, 3, 4), weights(r, 3, 4)), wrt=(0, 1))
def np_maximum(x, y, w):
    return np.sum(w * np.maximum(x, y))


@case(lambda r: (*pair_apart(r, 3, 4), weights(r, 3, 4)), wrt=(0, 1))
def np_minimum(x, y, w):
    return np.sum(w * np.minimum(x, y))


@case(lambda r: (apart(r, 3, 4), weights(r, 3, 4)))
def np_maximum_with_zero(x, w):
    return np.sum(w * np.maximum(x, 0.0))


@case(lambda r: (*column_and_row_apart(r, 3, 4), weights(r, 3, 4)), wrt=(0, 1))
def np_maximum_broadcast(x, y, w):
    return np.sum(w * np.maximum(x, y))


@case(lambda r: (*(a.ravel() for a in column_and_row_apart(r, 3, 4)), weights(r, 3, 4)),
      wrt=(0, 1))
def np_minimum_broadcast(x, y, w):
    return np.sum(w * np.minimum(x[:, None], y[None, :]))


@case(lambda r: (apart(r, 3, 4), weights(r, 3, 4)))
def np_where_of_x(x, w):
    return np.sum(w * np.where(x > 0, np.sin(x), x ** 2))


@case(lambda r: (r.random((3, 4)) > 0.5, normal(r, 3, 4), normal(r, 4), weights(r, 3, 4)),
      wrt=(1, 2))
def np_where_broadcast(c, a, b, w):
    return np.sum(w * np.where(c, a, b))


@case(lambda r: (r.random(5) > 0.5, normal(r, 5), -0.7, weights(r, 5)), wrt=(1, 2))
def np_where_float_branch(c, a, s, w):
    return np.sum(w * np.where(c, a * a, s))


@case(lambda r: (apart(r, 3, 4, kinks=(-1.0, 1.0)), weights(r, 3, 4)))
def np_clip(x, w):
    return np.sum(w * np.clip(x, -1.0, 1.0))


@case(lambda r: (apart(r, 3, 4, kinks=(-0.5, 0.8)), -0.5, 0.8, weights(r, 3, 4)))
def np_clip_bound_arguments(x, lo, hi, w):
    return np.sum(w * np.clip(x, lo, hi) ** 2)


@case(lambda r: (apart(r, 3, 4, kinks=(-0.5, 1.5)), weights(r, 3, 4)))
def method_clip(x, w):
    return np.sum(w * x.clip(-0.5, 1.5))


# comparisons have no derivative: only the factors they multiply carry one

@case(lambda r: (apart(r, 3, 4), weights(r, 3, 4)))
def comparison_relu(x, w):
    return np.sum(w * ((x > 0) * x))


@case(lambda r: (*pair_apart(r, 3, 4), weights(r, 3, 4)), wrt=(0, 1))
def comparison_max(x, y, w):
    return np.sum(w * (x * (x >= y) + y * (x < y)))


@case(lambda r: (apart(r, 3, 4, kinks=(0.5,)), weights(r, 3, 4)))
def comparison_mask_as_float(x, w):
    m = (x <= 0.5).astype(np.float64)
    return np.sum(w * (m * x + (1.0 - m) * x ** 2))


@case(lambda r: (apart(r, 6, kinks=(-1.0, 0.0, 1.0)), weights(r, 6)))
def comparison_chain(x, w):
    inside = (x > -1.0) * (x < 1.0)
    return np.sum(w * (inside * np.sin(x) + (x != 0.0) * x - (x <= -1.0) * x ** 2))


@case(lambda r: (normal(r, 3, 4), weights(r, 3, 4)))
def astype_float64(x, w):
    return np.sum(w * x.astype(np.float64) ** 2)


# operators on arrays

@case(lambda r: (normal(r, 3, 4), normal(r, 3, 4), weights(r, 3, 4)), wrt=(0, 1))
def op_add(x, y, w):
    return np.sum(w * (x + y))


@case(lambda r: (normal(r, 3, 4), normal(r, 3, 4), weights(r, 3, 4)), wrt=(0, 1))
def op_sub(x, y, w):
    return np.sum(w * (x - y))


@case(lambda r: (normal(r, 3, 4), normal(r, 3, 4), weights(r, 3, 4)), wrt=(0, 1))
def op_mul(x, y, w):
    return np.sum(w * (x * y))


@case(lambda r: (normal(r, 3, 4), signed(r, 0.5, 2.0, 3, 4), weights(r, 3, 4)), wrt=(0, 1))
def op_div(x, y, w):
    return np.sum(w * (x / y))


@case(lambda r: (normal(r, 3, 4), weights(r, 3, 4)))
def op_neg(x, w):
    return np.sum(w * (-x))


@case(lambda r: (normal(r, 3, 4), weights(r, 3, 4)))
def op_square(x, w):
    return np.sum(w * x ** 2)


@case(lambda r: (normal(r, 3, 4), weights(r, 3, 4)))
def op_cube(x, w):
    return np.sum(w * x ** 3)


@case(lambda r: (uniform(r, 0.2, 2.0, 3, 4), weights(r, 3, 4)))
def op_pow_half_and_negative(x, w):
    return np.sum(w * (x ** 0.5 + x ** -2))


@case(lambda r: (uniform(r, 0.5, 2.0, 3, 4), normal(r, 3, 4), weights(r, 3, 4)), wrt=(0, 1))
def op_pow_array(x, y, w):
    return np.sum(w * x ** y)


@case(lambda r: (normal(r, 3, 4), weights(r, 3, 4)))
def op_two_to_the_x(x, w):
    return np.sum(w * 2.0 ** x)


@case(lambda r: (1.7, normal(r, 3, 4), weights(r, 3, 4)), wrt=(0, 1))
def op_float_base_pow(a, x, w):
    return np.sum(w * a ** x)


@case(lambda r: (signed(r, 0.5, 2.0, 3, 4), weights(r, 3, 4)))
def op_reflected(x, w):
    return np.sum(w * (1.0 / x + (3.0 - x) * 2.0))


@case(lambda r: (normal(r, 3, 4), normal(r, 3, 4), weights(r, 3, 4)), wrt=(0, 1))
def op_expression(x, y, w):
    return np.sum(w * ((x + 1.0) * (y - 2.0) / (x * x + 1.0) - -y ** 2))


# ===================================================================================
# Reductions, each with no axis, an int axis, a negative axis, an axis tuple and
# keepdims, as np.f(x, ...) and as x.f(...); x has shape (2, 3, 4)
# ===================================================================================

# np.sum and x.sum

@case(lambda r: normal(r, 2, 3, 4))
def np_sum_all(x):
    return 2.5 * np.sum(x)


@case(lambda r: (normal(r, 2, 3, 4), weights(r, 2, 4)))
def np_sum_axis1(x, w):
    return np.sum(w * np.sum(x, axis=1))


@case(lambda r: (normal(r, 2, 3, 4), weights(r, 2, 3)))
def np_sum_axis_neg(x, w):
    return np.sum(w * np.sum(x, axis=-1))


@case(lambda r: (normal(r, 2, 3, 4), weights(r, 3)))
def np_sum_axis_tuple(x, w):
    return np.sum(w * np.sum(x, axis=(0, 2)))


@case(lambda r: (normal(r, 2, 3, 4), weights(r, 2, 1, 4)))
def np_sum_keepdims(x, w):
    return np.sum(w * np.sum(x, axis=1, keepdims=True))


@case(lambda r: normal(r, 2, 3, 4))
def method_sum_all(x):
    return 2.5 * x.sum()


@case(lambda r: (normal(r, 2, 3, 4), weights(r, 2, 4)))
def method_sum_axis1(x, w):
    return np.sum(w * x.sum(axis=1))


@case(lambda r: (normal(r, 2, 3, 4), weights(r, 2, 3)))
def method_sum_axis_neg(x, w):
    return np.sum(w * x.sum(axis=-1))


@case(lambda r: (normal(r, 2, 3, 4), weights(r, 3)))
def method_sum_axis_tuple(x, w):
    return np.sum(w * x.sum(axis=(0, 2)))


@case(lambda r: (normal(r, 2, 3, 4), weights(r, 2, 1, 4)))
def method_sum_keepdims(x, w):
    return np.sum(w * x.sum(axis=1, keepdims=True))


# np.mean and x.mean

@case(lambda r: normal(r, 2, 3, 4))
def np_mean_all(x):
    return 2.5 * np.mean(x)


@case(lambda r: (normal(r, 2, 3, 4), weights(r, 2, 4)))
def np_mean_axis1(x, w):
    return np.sum(w * np.mean(x, axis=1))


@case(lambda r: (normal(r, 2, 3, 4), weights(r, 2, 3)))
def np_mean_axis_neg(x, w):
    return np.sum(w * np.mean(x, axis=-1))


@case(lambda r: (normal(r, 2, 3, 4), weights(r, 3)))
def np_mean_axis_tuple(x, w):
    return np.sum(w * np.mean(x, axis=(0, 2)))


@case(lambda r: (normal(r, 2, 3, 4), weights(r, 2, 1, 4)))
def np_mean_keepdims(x, w):
    return np.sum(w * np.mean(x, axis=1, keepdims=True))


@case(lambda r: normal(r, 2, 3, 4))
def method_mean_all(x):
    return 2.5 * x.mean()


@case(lambda r: (normal(r, 2, 3, 4), weights(r, 2, 4)))
def method_mean_axis1(x, w):
    return np.sum(w * x.mean(axis=1))


@case(lambda r: (normal(r, 2, 3, 4), weights(r, 2, 3)))
def method_mean_axis_neg(x, w):
    return np.sum(w * x.mean(axis=-1))


@case(lambda r: (normal(r, 2, 3, 4), weights(r, 3)))
def method_mean_axis_tuple(x, w):
    return np.sum(w * x.mean(axis=(0, 2)))


@case(lambda r: (normal(r, 2, 3, 4), weights(r, 2, 1, 4)))
def method_mean_keepdims(x, w):
    return np.sum(w * x.mean(axis=1, keepdims=True))


# np.prod and x.prod

@case(lambda r: signed(r, 0.5, 1.5, 2, 3, 4))
def np_prod_all(x):
    return 2.5 * np.prod(x)


@case(lambda r: (signed(r, 0.5, 1.5, 2, 3, 4), weights(r, 2, 4)))
def np_prod_axis1(x, w):
    return np.sum(w * np.prod(x, axis=1))


@case(lambda r: (signed(r, 0.5, 1.5, 2, 3, 4), weights(r, 2, 3)))
def np_prod_axis_neg(x, w):
    return np.sum(w * np.prod(x, axis=-1))


@case(lambda r: (signed(r, 0.5, 1.5, 2, 3, 4), weights(r, 3)))
def np_prod_axis_tuple(x, w):
    return np.sum(w * np.prod(x, axis=(0, 2)))


@case(lambda r: (signed(r, 0.5, 1.5, 2, 3, 4), weights(r, 2, 1, 4)))
def np_prod_keepdims(x, w):
    return np.sum(w * np.prod(x, axis=1, keepdims=True))


@case(lambda r: signed(r, 0.5, 1.5, 2, 3, 4))
def method_prod_all(x):
    return 2.5 * x.prod()


@case(lambda r: (signed(r, 0.5, 1.5, 2, 3, 4), weights(r, 2, 4)))
def method_prod_axis1(x, w):
    return np.sum(w * x.prod(axis=1))


@case(lambda r: (signed(r, 0.5, 1.5, 2, 3, 4), weights(r, 2, 3)))
def method_prod_axis_neg(x, w):
    return np.sum(w * x.prod(axis=-1))


@case(lambda r: (signed(r, 0.5, 1.5, 2, 3, 4), weights(r, 3)))
def method_prod_axis_tuple(x, w):
    return np.sum(w * x.prod(axis=(0, 2)))


@case(lambda r: (signed(r, 0.5, 1.5, 2, 3, 4), weights(r, 2, 1, 4)))
def method_prod_keepdims(x, w):
    return np.sum(w * x.prod(axis=1, keepdims=True))


# np.max and x.max

@case(lambda r: apart(r, 2, 3, 4, lo=-3.0, hi=3.0))
def np_max_all(x):
    return 2.5 * np.max(x)


@case(lambda r: (apart(r, 2, 3, 4, lo=-3.0, hi=3.0), weights(r, 2, 4)))
def np_max_axis1(x, w):
    return np.sum(w * np.max(x, axis=1))


@case(lambda r: (apart(r, 2, 3, 4, lo=-3.0, hi=3.0), weights(r, 2, 3)))
def np_max_axis_neg(x, w):
    return np.sum(w * np.max(x, axis=-1))


@case(lambda r: (apart(r, 2, 3, 4, lo=-3.0, hi=3.0), weights(r, 3)))
def np_max_axis_tuple(x, w):
    return np.sum(w * np.max(x, axis=(0, 2)))


@case(lambda r: (apart(r, 2, 3, 4, lo=-3.0, hi=3.0), weights(r, 2, 1, 4)))
def np_max_keepdims(x, w):
    return np.sum(w * np.max(x, axis=1, keepdims=True))


@case(lambda r: apart(r, 2, 3, 4, lo=-3.0, hi=3.0))
def method_max_all(x):
    return 2.5 * x.max()


@case(lambda r: (apart(r, 2, 3, 4, lo=-3.0, hi=3.0), weights(r, 2, 4)))
def method_max_axis1(x, w):
    return np.sum(w * x.max(axis=1))


@case(lambda r: (apart(r, 2, 3, 4, lo=-3.0, hi=3.0), weights(r, 2, 3)))
def method_max_axis_neg(x, w):
    return np.sum(w * x.max(axis=-1))


@case(lambda r: (apart(r, 2, 3, 4, lo=-3.0, hi=3.0), weights(r, 3)))
def method_max_axis_tuple(x, w):
    return np.sum(w * x.max(axis=(0, 2)))


@case(lambda r: (apart(r, 2, 3, 4, lo=-3.0, hi=3.0), weights(r, 2, 1, 4)))
def method_max_keepdims(x, w):
    return np.sum(w * x.max(axis=1, keepdims=True))


# np.min and x.min

@case(lambda r: apart(r, 2, 3, 4, lo=-3.0, hi=3.0))
def np_min_all(x):
    return 2.5 * np.min(x)


@case(lambda r: (apart(r, 2, 3, 4, lo=-3.0, hi=3.0), weights(r, 2, 4)))
def np_min_axis1(x, w):
    return np.sum(w * np.min(x, axis=1))


@case(lambda r: (apart(r, 2, 3, 4, lo=-3.0, hi=3.0), weights(r, 2, 3)))
def np_min_axis_neg(x, w):
    return np.sum(w * np.min(x, axis=-1))


@case(lambda r: (apart(r, 2, 3, 4, lo=-3.0, hi=3.0), weights(r, 3)))
def np_min_axis_tuple(x, w):
    return np.sum(w * np.min(x, axis=(0, 2)))


@case(lambda r: (apart(r, 2, 3, 4, lo=-3.0, hi=3.0), weights(r, 2, 1, 4)))
def np_min_keepdims(x, w):
    return np.sum(w * np.min(x, axis=1, keepdims=True))


@case(lambda r: apart(r, 2, 3, 4, lo=-3.0, hi=3.0))
def method_min_all(x):
    return 2.5 * x.min()


@case(lambda r: (apart(r, 2, 3, 4, lo=-3.0, hi=3.0), weights(r, 2, 4)))
def method_min_axis1(x, w):
    return np.sum(w * x.min(axis=1))


@case(lambda r: (apart(r, 2, 3, 4, lo=-3.0, hi=3.0), weights(r, 2, 3)))
def method_min_axis_neg(x, w):
    return np.sum(w * x.min(axis=-1))


@case(lambda r: (apart(r, 2, 3, 4, lo=-3.0, hi=3.0), weights(r, 3)))
def method_min_axis_tuple(x, w):
    return np.sum(w * x.min(axis=(0, 2)))


@case(lambda r: (apart(r, 2, 3, 4, lo=-3.0, hi=3.0), weights(r, 2, 1, 4)))
def method_min_keepdims(x, w):
    return np.sum(w * x.min(axis=1, keepdims=True))


# np.var and x.var

@case(lambda r: normal(r, 2, 3, 4))
def np_var_all(x):
    return 2.5 * np.var(x)


@case(lambda r: (normal(r, 2, 3, 4), weights(r, 2, 4)))
def np_var_axis1(x, w):
    return np.sum(w * np.var(x, axis=1))


@case(lambda r: (normal(r, 2, 3, 4), weights(r, 2, 3)))
def np_var_axis_neg(x, w):
    return np.sum(w * np.var(x, axis=-1))


@case(lambda r: (normal(r, 2, 3, 4), weights(r, 3)))
def np_var_axis_tuple(x, w):
    return np.sum(w * np.var(x, axis=(0, 2)))


@case(lambda r: (normal(r, 2, 3, 4), weights(r, 2, 1, 4)))
def np_var_keepdims(x, w):
    return np.sum(w * np.var(x, axis=1, keepdims=True))


@case(lambda r: normal(r, 2, 3, 4))
def method_var_all(x):
    return 2.5 * x.var()


@case(lambda r: (normal(r, 2, 3, 4), weights(r, 2, 4)))
def method_var_axis1(x, w):
    return np.sum(w * x.var(axis=1))


@case(lambda r: (normal(r, 2, 3, 4), weights(r, 2, 3)))
def method_var_axis_neg(x, w):
    return np.sum(w * x.var(axis=-1))


@case(lambda r: (normal(r, 2, 3, 4), weights(r, 3)))
def method_var_axis_tuple(x, w):
    return np.sum(w * x.var(axis=(0, 2)))


@case(lambda r: (normal(r, 2, 3, 4), weights(r, 2, 1, 4)))
def method_var_keepdims(x, w):
    return np.sum(w * x.var(axis=1, keepdims=True))


# np.std and x.std

@case(lambda r: normal(r, 2, 3, 4))
def np_std_all(x):
    return 2.5 * np.std(x)


@case(lambda r: (normal(r, 2, 3, 4), weights(r, 2, 4)))
def np_std_axis1(x, w):
    return np.sum(w * np.std(x, axis=1))


@case(lambda r: (normal(r, 2, 3, 4), weights(r, 2, 3)))
def np_std_axis_neg(x, w):
    return np.sum(w * np.std(x, axis=-1))


@case(lambda r: (normal(r, 2, 3, 4), weights(r, 3)))
def np_std_axis_tuple(x, w):
    return np.sum(w * np.std(x, axis=(0, 2)))


@case(lambda r: (normal(r, 2, 3, 4), weights(r, 2, 1, 4)))
def np_std_keepdims(x, w):
    return np.sum(w * np.std(x, axis=1, keepdims=True))


@case(lambda r: normal(r, 2, 3, 4))
def method_std_all(x):
    return 2.5 * x.std()


@case(lambda r: (normal(r, 2, 3, 4), weights(r, 2, 4)))
def method_std_axis1(x, w):
    return np.sum(w * x.std(axis=1))


@case(lambda r: (normal(r, 2, 3, 4), weights(r, 2, 3)))
def method_std_axis_neg(x, w):
    return np.sum(w * x.std(axis=-1))


@case(lambda r: (normal(r, 2, 3, 4), weights(r, 3)))
def method_std_axis_tuple(x, w):
    return np.sum(w * x.std(axis=(0, 2)))


@case(lambda r: (normal(r, 2, 3, 4), weights(r, 2, 1, 4)))
def method_std_keepdims(x, w):
    return np.sum(w * x.std(axis=1, keepdims=True))


# np.cumsum and x.cumsum (NumPy takes no axis tuple or keepdims here)

@case(lambda r: (normal(r, 2, 3, 4), weights(r, 24)))
def np_cumsum_all(x, w):
    return np.sum(w * np.cumsum(x))


@case(lambda r: (normal(r, 2, 3, 4), weights(r, 2, 3, 4)))
def np_cumsum_axis1(x, w):
    return np.sum(w * np.cumsum(x, axis=1))


@case(lambda r: (normal(r, 2, 3, 4), weights(r, 2, 3, 4)))
def np_cumsum_axis_neg(x, w):
    return np.sum(w * np.cumsum(x, axis=-1))


@case(lambda r: (normal(r, 2, 3, 4), weights(r, 2, 3, 4)))
def np_flip_all(x, w):
    return np.sum(w * np.flip(x))


@case(lambda r: (normal(r, 2, 3, 4), weights(r, 2, 3, 4)))
def np_flip_axis(x, w):
    return np.sum(w * np.flip(x, 1))


@case(lambda r: (normal(r, 2, 3, 4), weights(r, 24)))
def method_cumsum_all(x, w):
    return np.sum(w * x.cumsum())


@case(lambda r: (normal(r, 2, 3, 4), weights(r, 2, 3, 4)))
def method_cumsum_axis1(x, w):
    return np.sum(w * x.cumsum(axis=1))


@case(lambda r: (normal(r, 2, 3, 4), weights(r, 2, 3, 4)))
def method_cumsum_axis_neg(x, w):
    return np.sum(w * x.cumsum(axis=-1))


# axis given by position, and reductions feeding broadcasts through keepdims

@case(lambda r: (normal(r, 3, 4), weights(r, 4)))
def np_sum_positional_axis(x, w):
    return np.sum(w * np.sum(x, 0))


@case(lambda r: (apart(r, 3, 4), weights(r, 3)))
def method_max_positional_axis(x, w):
    return np.sum(w * x.max(1))


@case(lambda r: (normal(r, 3, 4), weights(r, 3, 4)))
def standardize_keepdims(x, w):
    mu = x.mean(axis=0, keepdims=True)
    sd = x.std(axis=0, keepdims=True)
    return np.sum(w * ((x - mu) / sd))


@case(lambda r: (apart(r, 3, 4), weights(r, 3, 4)))
def softmax_keepdims(x, w):
    e = np.exp(x - np.max(x, axis=1, keepdims=True))
    p = e / np.sum(e, axis=1, keepdims=True)
    return np.sum(w * p)


@case(lambda r: (normal(r, 3, 4), weights(r, 3, 4)))
def center_by_var(x, w):
    return np.sum(w * ((x - np.mean(x)) * np.var(x, axis=-1, keepdims=True)))


# np.linalg.norm

@case(lambda r: normal(r, 5))
def norm_vector(x):
    return 2.5 * np.linalg.norm(x)


@case(lambda r: normal(r, 3, 4))
def norm_frobenius(a):
    return 2.5 * np.linalg.norm(a)


@case(lambda r: normal(r, 3, 4))
def norm_frobenius_named(a):
    return 2.5 * np.linalg.norm(a, 'fro')


@case(lambda r: (normal(r, 3, 4), weights(r, 3)))
def norm_axis1(a, w):
    return np.sum(w * np.linalg.norm(a, axis=1))


@case(lambda r: (normal(r, 3, 4), weights(r, 4)))
def norm_axis0(a, w):
    return np.sum(w * np.linalg.norm(a, axis=0))


# logsumexp

@case(lambda r: apart(r, 6, lo=-3.0, hi=3.0))
def logsumexp_by_hand(x):
    m = np.max(x)
    return m + np.log(np.sum(np.exp(x - m)))


@case(lambda r: (apart(r, 3, 4, lo=-3.0, hi=3.0), weights(r, 3)))
def logsumexp_by_hand_axis(x, w):
    m = np.max(x, axis=1, keepdims=True)
    lse = m[:, 0] + np.log(np.sum(np.exp(x - m), axis=1))
    return np.sum(w * lse)


@scipy_case(lambda r: normal(r, 6, scale=2.0))
def scipy_logsumexp(x):
    return 2.5 * scipy.special.logsumexp(x)


@scipy_case(lambda r: (normal(r, 3, 4, scale=2.0), weights(r, 3)))
def scipy_logsumexp_axis(x, w):
    return np.sum(w * scipy.special.logsumexp(x, axis=1))


@scipy_case(lambda r: (normal(r, 3, 4, scale=2.0), weights(r, 4)))
def scipy_logsumexp_imported_name(x, w):
    return np.sum(w * logsumexp(x, axis=0))


# ===================================================================================
# Triangles, diagonals, rolls, sorting, remainders, atleast_nd
# ===================================================================================

@case(lambda r: (normal(r, 4, 4), weights(r, 4, 4)))
def triu_offset(a, w):
    return np.sum(w * np.triu(a, 1))


@case(lambda r: (normal(r, 2, 3, 4), weights(r, 2, 3, 4)))
def tril_stack(a, w):
    return np.sum(w * np.tril(a, k=-1))


@case(lambda r: (normal(r, 4), weights(r, 4, 4)))
def triu_of_vector(x, w):
    return np.sum(w * np.triu(x))  # a vector: its rows repeated, then masked


@case(lambda r: (normal(r, 4, 5), weights(r, 4)))
def diagonal_offset(a, w):
    return np.sum(w * np.diagonal(a, 1))


@case(lambda r: (normal(r, 3, 2, 4), weights(r, 2, 3)))
def diagonal_axes(a, w):
    return np.sum(w * a.diagonal(offset=-1, axis1=2, axis2=0))


@case(lambda r: (normal(r, 3, 4), weights(r, 3, 4)))
def roll_flat(a, w):
    return np.sum(w * np.roll(a, 5))


@case(lambda r: (normal(r, 3, 4), weights(r, 3, 4)))
def roll_axes(a, w):
    return np.sum(w * np.roll(a, (-1, 2), axis=(0, 1)))


@case(lambda r: (apart(r, 6), weights(r, 6)))
def sort_vector(x, w):
    return np.sum(w * np.sort(x))


@case(lambda r: (apart(r, 3, 4), weights(r, 3, 4)))
def sort_columns(a, w):
    return np.sum(w * np.sort(a, axis=0))


@case(lambda r: (apart(r, 3, 4), weights(r, 12)))
def sort_flattened(a, w):
    return np.sum(w * np.sort(a, axis=None))


@case(lambda r: (uniform(r, 0.1, 0.9, 5) + np.arange(5.0), signed(r, 1.5, 2.5, 5), weights(r, 5)), wrt=(0, 1))
def np_mod(x, y, w):
    return np.sum(w * np.mod(x, y))


@case(lambda r: (uniform(r, 0.1, 0.9, 5) - np.arange(5.0), signed(r, 1.5, 2.5, 5), weights(r, 5)), wrt=(0, 1))
def np_fmod(x, y, w):
    return np.sum(w * np.fmod(x, y))


@case(lambda r: (normal(r, 4), weights(r, 1, 4, 1)))
def atleast_3d_vector(x, w):
    return np.sum(w * np.atleast_3d(x))


# ===================================================================================
# Linear algebra
# ===================================================================================

@case(lambda r: (normal(r, 4), normal(r, 4)), wrt=(0, 1))
def dot_vector_vector(x, y):
    return 2.5 * np.dot(x, y)


@case(lambda r: (normal(r, 3, 4), normal(r, 4), weights(r, 3)), wrt=(0, 1))
def dot_matrix_vector(a, x, w):
    return np.sum(w * np.dot(a, x))


@case(lambda r: (normal(r, 3, 4), normal(r, 4, 2), weights(r, 3, 2)), wrt=(0, 1))
def dot_matrix_matrix(a, b, w):
    return np.sum(w * np.dot(a, b))


@case(lambda r: (normal(r, 4), normal(r, 4)), wrt=(0, 1))
def matmul_vector_vector(x, y):
    return 2.5 * (x @ y)


@case(lambda r: (normal(r, 3, 4), normal(r, 4), weights(r, 3)), wrt=(0, 1))
def matmul_matrix_vector(a, x, w):
    return np.sum(w * (a @ x))


@case(lambda r: (normal(r, 3), normal(r, 3, 4), weights(r, 4)), wrt=(0, 1))
def matmul_vector_matrix(x, a, w):
    return np.sum(w * (x @ a))


@case(lambda r: (normal(r, 3, 4), normal(r, 4, 2), weights(r, 3, 2)), wrt=(0, 1))
def matmul_matrix_matrix(a, b, w):
    return np.sum(w * (a @ b))


@case(lambda r: (normal(r, 5, 3, 4), normal(r, 4, 2), weights(r, 5, 3, 2)), wrt=(0, 1))
def matmul_batched_shared(a, b, w):
    return np.sum(w * (a @ b))


@case(lambda r: (normal(r, 5, 3, 4), normal(r, 5, 4, 2), weights(r, 5, 3, 2)), wrt=(0, 1))
def matmul_batched(a, b, w):
    return np.sum(w * (a @ b))


@case(lambda r: (normal(r, 4), normal(r, 4)), wrt=(0, 1))
def np_matmul_vector_vector(x, y):
    return 2.5 * np.matmul(x, y)


@case(lambda r: (normal(r, 3, 4), normal(r, 4), weights(r, 3)), wrt=(0, 1))
def np_matmul_matrix_vector(a, x, w):
    return np.sum(w * np.matmul(a, x))


@case(lambda r: (normal(r, 3), normal(r, 3, 4), weights(r, 4)), wrt=(0, 1))
def np_matmul_vector_matrix(x, a, w):
    return np.sum(w * np.matmul(x, a))


@case(lambda r: (normal(r, 3, 4), normal(r, 4, 2), weights(r, 3, 2)), wrt=(0, 1))
def np_matmul_matrix_matrix(a, b, w):
    return np.sum(w * np.matmul(a, b))


@case(lambda r: (normal(r, 5, 3, 4), normal(r, 4, 2), weights(r, 5, 3, 2)), wrt=(0, 1))
def np_matmul_batched_shared(a, b, w):
    return np.sum(w * np.matmul(a, b))


@case(lambda r: (normal(r, 5, 3, 4), normal(r, 5, 4, 2), weights(r, 5, 3, 2)), wrt=(0, 1))
def np_matmul_batched(a, b, w):
    return np.sum(w * np.matmul(a, b))


@case(lambda r: (normal(r, 3, 4), weights(r, 4, 4)))
def matmul_gram(a, w):
    return np.sum(w * (a.T @ a))  # a used on both sides: both adjoints add up


@case(lambda r: (normal(r, 4), normal(r, 4)), wrt=(0, 1))
def inner_vectors(x, y):
    return 2.5 * np.inner(x, y)


@case(lambda r: (normal(r, 3, 4), normal(r, 2, 4), weights(r, 3, 2)), wrt=(0, 1))
def inner_matrices(a, b, w):
    return np.sum(w * np.inner(a, b))


@case(lambda r: (normal(r, 3), normal(r, 4), weights(r, 3, 4)), wrt=(0, 1))
def outer(x, y, w):
    return np.sum(w * np.outer(x, y))


@case(lambda r: (normal(r, 2, 3, 4), normal(r, 3, 4, 5), weights(r, 2, 5)), wrt=(0, 1))
def tensordot_axes_int(a, b, w):
    return np.sum(w * np.tensordot(a, b, axes=2))


@case(lambda r: (normal(r, 3, 4), normal(r, 4, 2), weights(r, 3, 2)), wrt=(0, 1))
def tensordot_axes_one(a, b, w):
    return np.sum(w * np.tensordot(a, b, 1))


@case(lambda r: (normal(r, 3, 2, 4), normal(r, 2, 3, 5), weights(r, 4, 5)), wrt=(0, 1))
def tensordot_axes_lists(a, b, w):
    return np.sum(w * np.tensordot(a, b, axes=([1, 0], [0, 1])))


@case(lambda r: (normal(r, 3, 4), normal(r, 4, 2), weights(r, 3, 2)), wrt=(0, 1))
def einsum_matmul(a, b, w):
    return np.sum(w * np.einsum('ij,jk->ik', a, b))


@case(lambda r: (normal(r, 4), normal(r, 4)), wrt=(0, 1))
def einsum_dot(x, y):
    return 2.5 * np.einsum('i,i->', x, y)


@case(lambda r: (normal(r, 3, 4), weights(r, 4, 3)))
def einsum_transpose(a, w):
    return np.sum(w * np.einsum('ij->ji', a))


@case(lambda r: (normal(r, 5, 3, 4), normal(r, 5, 4, 2), weights(r, 5, 3, 2)), wrt=(0, 1))
def einsum_batched_matmul(a, b, w):
    return np.sum(w * np.einsum('bij,bjk->bik', a, b))


@case(lambda r: normal(r, 4, 4))
def einsum_trace(a):
    return 2.5 * np.einsum('ii->', a)


@case(lambda r: (normal(r, 3, 4), normal(r, 3, 4), weights(r, 3)), wrt=(0, 1))
def einsum_rowwise_dot(a, b, w):
    return np.sum(w * np.einsum('ij,ij->i', a, b))


# big enough that einsum_grad optimizes its contractions (BLAS), with and without a
# batch letter; a 3-operand chain; each spelling of the call's own optimize=
@case(lambda r: (normal(r, 5, 10, 10), normal(r, 60, 5, 10), weights(r, 60, 5, 10)), wrt=(0, 1))
def einsum_batched_big(lower, x, w):
    return np.sum(w * np.einsum('kij,nkj->nki', lower, x))


# (the cotangents of a and c contract over more than 2,048 values, b's over fewer: both
# paths, with few inputs for the finite differences)
@case(lambda r: (normal(r, 2, 3), normal(r, 3, 700), normal(r, 700, 2), weights(r, 2, 2)), wrt=(0, 1, 2))
def einsum_chain_big(a, b, c, w):
    return np.sum(w * np.einsum('ij,jk,kl->il', a, b, c))


@case(lambda r: (normal(r, 3, 4), normal(r, 4, 5), normal(r, 5, 2), weights(r, 3, 2)), wrt=(0, 1, 2))
def einsum_chain_optimize_true(a, b, c, w):
    return np.sum(w * np.einsum('ij,jk,kl->il', a, b, c, optimize=True))


@case(lambda r: (normal(r, 3, 4), normal(r, 4, 5), weights(r, 3, 5)), wrt=(0, 1))
def einsum_optimize_greedy(a, b, w):
    return np.sum(w * np.einsum('ij,jk->ik', a, b, optimize='greedy'))


@case(lambda r: (normal(r, 40, 30), normal(r, 30, 50), weights(r, 40, 50)), wrt=(0, 1))
def einsum_optimize_false_big(a, b, w):
    return np.sum(w * np.einsum('ij,jk->ik', a, b, optimize=False))


@case(lambda r: (normal(r, 3, 4), normal(r, 4, 5), normal(r, 5, 2), weights(r, 3, 2)), wrt=(0, 2))
def einsum_explicit_path(a, b, c, w):
    # a path computed for the forward contraction: the cotangents' contractions are others
    return np.sum(w * np.einsum('ij,jk,kl->il', a, b, c, optimize=['einsum_path', (0, 1), (0, 1)]))


@case(lambda r: normal(r, 4, 4))
def trace(a):
    return 2.5 * np.trace(a)


@case(lambda r: (normal(r, 3, 4), normal(r, 4, 3)), wrt=(0, 1))
def trace_of_product(a, b):
    return np.trace(a @ b) ** 2


@case(lambda r: (well_conditioned(r, 3), normal(r, 3), weights(r, 3)), wrt=(0, 1))
def solve_vector(a, b, w):
    return np.sum(w * np.linalg.solve(a, b))


@case(lambda r: (well_conditioned(r, 3), normal(r, 3, 2), weights(r, 3, 2)), wrt=(0, 1))
def solve_matrix(a, b, w):
    return np.sum(w * np.linalg.solve(a, b))


@case(lambda r: (well_conditioned(r, 3), weights(r, 3, 3)))
def inv(a, w):
    return np.sum(w * np.linalg.inv(a))


@case(lambda r: well_conditioned(r, 3))
def det(a):
    return np.linalg.det(a)


@case(lambda r: negative_det(r, 3))
def det_negative(a):
    return np.linalg.det(a) ** 2


@case(lambda r: well_conditioned(r, 3))
def slogdet(a):
    sign, logdet = np.linalg.slogdet(a)
    return 2.5 * logdet


@case(lambda r: negative_det(r, 3))
def slogdet_negative(a):
    sign, logdet = np.linalg.slogdet(a)
    return sign * logdet  # sign is constant: d/da = -inv(a).T


@case(lambda r: well_conditioned(r, 3))
def slogdet_indexed(a):
    return 2.5 * np.linalg.slogdet(a)[1]


# ===================================================================================
# Shape manipulation
# ===================================================================================

@case(lambda r: (normal(r, 3, 4), weights(r, 4, 3)))
def reshape_function_tuple(x, w):
    return np.sum(w * np.reshape(x, (4, 3)))


@case(lambda r: (normal(r, 3, 4), weights(r, 2, 6)))
def reshape_function_minus_one(x, w):
    return np.sum(w * np.reshape(x, (2, -1)))


@case(lambda r: (normal(r, 3, 4), weights(r, 6, 2)))
def reshape_method_tuple(x, w):
    return np.sum(w * x.reshape((6, 2)))


@case(lambda r: (normal(r, 3, 4), weights(r, 2, 6)))
def reshape_method_ints(x, w):
    return np.sum(w * x.reshape(2, 6))


@case(lambda r: (normal(r, 3, 4), weights(r, 12)))
def reshape_method_minus_one(x, w):
    return np.sum(w * x.reshape(-1))


@case(lambda r: (normal(r, 3, 4), weights(r, 6, 2)))
def reshape_method_ints_minus_one(x, w):
    return np.sum(w * x.reshape(-1, 2))


@case(lambda r: (normal(r, 2, 3, 2), weights(r, 12)))
def np_ravel(x, w):
    return np.sum(w * np.ravel(x))


@case(lambda r: (normal(r, 3, 4), weights(r, 12)))
def method_ravel(x, w):
    return np.sum(w * x.ravel())


@case(lambda r: (normal(r, 3, 4), weights(r, 12)))
def method_flatten(x, w):
    return np.sum(w * x.flatten())


@case(lambda r: (normal(r, 3, 4), weights(r, 4, 3)))
def np_transpose(x, w):
    return np.sum(w * np.transpose(x))


@case(lambda r: (normal(r, 3, 4), weights(r, 4, 3)))
def dot_T(x, w):
    return np.sum(w * x.T)


@case(lambda r: (normal(r, 2, 3, 4), weights(r, 3, 4, 2)))
def np_transpose_axes(x, w):
    return np.sum(w * np.transpose(x, (1, 2, 0)))


@case(lambda r: (normal(r, 2, 3, 4), weights(r, 4, 2, 3)))
def method_transpose_axes(x, w):
    return np.sum(w * x.transpose(2, 0, 1))


@case(lambda r: (normal(r, 2, 3, 4), weights(r, 4, 3, 2)))
def np_swapaxes(x, w):
    return np.sum(w * np.swapaxes(x, 0, 2))


@case(lambda r: (normal(r, 2, 3, 4), weights(r, 2, 4, 3)))
def method_swapaxes(x, w):
    return np.sum(w * x.swapaxes(1, 2))


@case(lambda r: (normal(r, 2, 3, 4), weights(r, 3, 4, 2)))
def np_moveaxis(x, w):
    return np.sum(w * np.moveaxis(x, 0, -1))


@case(lambda r: (normal(r, 3, 4), weights(r, 1, 3, 4)))
def expand_dims_front(x, w):
    return np.sum(w * np.expand_dims(x, 0))


@case(lambda r: (normal(r, 3, 4), weights(r, 3, 4, 1)))
def expand_dims_back(x, w):
    return np.sum(w * np.expand_dims(x, axis=-1))


@case(lambda r: (normal(r, 3, 4), weights(r, 2, 3, 4)))
def index_none_broadcast(x, w):
    return np.sum(w * np.sin(x[None] + x[None] ** 2 * np.arange(1.0, 3.0)[:, None, None]))


@case(lambda r: (normal(r, 3), normal(r, 4), weights(r, 3, 4)), wrt=(0, 1))
def index_column_none(x, y, w):
    return np.sum(w * np.tanh(x[:, None] * y[None, :]))


@case(lambda r: (normal(r, 3, 1, 4), weights(r, 3, 4)))
def np_squeeze(x, w):
    return np.sum(w * np.squeeze(x))


@case(lambda r: (normal(r, 1, 3, 1), weights(r, 3, 1)))
def np_squeeze_axis(x, w):
    return np.sum(w * np.squeeze(x, axis=0))


@case(lambda r: (normal(r, 3, 1), weights(r, 3)))
def method_squeeze(x, w):
    return np.sum(w * x.squeeze())


@case(lambda r: (normal(r, 3, 1), weights(r, 2, 3, 4)))
def broadcast_to(x, w):
    return np.sum(w * np.broadcast_to(x, (2, 3, 4)))


@case(lambda r: (normal(r, 3), weights(r, 6)))
def tile_int(x, w):
    return np.sum(w * np.tile(x, 2))


@case(lambda r: (normal(r, 2, 3), weights(r, 4, 9)))
def tile_tuple(x, w):
    return np.sum(w * np.tile(x, (2, 3)))


@case(lambda r: (normal(r, 2, 3), weights(r, 12)))
def repeat_no_axis(x, w):
    return np.sum(w * np.repeat(x, 2))


@case(lambda r: (normal(r, 2, 3), weights(r, 2, 6)))
def repeat_axis(x, w):
    return np.sum(w * np.repeat(x, 2, axis=1))


@case(lambda r: (normal(r, 3, 2), weights(r, 6, 2)))
def repeat_counts_axis(x, w):
    return np.sum(w * np.repeat(x, [1, 2, 3], axis=0))


@case(lambda r: (normal(r, 2, 3), weights(r, 6, 3)))
def method_repeat(x, w):
    return np.sum(w * x.repeat(3, axis=0))


@case(lambda r: (normal(r, 2, 4), normal(r, 3, 4), weights(r, 5, 4)), wrt=(0, 1))
def concatenate_axis0(x, y, w):
    return np.sum(w * np.concatenate([x, y]))


@case(lambda r: (normal(r, 3, 2), normal(r, 3, 4), weights(r, 3, 6)), wrt=(0, 1))
def concatenate_axis1(x, y, w):
    return np.sum(w * np.concatenate((x, y), axis=1))


@case(lambda r: (normal(r, 3), weights(r, 9)))
def concatenate_same_array(x, w):
    return np.sum(w * np.concatenate([x, x ** 2, x]))


@case(lambda r: (normal(r, 3, 4), normal(r, 3, 4), weights(r, 2, 3, 4)), wrt=(0, 1))
def stack_axis0(x, y, w):
    return np.sum(w * np.stack([x, y]))


@case(lambda r: (normal(r, 3, 4), normal(r, 3, 4), weights(r, 3, 2, 4)), wrt=(0, 1))
def stack_axis1(x, y, w):
    return np.sum(w * np.stack((x, y), axis=1))


@case(lambda r: (normal(r, 3), weights(r, 3, 3)))
def stack_last_axis(x, w):
    return np.sum(w * np.stack([x, 2.0 * x, np.sin(x)], axis=-1))


@case(lambda r: (normal(r, 3), normal(r, 2), weights(r, 5)), wrt=(0, 1))
def hstack_vectors(x, y, w):
    return np.sum(w * np.hstack([x, y]))


@case(lambda r: (normal(r, 3, 2), normal(r, 3, 1), weights(r, 3, 3)), wrt=(0, 1))
def hstack_matrices(x, y, w):
    return np.sum(w * np.hstack((x, y)))


@case(lambda r: (normal(r, 4), normal(r, 4), weights(r, 2, 4)), wrt=(0, 1))
def vstack_vectors(x, y, w):
    return np.sum(w * np.vstack([x, y]))


@case(lambda r: (normal(r, 2, 4), normal(r, 1, 4), weights(r, 3, 4)), wrt=(0, 1))
def vstack_matrices(x, y, w):
    return np.sum(w * np.vstack((x, y)))


@case(lambda r: (normal(r, 5), weights(r, 4)))
def diff(x, w):
    return np.sum(w * np.diff(x))


@case(lambda r: (normal(r, 3, 4), weights(r, 2, 4)))
def diff_axis0(x, w):
    return np.sum(w * np.diff(x, axis=0))


@case(lambda r: (normal(r, 3, 4), weights(r, 3, 2)))
def diff_twice(x, w):
    return np.sum(w * np.diff(x, n=2))


# ===================================================================================
# Indexing: reads
# ===================================================================================

@case(lambda r: (normal(r, 6), weights(r, 2)))
def slice_basic(x, w):
    return np.sum(w * x[1:3])


@case(lambda r: (normal(r, 6), weights(r, 2)))
def slice_negative(x, w):
    return np.sum(w * x[-3:-1])


@case(lambda r: (normal(r, 7), weights(r, 4)))
def slice_reverse_step(x, w):
    return np.sum(w * x[::-2])


@case(lambda r: (normal(r, 4, 5), weights(r, 2, 3)))
def slice_2d(x, w):
    return np.sum(w * x[1:3, ::2])


@case(lambda r: (normal(r, 4, 5), weights(r, 4)))
def slice_column(x, w):
    return np.sum(w * x[:, -2])


@case(lambda r: normal(r, 5))
def index_last(x):
    return 2.5 * x[-1] * x[0]


@case(lambda r: (normal(r, 3, 4), weights(r, 4)))
def index_last_row(x, w):
    return np.sum(w * x[-1])


@case(lambda r: (normal(r, 4), weights(r, 3)))
def index_array_repeated(x, w):
    return np.sum(w * x[np.array([0, 2, 2])])  # x[2] is read twice


@case(lambda r: (normal(r, 4), np.array([3, 1, 3, 3]), weights(r, 4)))
def index_array_argument(x, idx, w):
    return np.sum(w * np.sin(x[idx]))


@case(lambda r: (normal(r, 4), weights(r, 3)))
def index_list_repeated(x, w):
    return np.sum(w * x[[1, 1, 0]])


@case(lambda r: (normal(r, 4, 3), weights(r, 3, 3)))
def index_rows_repeated(x, w):
    return np.sum(w * x[np.array([2, 0, 2])])


@case(lambda r: (normal(r, 3, 4), weights(r, 3)))
def index_pairs_repeated(x, w):
    return np.sum(w * x[np.array([0, 1, 0]), np.array([2, 3, 2])])


@case(lambda r: apart(r, 8))
def mask_of_x(x):
    return np.sum(x[x > 0] ** 3)


@case(lambda r: (normal(r, 3, 4), r.random((3, 4)) > 0.4, weights(r, 3, 4)))
def mask_argument(x, mask, v):
    return np.sum(np.sin(x[mask]) * (v[mask] + 2.0))  # the mask selects a 1-D array


@case(lambda r: normal(r, 5))
def loop_index(x):
    s = 0.0
    for i in range(len(x)):
        s = s + x[i] * x[i - 1]  # x[-1] at i = 0
    return s


@case(lambda r: normal(r, 3, 4))
def loop_index_2d(a):
    s = 0.0
    for i in range(a.shape[0]):
        for j in range(a.shape[1]):
            s = s + np.sin(a[i, j]) * (i + 1.0) * (j - 1.5)
    return s


@case(lambda r: (normal(r, 3, 4), normal(r, 4)), wrt=(0, 1))
def loop_rows(a, x):
    s = 0.0
    for i in range(len(a)):
        s = s + np.dot(a[i], x) ** 2 * (i + 1.0)
    return s


# ===================================================================================
# Indexing: writes, in loops; overwritten values must be restored in the reverse sweep
# ===================================================================================

@case(lambda r: (normal(r, 5), weights(r, 5)))
def write_recurrence(x, w):
    y = np.zeros_like(x)
    for i in range(len(x)):
        y[i] = x[i] * y[i - 1] + np.sin(x[i])  # y[-1] is still 0 at i = 0
    return np.sum(w * y)


@case(lambda r: (normal(r, 7), weights(r, 3)))
def write_augmented(x, w):
    y = np.zeros(3)
    for i in range(len(x)):
        y[i % 3] += x[i] * x[i - 1]
    return np.sum(w * y)


@case(lambda r: (normal(r, 3, 4), weights(r, 4)))
def write_augmented_row(a, w):
    y = np.zeros(a.shape[1])
    for i in range(a.shape[0]):
        y += np.sin(a[i]) * y + a[i]
    return np.sum(w * y)


@case(lambda r: (apart(r, 6), weights(r, 6)))
def write_mask(x, w):
    y = np.ones_like(x)
    y[x > 0] = x[x > 0] ** 2
    return np.sum(w * (y * x))


@case(lambda r: (apart(r, 6), weights(r, 6)))
def write_mask_overwrites(x, w):
    y = x * 2.0
    y[x < 0] = 0.1 * y[x < 0] ** 2  # the old y values are read, then overwritten
    return np.sum(w * y)


@case(lambda r: normal(r, 5))
def write_same_slot_twice(x):
    y = np.zeros(2)
    for i in range(len(x)):
        y[0] = np.sin(y[0] + x[i])  # slot 0 is overwritten on every iteration
        y[1] = y[1] * y[0] + x[i]
    return y[0] * y[1]


@case(lambda r: normal(r, 4))
def write_slot_twice_in_body(x):
    y = np.ones(3)
    for i in range(len(x)):
        y[1] = y[1] * x[i]
        y[1] = np.cos(y[1]) + y[2]  # the value just written is overwritten
        y[2] = y[2] + y[1] ** 2
    return np.sum(y ** 2)


@case(lambda r: (normal(r, 4), weights(r, 4, 4)))
def write_pairwise(x, w):
    n = len(x)
    d = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            d[i, j] = (x[i] - x[j]) ** 2 + x[i] * x[j]
    return np.sum(w * d)


@case(lambda r: (normal(r, 3, 4), weights(r, 3, 4)))
def write_slices(a, w):
    b = np.zeros_like(a)
    b[:, 0] = a[:, 0] ** 2
    b[1:, 1:] = np.sin(a[:-1, :-1])
    b[0, 1:] = b[0, 1:] + a[2, 1:] * b[2, 1:]
    return np.sum(w * b)


@case(lambda r: (normal(r, 4, 3), weights(r, 4, 3)))
def write_rows_in_loop(a, w):
    h = np.zeros_like(a)
    h[0] = np.tanh(a[0])
    for t in range(1, a.shape[0]):
        h[t] = np.tanh(a[t] + 0.5 * h[t - 1])
    return np.sum(w * h)


# ===================================================================================
# Constructors are constants; .shape, .ndim, .size and len() are ints
# ===================================================================================

@case(lambda r: (normal(r, 4), weights(r, 4)))
def ctor_empty_filled(x, w):
    y = np.empty(len(x))
    for i in range(len(x)):
        y[i] = x[i] ** 2 + 1.0
    return np.sum(w * y)


@case(lambda r: (normal(r, 4), weights(r, 4)))
def ctor_zeros_shape(x, w):
    y = np.zeros((x.shape[0],))
    y[1:] = x[:-1] * x[1:]
    return np.sum(w * (y + x))


@case(lambda r: (normal(r, 3, 4), weights(r, 3, 4)))
def ctor_ones_full(x, w):
    return np.sum(w * (np.ones((3, 4)) * x + np.full(x.shape, 0.5) ** x))


@case(lambda r: (normal(r, 3, 3), weights(r, 3, 3)))
def ctor_eye(a, w):
    return np.sum(w * np.linalg.inv(np.eye(len(a)) * 3.0 + 0.3 * a))


@case(lambda r: (normal(r, 5), weights(r, 5)))
def ctor_arange(x, w):
    return np.sum(w * (x * np.arange(len(x)) + np.arange(0.0, 2.5, 0.5) * x ** 2))


@case(lambda r: (normal(r, 5), weights(r, 5)))
def ctor_linspace(x, w):
    return np.sum(w * (np.linspace(0.0, 1.0, x.size) * np.sin(x)))


@case(lambda r: (normal(r, 3, 4), weights(r, 3, 4)))
def ctor_like(x, w):
    y = np.zeros_like(x) + np.ones_like(x) * 2.0
    return np.sum(w * (y * x + x ** 2))


@case(lambda r: normal(r, 3, 4))
def size_normalise(x):
    return np.sum(x ** 2) / x.size


@case(lambda r: normal(r, 5))
def len_normalise(x):
    return (np.sum(x) / len(x)) ** 2


@case(lambda r: (normal(r, 3, 4), weights(r, 3, 4)))
def ndim_exponent(x, w):
    return np.sum(w * x ** x.ndim)


@case(lambda r: normal(r, 3, 4))
def shape_unpacked_loop(a):
    n, m = a.shape
    s = 0.0
    for i in range(n):
        s = s + np.sum(a[i] ** 2) * (i + 1.0) / m
    return s


# ===================================================================================
# Arrays as loop-carried state and as list elements
# ===================================================================================

def _rnn_point(r):
    return (0.5 * normal(r, 3, 3), normal(r, 3, 2), normal(r, 3) * 0.5, normal(r, 3) * 0.5,
            normal(r, 4, 2))


@case(_rnn_point, wrt=(0, 1, 2, 3))
def rnn(W, U, b, h0, xs):
    h = h0
    for t in range(len(xs)):
        h = np.tanh(W @ h + U @ xs[t] + b)
    return np.sum(h ** 2)


@case(_rnn_point, wrt=("W", "U", "b", "h0"))
def rnn_list_of_states(W, U, b, h0, xs):
    hs = []
    h = h0
    for t in range(xs.shape[0]):
        h = np.tanh(W @ h + U @ xs[t] + b)
        hs.append(h)
    loss = 0.0
    for t in range(len(hs)):
        loss = loss + np.sum(hs[t] * xs[t][0]) + np.sum(hs[t] ** 2)
    return loss


@case(lambda r: (well_conditioned(r, 3), normal(r, 3), normal(r, 3)), wrt=(0, 1, 2))
def gradient_descent_steps(a, b, x0):
    x = x0
    for _ in range(4):
        x = x - 0.05 * (a.T @ (a @ x - b))
    return np.sum((a @ x - b) ** 2)


@case(lambda r: (normal(r, 3), weights(r, 3)))
def list_append_then_sum(x, w):
    parts = []
    for k in range(3):
        parts.append(np.sin((k + 1.0) * x))
    total = np.zeros_like(x)
    for p in parts:
        total = total + p
    return np.sum(w * total)


@case(lambda r: (normal(r, 3), weights(r, 4, 3)))
def list_append_then_stack(x, w):
    parts = [x]
    for k in range(3):
        parts.append(parts[-1] * x + 0.5)
    return np.sum(w * np.stack(parts))


# ===================================================================================
# Small models
# ===================================================================================

def _mlp_point(r):
    return (normal(r, 5, 3), normal(r, 3, 4) * 0.5, normal(r, 4) * 0.5, normal(r, 4, 2) * 0.5,
            normal(r, 2) * 0.5, normal(r, 5, 2))


@case(_mlp_point, wrt=(1, 2, 3, 4))
def mlp_loss(X, W1, b1, W2, b2, Y):
    h = np.tanh(X @ W1 + b1)
    out = h @ W2 + b2
    return np.mean((out - Y) ** 2)


@case(lambda r: (normal(r, 6, 3), normal(r, 3), 0.3, r.choice([-1.0, 1.0], 6)), wrt=(1, 2))
def logistic_regression(X, theta, bias, y):
    z = X @ theta + bias
    return np.mean(np.log1p(np.exp(-y * z)))


@case(lambda r: (apart(r, 4, 3), np.array([2, 0, 1, 2])))
def cross_entropy(logits, labels):
    m = np.max(logits, axis=1, keepdims=True)
    logp = logits - m - np.log(np.sum(np.exp(logits - m), axis=1, keepdims=True))
    return -np.mean(logp[np.arange(len(labels)), labels])


# ===================================================================================
# Not in CASES: checked by hand in tests/rules/test_numpy_ops.py
# ===================================================================================

# ties of maximum/minimum: the gradient is split half and half (like torch.maximum)

def maximum_ties(x, y, w):
    return np.sum(w * np.maximum(x, y))


def minimum_ties(x, y, w):
    return np.sum(w * np.minimum(x, y))


def relu_at_zero(x):
    return np.sum(np.maximum(x, 0.0))


def sum_of_repeated_gather(x):
    return np.sum(x[np.array([0, 2, 2])])


def sign_sum(x):
    return np.sum(np.sign(x) * 3.0)


def relu_by_comparison(x):
    return np.sum((x > 0) * x)


def zeroed_negatives(x, w):
    y = x * 2.0
    y[x < 0] = 0.0
    return np.sum(w * y)


def sort_of_constant(x, c):
    return np.sum(x * np.sort(c))  # c is not differentiated: sorting it is fine


def mean_square(x):
    return np.mean(x ** 2)


# functions with array outputs, for vjp

def out_sin_times(x):
    return np.sin(x) * x


def out_matvec(a, x):
    return a @ x


def out_softmax(x):
    e = np.exp(x - np.max(x))
    return e / np.sum(e)


def out_cumsum(x):
    return np.cumsum(x, axis=1)


def out_transpose_ravel(x):
    return x.T.reshape(-1)


def out_gather(x):
    return x[np.array([0, 2, 2, 1])]


def out_outer(x, y):
    return np.outer(x, y) + np.sin(x)[:, None]


def out_solve(a, b):
    return np.linalg.solve(a, b)


def out_broadcast(x, y):
    return x * y + x ** 2


def out_recurrence(x):
    y = np.zeros_like(x)
    for i in range(len(x)):
        y[i] = x[i] * y[i - 1] + np.sin(x[i])
    return y


def out_rnn(W, h0):
    h = h0
    for _ in range(3):
        h = np.tanh(W @ h)
    return h


def out_inv(a):
    return np.linalg.inv(a)


def out_row_sums(x):
    return np.sum(x ** 2, axis=1)


# calls s2sgrad must refuse: each names the function and points at this file

def partition_active(x):
    return np.sum(np.partition(x, 1) * np.arange(3.0))  # <- here


def unique_active(x):
    u = np.unique(x * 2.0)  # <- here
    return np.sum(u)


def random_normal_active(x):
    noise = np.random.normal(x, 1.0)  # <- here
    return np.sum(noise)


def fft_active(x):
    return np.sum(np.abs(np.fft.fft(x)) ** 2)  # <- here


# a shape mismatch is NumPy's own ValueError, not s2sgrad's

def mismatched_add(x, y):
    return np.sum(x + y)


def mismatched_matmul(a, x):
    return np.sum(a @ x)


assert len({c.name for c in CASES + SCIPY_CASES}) == len(CASES) + len(SCIPY_CASES), \
    "numpy_ops function names must be unique"
