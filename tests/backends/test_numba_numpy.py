"""backend="numba" on every NumPy operation row of tests/numpy_ops.py: a row numba can
compile gives the python backend's gradient (1e-12); every other row is listed, with the
reason, in tests/numba_refusals.py and is refused with a CompileError pointing at the
user's function, never numba's traceback alone."""
import os
import sys
import zlib

import numpy as np
import pytest

import s2sgrad

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # tests/: the shared helper modules
import numba_refusals  # noqa: E402  (tests/numba_refusals.py)
import numpy_ops  # noqa: E402  (tests/numpy_ops.py)

REFUSED = set(numba_refusals.FUNCTION_ITSELF) | {
    name for names in numba_refusals.GRADIENT_ONLY.values() for name in names}
ROWS = pytest.mark.parametrize("c", numpy_ops.CASES, ids=[c.name for c in numpy_ops.CASES])


def test_the_refusal_lists_name_rows_of_the_table():
    assert REFUSED <= {c.name for c in numpy_ops.CASES}
    assert not set(numba_refusals.FUNCTION_ITSELF) & {n for v in numba_refusals.GRADIENT_ONLY.values() for n in v}


@ROWS
def test_numba_gradient_of_a_numpy_row(c):
    point = c.sample(np.random.default_rng(zlib.crc32(c.name.encode())))
    compiled = s2sgrad.grad(c.func, wrt=c.wrt, backend="numba")
    if c.name in REFUSED:
        with pytest.raises(s2sgrad.CompileError) as info:
            compiled(*point)
        assert f"in {c.name}" in str(info.value) or "numba failed inside" in str(info.value)
        return
    expected = s2sgrad.grad(c.func, wrt=c.wrt)(*point)
    got = compiled(*point)
    for g, e in zip(got if isinstance(got, tuple) else (got,), expected if isinstance(expected, tuple) else (expected,)):
        np.testing.assert_allclose(np.asarray(g), np.asarray(e), rtol=1e-12, atol=1e-12)
        assert np.asarray(g).dtype == np.asarray(e).dtype  # float32 stays float32
