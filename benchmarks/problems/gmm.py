"""GMM: the Gaussian mixture log-likelihood with a Wishart prior (ADBench's definition,
benchmarks/data/adbench), written four ways, all this project's own:

- gmm_objective: loop-style, as a numba user writes it (s2sgrad's numba backend; also
  tests/backends/test_numba_gmm.py).  For point i and component k,
  Q_k = diag(exp(q_k)) + L_k, the strictly lower triangle of L_k filled column by column
  from icf[k, D:], so the loop walks it with an int position `lpos`;
- gmm_objective_hoisted: the same with exp(icf) computed before the point loop, as
  ADBench's C++ objective and s2sgrad's numba gradient (invariant_calls.py) compute it:
  the ratio against it is the gradient's cost over an objective that does no extra work;
- gmm_vectorized: NumPy without loops or writes (s2sgrad python, and with its `np` bound to
  jax.numpy or autograd.numpy, JAX and HIPS autograd).  L_k is built as icf[:, D:] @ place,
  a constant 0/1 matrix putting each entry at its (row, column), a form every tool takes
  (JAX and autograd have no in-place writes; s2sgrad refused the natural
  `lower[:, rows, cols] = icf[:, D:]` with np.tril_indices when this was written, and
  takes it now);
- gmm_objective_torch: PyTorch, vectorized, the reference gradient;
- and hand_written_gradient: gmm_objective's gradient written by hand in numba, the
  "manual" line.

Every form leaves out the constant multigammaln term (gradients are unchanged).
File format: `D K N`; K alphas; K lines of D means; K lines of D + D(D-1)/2 icf values;
N points; `gamma m`.
"""
import math

import numba
import numpy as np

from benchmarks import tools
from benchmarks.harness import Case, Tool, data_path


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


def gmm_objective_hoisted(alphas, means, icf, x, wishart_gamma, wishart_m):
    """gmm_objective with exp(icf[c, j]) computed once per component, before the point
    loop, as ADBench's C++ objective does (and s2sgrad's numba gradient of gmm_objective):
    the objective its ratio is also given against."""
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
    exp_icf = np.empty((k, d))
    for c in range(k):
        for j in range(d):
            exp_icf[c, j] = math.exp(icf[c, j])
    slse = 0.0
    for i in range(n):
        for c in range(k):
            for j in range(d):
                xcentered[j] = x[i, j] - means[c, j]
            for j in range(d):
                qxcentered[j] = exp_icf[c, j] * xcentered[j]
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


@numba.njit(cache=True)
def hand_written_gradient(alphas, means, icf, x, wishart_gamma, wishart_m):
    """gmm_objective's gradient as a person writes it in numba (the "manual" line): exp(icf)
    once per component, each point's centred and Q-multiplied vectors kept for its k
    components, the softmax weights w of main_term, then the chain rule backwards per
    component with d qxcentered = -w qxcentered; no tapes."""
    n, d = x.shape
    k = alphas.shape[0]
    exp_icf = np.empty((k, d))
    sum_qs = np.zeros(k)
    for c in range(k):
        for j in range(d):
            exp_icf[c, j] = math.exp(icf[c, j])
            sum_qs[c] += icf[c, j]
    d_alphas = np.zeros(k)
    d_means = np.zeros((k, d))
    d_icf = np.zeros_like(icf)
    d_sum_qs = np.zeros(k)
    xc = np.empty((k, d))
    qxc = np.empty((k, d))
    main_term = np.empty(k)
    d_xc = np.empty(d)
    for i in range(n):
        for c in range(k):
            for j in range(d):
                xc[c, j] = x[i, j] - means[c, j]
                qxc[c, j] = exp_icf[c, j] * xc[c, j]
            lpos = d
            for col in range(d):
                for row in range(col + 1, d):
                    qxc[c, row] += icf[c, lpos] * xc[c, col]
                    lpos += 1
            sqnorm = 0.0
            for j in range(d):
                sqnorm += qxc[c, j] * qxc[c, j]
            main_term[c] = alphas[c] + sum_qs[c] - 0.5 * sqnorm
        peak = main_term.max()
        total = 0.0
        for c in range(k):
            main_term[c] = math.exp(main_term[c] - peak)
            total += main_term[c]
        for c in range(k):
            w = main_term[c] / total
            d_alphas[c] += w
            d_sum_qs[c] += w
            lpos = d
            for col in range(d):
                acc = 0.0
                for row in range(col + 1, d):
                    g = -w * qxc[c, row]
                    d_icf[c, lpos] += g * xc[c, col]
                    acc += g * icf[c, lpos]
                    lpos += 1
                d_xc[col] = acc
            for j in range(d):
                g = -w * qxc[c, j]
                d_xc[j] += g * exp_icf[c, j]
                d_icf[c, j] += g * xc[c, j] * exp_icf[c, j]
                d_means[c, j] -= d_xc[j]
    peak = alphas.max()
    weights = np.exp(alphas - peak)
    weights /= weights.sum()
    gamma2 = wishart_gamma * wishart_gamma
    for c in range(k):
        d_alphas[c] -= n * weights[c]
        for j in range(d):
            d_icf[c, j] += d_sum_qs[c] - wishart_m + gamma2 * exp_icf[c, j] * exp_icf[c, j]
        for j in range(d, icf.shape[1]):
            d_icf[c, j] += gamma2 * icf[c, j]
    return d_alphas, d_means, d_icf


def manual(args):
    def build():
        objective = tools.njit_calls(numba, gmm_objective)
        return (lambda: objective(*args)), (lambda: hand_written_gradient(*args))
    return Tool("manual (numba)", build, "hand-written gradient, loop-style objective")


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
    return data_path("gmm", f"{n_points // 1000}k", f"gmm_d{d}_K{k}.txt")


def gmm_vectorized(alphas, means, icf, x, wishart_gamma, wishart_m, place):
    """gmm_objective in vectorized NumPy; place = placement(D)."""
    n = x.shape[0]
    d = x.shape[1]
    k = alphas.shape[0]
    q = icf[:, :d]
    diagonal = np.exp(q)                                         # k, d
    lower = (icf[:, d:] @ place).reshape(k, d, d)                # k, d, d
    xcentered = x[:, None, :] - means[None, :, :]                # n, k, d
    qxcentered = diagonal[None, :, :] * xcentered + np.einsum("kij,nkj->nki", lower, xcentered)
    sum_qs = np.sum(q, axis=1)
    main_term = alphas[None, :] + sum_qs[None, :] - 0.5 * np.sum(qxcentered * qxcentered, axis=2)
    peak = np.max(main_term, axis=1)
    slse = np.sum(peak + np.log(np.sum(np.exp(main_term - peak[:, None]), axis=1)))
    alpha_peak = np.max(alphas)
    lse_alphas = alpha_peak + np.log(np.sum(np.exp(alphas - alpha_peak)))
    frobenius = np.sum(diagonal * diagonal, axis=1) + np.sum(icf[:, d:] * icf[:, d:], axis=1)
    prior = np.sum(0.5 * wishart_gamma * wishart_gamma * frobenius - wishart_m * sum_qs)
    n_prior = d + wishart_m + 1
    prior_const = k * n_prior * d * (math.log(wishart_gamma) - 0.5 * math.log(2.0))
    return -n * d * 0.5 * math.log(2 * math.pi) + slse - n * lse_alphas + prior - prior_const


def placement(d):
    """(D(D-1)/2, D*D) 0/1 matrix: row j puts icf[k, D + j] at its (row, column) of L_k,
    the strictly lower triangle filled column by column."""
    place = np.zeros((d * (d - 1) // 2, d * d))
    position = 0
    for col in range(d):
        for row in range(col + 1, d):
            place[position, row * d + col] = 1.0
            position += 1
    return place


SIZES = [(1000, 2, 5), (1000, 10, 5), (10000, 2, 5)]


def cases(quick):
    """Quick: D=2, K=5 on the first 100 points only."""
    found = []
    for n_points, d, k in SIZES[:1] if quick else SIZES:
        alphas, means, icf, x, gamma, m = read_gmm(gmm_file(n_points, d, k))
        if quick:
            x = x[:100]
        args = (alphas, means, icf, x, gamma, m)
        wrt = (0, 1, 2)
        label = f"GMM {f'{len(x) // 1000}k' if len(x) >= 1000 else len(x)} D={d} K={k}"
        vectorized = args + (placement(d),)
        found.append(Case(label, lambda args=args: tools.torch_gradient(gmm_objective_torch, args, wrt),
                          "PyTorch autograd",
                          tools.vectorized_peers(gmm_vectorized, gmm_objective_torch_placed, vectorized, wrt)
                          + [tools.s2sgrad_numba(gmm_objective, args, wrt, note="loop-style"),
                             tools.s2sgrad_numba(gmm_objective_hoisted, args, wrt, name="s2sgrad numba, exps hoisted",
                                                 note="loop-style, exp(icf) before the point loop"),
                             manual(args)]))
    return found


def gmm_objective_torch_placed(alphas, means, icf, x, wishart_gamma, wishart_m, place):
    """gmm_objective_torch with the vectorized lines' argument list."""
    return gmm_objective_torch(alphas, means, icf, x, wishart_gamma, wishart_m)
