"""ADBench's GMM objective written loop-style, as a numba user writes it, and a reader for
ADBench's GMM input files (/work/shared/data/adbench, format in its README.md).

Shared by tests/backends/test_numba_gmm.py (the numba gradient against PyTorch and finite
differences) and benchmarks.  The objective follows the README's definition: for point i
and component k, Q_k = diag(exp(q_k)) + L_k, with the strictly lower triangle of L_k
filled column by column from icf[k, D:], so the loop walks it with an int position `lpos`.
"""
import math
import os

import numpy as np

DATA = os.environ.get("ADBENCH_DATA", "/work/shared/data/adbench")


def gmm_objective(alphas, means, icf, x, wishart_gamma, wishart_m):
    """The GMM log-likelihood with a Wishart prior, less its constant multigammaln term."""
    n = x.shape[0]
    d = x.shape[1]
    k = alphas.shape[0]
    xcentered = np.zeros(d)
    qxcentered = np.zeros(d)
    main_term = np.zeros(k)
    sum_qs = np.zeros(k)
    for c in range(k):
        for j in range(d):
            sum_qs[c] += icf[c, j]
    slse = 0.0
    for i in range(n):
        for c in range(k):
            for j in range(d):
                xcentered[j] = x[i, j] - means[c, j]
            for j in range(d):
                qxcentered[j] = math.exp(icf[c, j]) * xcentered[j]
            lpos = d
            for col in range(d):
                for row in range(col + 1, d):
                    qxcentered[row] += icf[c, lpos] * xcentered[col]
                    lpos += 1
            sqnorm = 0.0
            for j in range(d):
                sqnorm += qxcentered[j] * qxcentered[j]
            main_term[c] = alphas[c] + sum_qs[c] - 0.5 * sqnorm
        slse += logsumexp_loop(main_term)
    lse_alphas = logsumexp_loop(alphas)
    prior = 0.0
    for c in range(k):
        frobenius = 0.0
        for j in range(d):
            frobenius += math.exp(icf[c, j]) * math.exp(icf[c, j])
        for j in range(d, icf.shape[1]):
            frobenius += icf[c, j] * icf[c, j]
        prior += 0.5 * wishart_gamma * wishart_gamma * frobenius - wishart_m * sum_qs[c]
    n_prior = d + wishart_m + 1
    prior_const = k * n_prior * d * (math.log(wishart_gamma) - 0.5 * math.log(2.0))
    return -n * d * 0.5 * math.log(2 * math.pi) + slse - n * lse_alphas + prior - prior_const


def logsumexp_loop(v):
    m = v[0]
    for c in range(1, v.shape[0]):
        if v[c] > m:
            m = v[c]
    s = 0.0
    for c in range(v.shape[0]):
        s += math.exp(v[c] - m)
    return m + math.log(s)


def gmm_objective_torch(alphas, means, icf, x, wishart_gamma, wishart_m):
    """The same objective in PyTorch, vectorised (an independent oracle)."""
    import torch
    n, d = x.shape
    k = alphas.shape[0]
    q = icf[:, :d]
    rows, cols = [], []
    for col in range(d):  # the strictly lower triangle, column by column
        for row in range(col + 1, d):
            rows.append(row)
            cols.append(col)
    lower = torch.zeros(k, d, d, dtype=icf.dtype)
    lower[:, rows, cols] = icf[:, d:]
    qmat = torch.diag_embed(torch.exp(q)) + lower
    xc = x[:, None, :] - means[None, :, :]                      # n, k, d
    qxc = torch.einsum("kij,nkj->nki", qmat, xc)
    main = alphas[None, :] + q.sum(1)[None, :] - 0.5 * (qxc ** 2).sum(2)
    slse = torch.logsumexp(main, 1).sum()
    prior = (0.5 * wishart_gamma ** 2 * ((torch.exp(q) ** 2).sum(1) + (icf[:, d:] ** 2).sum(1))
             - wishart_m * q.sum(1)).sum()
    n_prior = d + wishart_m + 1
    prior_const = k * n_prior * d * (math.log(wishart_gamma) - 0.5 * math.log(2.0))
    return -n * d * 0.5 * math.log(2 * math.pi) + slse - n * torch.logsumexp(alphas, 0) + prior - prior_const


def read_gmm(path):
    """(alphas, means, icf, x, gamma, m) from an ADBench GMM file."""
    with open(path) as f:
        numbers = f.read().split()
    d, k, n = (int(v) for v in numbers[:3])
    values = np.array(numbers[3:], dtype=float)
    pos = 0

    def take(count, shape):
        nonlocal pos
        out = values[pos:pos + count].reshape(shape)
        pos += count
        return out

    alphas = take(k, (k,))
    means = take(k * d, (k, d))
    icf_size = d + d * (d - 1) // 2
    icf = take(k * icf_size, (k, icf_size))
    x = take(n * d, (n, d))
    gamma, m = take(2, (2,))
    return alphas, means, icf, x, float(gamma), int(m)


def gmm_file(n_points, d, k):
    return os.path.join(DATA, "gmm", f"{n_points // 1000}k", f"gmm_d{d}_K{k}.txt")
