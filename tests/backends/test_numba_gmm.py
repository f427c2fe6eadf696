"""ADBench's GMM objective written loop-style (benchmarks/problems/gmm.py): its numba gradient
compiles (an int position `lpos` advanced in the loop stays an int on its tape, element
writes in loops go on typed tapes, no number is wrapped in np.sum) and equals PyTorch's
gradient on ADBench's 1k inputs, and the python backend's and finite differences on a
slice of them."""
import numpy as np
import pytest
import torch

import s2sgrad
from s2sgrad.testing import check_grads

from benchmarks.problems import gmm  # the benchmark's GMM (the repository root is on sys.path: conftest.py)


def _torch_gradient(args):
    tensors = [torch.tensor(a, requires_grad=True) for a in args[:3]]
    gmm.gmm_objective_torch(*tensors, torch.tensor(args[3]), *args[4:]).backward()
    return [t.grad.numpy() for t in tensors]


@pytest.mark.parametrize("d, k", [(2, 5), (10, 5)])
def test_numba_gmm_gradient_equals_pytorch(d, k):
    args = gmm.read_gmm(gmm.gmm_file(1000, d, k))
    compiled = s2sgrad.grad(gmm.gmm_objective, wrt=(0, 1, 2), backend="numba")
    ours = compiled(*args)
    for got, want in zip(ours, _torch_gradient(args)):
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-8, atol=1e-8 * np.max(np.abs(want)))
    source = compiled.source
    assert "np.sum(" not in source and " = []" not in source  # typed tapes, no sums of numbers
    assert "tape_lpos = np.empty(n * k, np.int64)" in source  # the loop nest's room, made once
    # qxcentered[row] += ... is refilled whole (for j in range(d)) before any read: not taped
    assert "tape_qxcentered_items[n_tape_qxcentered_items] = qxcentered[row]" not in source
    # the python backend, on a slice of the points (it is slower)
    few = args[:3] + (args[3][:30],) + args[4:]
    python = s2sgrad.grad(gmm.gmm_objective, wrt=(0, 1, 2))(*few)
    for got, want in zip(compiled(*few), python):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_gmm_gradient_matches_finite_differences():
    alphas, means, icf, x, gamma, m = gmm.read_gmm(gmm.gmm_file(1000, 2, 5))
    # other values than the file's: a nonzero m, a gamma other than 1, fewer points
    check_grads(gmm.gmm_objective, alphas, means, icf * 0.7, x[:12], 1.3, 2, wrt=(0, 1, 2))
