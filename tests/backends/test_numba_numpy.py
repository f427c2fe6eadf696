"""backend="numba" on every NumPy operation row of tests/numpy_ops.py: a row numba can
compile gives the python backend's gradient (1e-12); every other row is listed, with the
reason, in tests/numba_refusals.py and is refused with a CompileError pointing at the
user's function, never numba's traceback alone.

The numba gradients are compiled in worker processes (numba_rows.py: the CI machine's
two cores; S2SGRAD_TEST_WORKERS=1 compiles them in this process)."""
import os
import sys

import numpy as np
import pytest

import s2sgrad

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # tests/: the shared helper modules
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import numba_refusals  # noqa: E402  (tests/numba_refusals.py)
import numba_rows  # noqa: E402  (tests/backends/numba_rows.py)
import numpy_ops  # noqa: E402  (tests/numpy_ops.py)

REFUSED = set(numba_refusals.FUNCTION_ITSELF) | {
    name for names in numba_refusals.GRADIENT_ONLY.values() for name in names}
ROWS = pytest.mark.parametrize("c", numpy_ops.CASES, ids=[c.name for c in numpy_ops.CASES])


def test_the_refusal_lists_name_rows_of_the_table():
    assert REFUSED <= {c.name for c in numpy_ops.CASES}
    assert not set(numba_refusals.FUNCTION_ITSELF) & {n for v in numba_refusals.GRADIENT_ONLY.values() for n in v}


@pytest.fixture(scope="module")
def numba_outcomes(request, tmp_path_factory):
    """The numba gradient of every row this session runs, compiled in worker processes
    (numba_rows.py); each row's test then checks its own."""
    selected = [item.callspec.params["c"] for item in request.session.items
                if getattr(item, "originalname", None) == "test_numba_gradient_of_a_numpy_row"
                and item.module.__name__ == __name__]
    return numba_rows.compute(selected, str(tmp_path_factory.mktemp("numba_rows")))


@ROWS
def test_numba_gradient_of_a_numpy_row(c, numba_outcomes):
    outcome = numba_outcomes[c.name]
    if c.name in REFUSED:
        assert outcome[0] == "raised" and outcome[1] == "CompileError", outcome
        assert f"in {c.name}" in outcome[2] or "numba failed inside" in outcome[2]
        return
    assert outcome[0] == "gradient", outcome
    got = outcome[1]
    expected = s2sgrad.grad(c.func, wrt=c.wrt)(*numba_rows.point(c))
    for g, e in zip(got if isinstance(got, tuple) else (got,), expected if isinstance(expected, tuple) else (expected,)):
        np.testing.assert_allclose(np.asarray(g), np.asarray(e), rtol=1e-12, atol=1e-12)
        assert np.asarray(g).dtype == np.asarray(e).dtype  # float32 stays float32
