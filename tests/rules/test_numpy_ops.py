"""s2sgrad on NumPy code: one table row per operation, checked against finite
differences, plus gradients derived by hand (ties, repeated indices, closed forms),
float32 adjoints, vjp of array-valued functions against a finite-difference Jacobian,
and the errors for calls s2sgrad cannot differentiate.

The functions live in tests/numpy_ops.py.  Tests marked "without s2sgrad" check that
table itself: every function runs in plain NumPy, its points are smooth, its weights
have the shape of the result they weight, and the Jacobian oracle is right.
"""
import copy
import inspect
import os
import sys
import zlib

import numpy as np
import pytest

import s2sgrad
import s2sgrad.testing
from s2sgrad import NonScalarOutputError, S2SGradError
from s2sgrad.testing import check_grads

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # tests/: the shared helper modules
import numpy_ops  # noqa: E402  (tests/numpy_ops.py, found through the path set above)

CASES = pytest.mark.parametrize("c", numpy_ops.CASES, ids=[c.name for c in numpy_ops.CASES])
SCIPY_CASES = pytest.mark.parametrize("c", numpy_ops.SCIPY_CASES,
                                      ids=[c.name for c in numpy_ops.SCIPY_CASES])
BY_NAME = {c.name: c for c in numpy_ops.CASES + numpy_ops.SCIPY_CASES}


def _rng(name):
    """A generator seeded by a name: stable across runs and independent of test order."""
    return np.random.default_rng(zlib.crc32(name.encode()))


def _points(c, n=2):
    """n points of a case."""
    rng = _rng(c.name)
    return [c.sample(rng) for _ in range(n)]


def _positions(f, wrt):
    """Parameter positions named by wrt (a position, a name, or a tuple of them)."""
    params = list(inspect.signature(f).parameters)
    return [w if isinstance(w, int) else params.index(w)
            for w in (wrt if isinstance(wrt, tuple) else (wrt,))]


# --- the table, through check_grads ---------------------------------------------------

def test_table_is_large_enough():
    assert len(numpy_ops.CASES) >= 250


@CASES
def test_numpy_gradient(c):
    for point in _points(c):
        check_grads(c.func, *point, wrt=c.wrt)


@SCIPY_CASES
def test_scipy_gradient(c):
    for point in _points(c):
        check_grads(c.func, *point, wrt=c.wrt)


# --- the table itself, without s2sgrad ---------------------------------------------------

ALL_CASES = pytest.mark.parametrize(
    "c", numpy_ops.CASES + numpy_ops.SCIPY_CASES,
    ids=[c.name for c in numpy_ops.CASES + numpy_ops.SCIPY_CASES])


@ALL_CASES
def test_cases_run_in_plain_numpy(c):
    """Each function returns a finite scalar at its points, and its wrt arguments are floats."""
    for point in _points(c):
        value = c.func(*copy.deepcopy(point))
        assert np.ndim(value) == 0 and np.isfinite(value), (c.name, value)
        for i in _positions(c.func, c.wrt):
            x = point[i]
            assert isinstance(x, float) or (isinstance(x, np.ndarray) and x.dtype == np.float64), \
                (c.name, i, x)


class _Probe:
    """Stands in for w: records the shape of what it multiplies, then acts as zeros."""

    __array_ufunc__ = None  # ndarray * probe returns NotImplemented, so probe.__rmul__ runs

    def __init__(self):
        self.shapes = []

    def __mul__(self, other):
        self.shapes.append(np.shape(other))
        return np.zeros(np.shape(other))

    __rmul__ = __mul__


WEIGHTED = [c for c in numpy_ops.CASES + numpy_ops.SCIPY_CASES
            if "w" in inspect.signature(c.func).parameters]


@pytest.mark.parametrize("c", WEIGHTED, ids=[c.name for c in WEIGHTED])
def test_weights_have_the_result_shape(c):
    """In np.sum(w * result), w has exactly the shape of result (no silent broadcast)."""
    point = list(_points(c, 1)[0])
    i = list(inspect.signature(c.func).parameters).index("w")
    w, probe = point[i], _Probe()
    point[i] = probe
    c.func(*point)
    assert probe.shapes == [w.shape], (c.name, probe.shapes, w.shape)


def _coordinate_gradient(f, wrt, args, kwargs, h=1e-4):
    """Gradient by Richardson-extrapolated central differences along each coordinate."""
    def partial(i, index):
        def at(step):
            moved = copy.deepcopy(list(args))
            if index is None:
                moved[i] = moved[i] + step
            else:
                moved[i][index] += step
            return float(f(*moved, **kwargs))
        coarse = (at(h) - at(-h)) / (2 * h)
        fine = (at(h / 2) - at(-h / 2)) / h
        return (4 * fine - coarse) / 3

    grads = []
    for i in _positions(f, wrt):
        if isinstance(args[i], np.ndarray):
            x = args[i]
            grads.append(np.array([partial(i, k) for k in np.ndindex(x.shape)]).reshape(x.shape))
        else:
            grads.append(partial(i, None))
    return tuple(grads) if isinstance(wrt, tuple) else grads[0]


@ALL_CASES
def test_points_are_smooth(c, monkeypatch):
    """Coordinate differences (step 1e-4) agree with check_grads' directional ones (1e-6).

    A point near a kink, a tie, or the edge of a domain would make them disagree, so a
    failure here is the table's fault, not s2sgrad's.
    """
    monkeypatch.setattr(s2sgrad.testing, "_reverse_gradient", _coordinate_gradient)
    for point in _points(c):
        check_grads(c.func, *point, wrt=c.wrt)


# --- float32 in, float32 adjoint out ------------------------------------------------------

# (case, cast): "all" casts every float array argument to float32; "wrt" only the wrt
# ones, so that float64 weights promote the forward pass to float64 while the adjoint
# of a float32 argument must still come back as float32.
DTYPE_ROWS = [
    ("np_sin", "all"), ("np_sin", "wrt"), ("np_exp", "all"), ("np_sqrt", "all"),
    ("float_times_array", "all"), ("column_times_row", "all"), ("column_times_row", "wrt"),
    ("leading_axes_add", "all"), ("matrix_over_row", "all"), ("np_maximum", "all"),
    ("np_where_broadcast", "all"), ("np_clip", "all"), ("astype_float64", "all"),
    ("np_sum_axis1", "all"), ("method_mean_keepdims", "all"), ("np_max_axis_tuple", "all"),
    ("np_std_axis_neg", "all"), ("np_prod_all", "all"), ("np_cumsum_axis1", "all"),
    ("norm_axis1", "all"), ("matmul_matrix_matrix", "all"), ("matmul_batched_shared", "all"),
    ("matmul_batched_shared", "wrt"), ("einsum_matmul", "all"), ("solve_vector", "all"),
    ("dot_T", "all"), ("reshape_method_minus_one", "all"), ("concatenate_axis0", "all"),
    ("broadcast_to", "all"), ("slice_reverse_step", "all"), ("index_array_repeated", "all"),
    ("write_recurrence", "all"), ("write_slices", "all"), ("rnn", "all"),
    ("softmax_keepdims", "all"), ("ctor_like", "all"),
]


def _float32_point(c, cast):
    point = list(_points(c, 1)[0])
    positions = _positions(c.func, c.wrt)
    for i, a in enumerate(point):
        floats = isinstance(a, np.ndarray) and a.dtype == np.float64
        if floats and (cast == "all" or i in positions):
            point[i] = a.astype(np.float32)
    return point


@pytest.mark.parametrize("name,cast", DTYPE_ROWS, ids=[f"{n}-{k}" for n, k in DTYPE_ROWS])
def test_float32_adjoint(name, cast):
    c = BY_NAME[name]
    point32 = _float32_point(c, cast)
    point64 = [a.astype(np.float64) if isinstance(a, np.ndarray) and a.dtype == np.float32 else a
               for a in point32]  # the same values in float64
    g32 = s2sgrad.grad(c.func, wrt=c.wrt)(*copy.deepcopy(point32))
    g64 = s2sgrad.grad(c.func, wrt=c.wrt)(*copy.deepcopy(point64))
    if not isinstance(c.wrt, tuple):
        g32, g64 = (g32,), (g64,)
    checked = 0
    for i, a, b in zip(_positions(c.func, c.wrt), g32, g64):
        x = point32[i]
        if not isinstance(x, np.ndarray):
            continue
        assert isinstance(a, np.ndarray) and a.shape == x.shape, (i, a)
        assert a.dtype == np.float32, f"argument {i}: float32 in, {a.dtype} adjoint out"
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5 * np.max(np.abs(b)))
        checked += 1
    assert checked, "no float32 argument was differentiated"


# --- maximum / minimum at ties: half and half ---------------------------------------------

TIE_X = np.array([1.0, 2.0, -0.5, 3.0])
TIE_Y = np.array([1.0, 0.0, -0.5, 4.0])  # ties at positions 0 and 2
TIE_W = np.array([1.0, -2.0, 3.0, 0.5])


def test_maximum_ties_split_half_half():
    dx, dy = s2sgrad.grad(numpy_ops.maximum_ties, wrt=(0, 1))(TIE_X, TIE_Y, TIE_W)
    np.testing.assert_allclose(dx, TIE_W * np.array([0.5, 1.0, 0.5, 0.0]), rtol=1e-12)
    np.testing.assert_allclose(dy, TIE_W * np.array([0.5, 0.0, 0.5, 1.0]), rtol=1e-12)


def test_minimum_ties_split_half_half():
    dx, dy = s2sgrad.grad(numpy_ops.minimum_ties, wrt=(0, 1))(TIE_X, TIE_Y, TIE_W)
    np.testing.assert_allclose(dx, TIE_W * np.array([0.5, 0.0, 0.5, 1.0]), rtol=1e-12)
    np.testing.assert_allclose(dy, TIE_W * np.array([0.5, 1.0, 0.5, 0.0]), rtol=1e-12)


def test_maximum_ties_with_broadcasting():
    x = np.array([[1.0], [2.0], [3.0]])           # (3, 1)
    y = np.array([[1.0, 2.0, 0.0, 3.0]])          # (1, 4): ties at (0,0), (1,1), (2,3)
    w = np.arange(1.0, 13.0).reshape(3, 4)
    dx, dy = s2sgrad.grad(numpy_ops.maximum_ties, wrt=(0, 1))(x, y, w)
    share_x = np.where(x > y, 1.0, np.where(x == y, 0.5, 0.0))  # d max(x, y) / dx per pair
    share_y = 1.0 - share_x
    np.testing.assert_allclose(dx, np.sum(w * share_x, axis=1, keepdims=True), rtol=1e-12)
    np.testing.assert_allclose(dy, np.sum(w * share_y, axis=0, keepdims=True), rtol=1e-12)
    # written out for one entry: x[1] = 2 beats y 1 and 0 (w 5, 7), ties y 2 (w 6), loses to 3
    assert dx[1, 0] == pytest.approx(5.0 + 7.0 + 0.5 * 6.0, rel=1e-12)


def test_relu_at_zero_is_half():
    g = s2sgrad.grad(numpy_ops.relu_at_zero)(np.array([-1.0, 0.0, 2.0]))
    np.testing.assert_allclose(g, [0.0, 0.5, 1.0], rtol=1e-12)


# --- other gradients derived by hand -------------------------------------------------------

def test_repeated_index_counts_twice():
    g = s2sgrad.grad(numpy_ops.sum_of_repeated_gather)(np.array([1.0, 2.0, 3.0, 4.0]))
    assert isinstance(g, np.ndarray) and g.shape == (4,)
    np.testing.assert_allclose(g, [1.0, 0.0, 2.0, 0.0], rtol=1e-12)


def test_sign_has_zero_derivative():
    g = s2sgrad.grad(numpy_ops.sign_sum)(np.array([0.3, -1.2, 2.0, -0.1]))
    assert isinstance(g, np.ndarray) and g.shape == (4,)
    assert np.all(g == 0.0)


def test_comparison_has_no_derivative():
    x = np.array([0.3, -1.2, 2.0, -0.1])
    g = s2sgrad.grad(numpy_ops.relu_by_comparison)(x)
    np.testing.assert_allclose(g, [1.0, 0.0, 1.0, 0.0], rtol=1e-12)


def test_overwritten_entries_get_no_gradient():
    x, w = np.array([0.3, -1.2, 2.0, -0.1]), np.array([1.0, 2.0, 3.0, 4.0])
    g = s2sgrad.grad(numpy_ops.zeroed_negatives)(x, w)
    np.testing.assert_allclose(g, [2.0, 0.0, 6.0, 0.0], rtol=1e-12)


def test_sort_of_a_constant_is_fine():
    x, c = np.array([0.5, 1.0, -2.0]), np.array([3.0, -1.0, 2.0])
    np.testing.assert_allclose(s2sgrad.grad(numpy_ops.sort_of_constant)(x, c), [-1.0, 2.0, 3.0],
                               rtol=1e-12)


def test_value_and_grad_of_an_array_function():
    x = np.array([0.5, -1.0, 2.0, 3.0])
    value, g = s2sgrad.value_and_grad(numpy_ops.mean_square)(x)
    assert value == pytest.approx(np.mean(x ** 2), rel=1e-12)
    np.testing.assert_allclose(g, 2.0 * x / 4, rtol=1e-12)


def test_logsumexp_gradient_is_softmax():
    x = np.array([0.5, -1.0, 2.0, 3.0])
    g = s2sgrad.grad(numpy_ops.logsumexp_by_hand)(x)
    np.testing.assert_allclose(g, np.exp(x) / np.sum(np.exp(x)), rtol=1e-10)


def test_det_gradient_is_cofactor_matrix():
    a = numpy_ops.well_conditioned(_rng("det"), 3)
    g = s2sgrad.grad(numpy_ops.det)(a)
    np.testing.assert_allclose(g, np.linalg.det(a) * np.linalg.inv(a).T, rtol=1e-10)


def test_slogdet_of_negative_det_gradient():
    a = numpy_ops.negative_det(_rng("slogdet"), 3)
    assert np.linalg.det(a) < 0
    g = s2sgrad.grad(numpy_ops.slogdet_negative)(a)
    np.testing.assert_allclose(g, -np.linalg.inv(a).T, rtol=1e-10)


def test_inv_gradient():
    r = _rng("inv")
    a, w = numpy_ops.well_conditioned(r, 3), r.standard_normal((3, 3))
    g = s2sgrad.grad(numpy_ops.inv)(a, w)
    ainv = np.linalg.inv(a)
    np.testing.assert_allclose(g, -ainv.T @ w @ ainv.T, rtol=1e-10)


def test_norm_gradient_is_unit_vector():
    x = np.array([3.0, -4.0, 12.0])
    np.testing.assert_allclose(s2sgrad.grad(numpy_ops.norm_vector)(x), 2.5 * x / 13.0, rtol=1e-12)


# --- vjp of array-valued functions --------------------------------------------------------

def _fd_jacobian(f, args, i, h=1e-6):
    """d f(args).ravel() / d args[i].ravel() by central differences, one column per entry."""
    x = np.asarray(args[i], dtype=np.float64)
    columns = []
    for k in np.ndindex(x.shape):
        plus, minus = copy.deepcopy(list(args)), copy.deepcopy(list(args))
        plus[i], minus[i] = x.copy(), x.copy()
        plus[i][k] += h
        minus[i][k] -= h
        columns.append((np.ravel(f(*plus)) - np.ravel(f(*minus))) / (2 * h))
    return np.stack(columns, axis=1)


def _fd_vjp(f, args, i, cotangent):
    """The cotangent pulled back to args[i] through the finite-difference Jacobian."""
    return (_fd_jacobian(f, args, i).T @ np.ravel(cotangent)).reshape(np.shape(args[i]))


def test_fd_vjp_oracle_on_linear_function():
    """Without s2sgrad: the oracle reproduces a known Jacobian and its transpose."""
    r = _rng("oracle")
    m, x, ct = r.standard_normal((3, 4)), r.standard_normal(4), r.standard_normal(3)
    np.testing.assert_allclose(_fd_jacobian(lambda v: m @ v, [x], 0), m, atol=1e-8)
    np.testing.assert_allclose(_fd_vjp(lambda v: m @ v, [x], 0, ct), m.T @ ct, atol=1e-8)
    # with respect to a matrix, and through a second argument: d(a @ x)/da pulls ct to outer(ct, x)
    np.testing.assert_allclose(_fd_vjp(lambda a, v: a @ v, [m, x], 0, ct), np.outer(ct, x),
                               atol=1e-8)
    # element-wise on a matrix: the Jacobian is diagonal
    y, ct2 = r.standard_normal((2, 3)), r.standard_normal((2, 3))
    np.testing.assert_allclose(_fd_jacobian(lambda v: v ** 2, [y], 0), np.diag(2 * y.ravel()),
                               atol=1e-8)
    np.testing.assert_allclose(_fd_vjp(lambda v: v ** 2, [y], 0, ct2), 2 * y * ct2, atol=1e-8)


def _n(r, *shape):
    return r.standard_normal(shape)


VJP_ROWS = [  # function, point generator, wrt
    (numpy_ops.out_sin_times, lambda r: (_n(r, 3, 4),), 0),
    (numpy_ops.out_matvec, lambda r: (_n(r, 3, 4), _n(r, 4)), 0),
    (numpy_ops.out_matvec, lambda r: (_n(r, 3, 4), _n(r, 4)), 1),
    (numpy_ops.out_matvec, lambda r: (_n(r, 3, 4), _n(r, 4)), (0, 1)),
    (numpy_ops.out_softmax, lambda r: (_n(r, 5),), 0),
    (numpy_ops.out_cumsum, lambda r: (_n(r, 3, 4),), 0),
    (numpy_ops.out_transpose_ravel, lambda r: (_n(r, 3, 4),), 0),
    (numpy_ops.out_gather, lambda r: (_n(r, 4),), 0),
    (numpy_ops.out_outer, lambda r: (_n(r, 3), _n(r, 4)), (0, 1)),
    (numpy_ops.out_solve, lambda r: (numpy_ops.well_conditioned(r, 3), _n(r, 3, 2)), (0, 1)),
    (numpy_ops.out_broadcast, lambda r: (_n(r, 3, 1), _n(r, 1, 4)), (0, 1)),
    (numpy_ops.out_recurrence, lambda r: (_n(r, 5),), 0),
    (numpy_ops.out_rnn, lambda r: (0.5 * _n(r, 3, 3), _n(r, 3)), (0, 1)),
    (numpy_ops.out_inv, lambda r: (numpy_ops.well_conditioned(r, 3),), 0),
    (numpy_ops.out_row_sums, lambda r: (_n(r, 3, 4),), 0),
]
VJP_IDS = [f"{f.__name__}-wrt{w}" for f, _, w in VJP_ROWS]


@pytest.mark.parametrize("f,points,wrt", VJP_ROWS, ids=VJP_IDS)
def test_vjp_matches_jacobian_transpose(f, points, wrt):
    r = _rng(f"{f.__name__}-{wrt}")
    args = points(r)
    out = f(*copy.deepcopy(args))
    assert isinstance(out, np.ndarray) and out.ndim >= 1
    cotangent = r.standard_normal(out.shape)
    got = s2sgrad.vjp(f, wrt=wrt)(*copy.deepcopy(args), cotangent)
    got = got if isinstance(wrt, tuple) else (got,)
    positions = _positions(f, wrt)
    assert len(got) == len(positions)
    for i, g in zip(positions, got):
        assert isinstance(g, np.ndarray) and g.shape == args[i].shape, (i, g)
        np.testing.assert_allclose(g, _fd_vjp(f, args, i, cotangent), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("f,points,wrt", VJP_ROWS[:8], ids=VJP_IDS[:8])
def test_grad_of_array_output_is_refused(f, points, wrt):
    args = points(_rng(f.__name__))
    with pytest.raises(NonScalarOutputError):
        s2sgrad.grad(f, wrt=wrt)(*args)


# --- calls s2sgrad cannot differentiate ----------------------------------------------------

MARKER = "# <- here"


def _marked(func, construct):
    """(line, 1-based column, line text) of construct on the line of func marked with MARKER."""
    lines, first = inspect.getsourcelines(func)
    marked = [k for k, text in enumerate(lines) if MARKER in text]
    assert len(marked) == 1, f"{func.__name__} must mark exactly one line with {MARKER!r}"
    text = lines[marked[0]].rstrip("\n")
    code = text[:text.index(MARKER)]
    assert code.count(construct) == 1, (construct, code)
    return first + marked[0], code.index(construct) + 1, text.strip()


BAD_CALLS = [  # function, the call the caret points at, what the message must name
    (numpy_ops.partition_active, "np.partition(x, 1)", "partition"),
    (numpy_ops.unique_active, "np.unique(x * 2.0)", "unique"),
    (numpy_ops.random_normal_active, "np.random.normal(x, 1.0)", "normal"),
    (numpy_ops.fft_active, "np.fft.fft(x)", "fft"),
]


@pytest.mark.parametrize("func,construct,name", BAD_CALLS, ids=[b[2] for b in BAD_CALLS])
def test_call_without_rule_is_refused_by_name(func, construct, name):
    x = np.array([0.3, -1.2, 2.0])
    with pytest.raises(S2SGradError) as info:
        s2sgrad.grad(func)(x)
    exc, text = info.value, str(info.value)
    assert name in exc.message, f"the message should name {name!r}:\n{text}"
    line, col, source = _marked(func, construct)
    where = f"numpy_ops.py:{line}:{col}"
    rows = text.splitlines()
    at = [k for k, row in enumerate(rows) if where in row]
    assert at, f"expected the position {where} (the {construct!r} in {source!r}):\n{text}"
    k = at[0]
    assert k + 2 < len(rows), f"expected the source line and a caret after {where}:\n{text}"
    shown, caret = rows[k + 1], rows[k + 2]
    assert shown.strip() == source, f"the source line shown should be {source!r}:\n{text}"
    assert set(caret.strip()) == {"^"}, f"expected a caret line under the source:\n{text}"
    assert caret.index("^") == shown.index(construct), \
        f"the caret should start under {construct!r}:\n{text}"


def test_shape_mismatch_is_numpys_value_error():
    g = s2sgrad.grad(numpy_ops.mismatched_add, wrt=(0, 1))
    with pytest.raises(ValueError, match="broadcast") as info:
        g(np.ones(3), np.ones(4))
    assert not isinstance(info.value, S2SGradError)


def test_matmul_shape_mismatch_is_numpys_value_error():
    g = s2sgrad.grad(numpy_ops.mismatched_matmul, wrt=(0, 1))
    with pytest.raises(ValueError) as info:
        g(np.ones((3, 4)), np.ones(3))
    assert not isinstance(info.value, S2SGradError)
