"""backend="numba": the generated code compiled with numba.njit gives the python backend's
derivatives (to 1e-12) on every corpus function numba can compile; the rest are listed,
each with the reason, and refused with a positioned S2SGradError."""
import math
import os
import sys
import zlib

import numpy as np
import pytest

import s2sgrad

sys.path.insert(0, os.path.dirname(__file__))
import corpus  # noqa: E402  (tests/corpus.py, found through the path set above)

# Corpus functions numba cannot compile, and why: refused with a CompileError.
NOT_COMPILED = {}

CASES = pytest.mark.parametrize("c", [c for c in corpus.CORPUS if c.name not in NOT_COMPILED],
                                ids=[c.name for c in corpus.CORPUS if c.name not in NOT_COMPILED])


def _points(c, n=2):
    rng = np.random.default_rng(zlib.crc32(c.name.encode()))
    return [c.sample(rng) for _ in range(n)]


def _close(a, b):
    if isinstance(a, tuple):
        assert isinstance(b, tuple) and len(a) == len(b)
        for x, y in zip(a, b):
            _close(x, y)
        return
    np.testing.assert_allclose(np.asarray(a, dtype=float), np.asarray(b, dtype=float), rtol=1e-12, atol=1e-12)


@CASES
def test_numba_gradient_equals_python_backend(c):
    python = s2sgrad.grad(c.func, wrt=c.wrt)
    compiled = s2sgrad.grad(c.func, wrt=c.wrt, backend="numba")
    for point in _points(c):
        _close(compiled(*point), python(*point))
