"""The backends on a scalar loop: gradient time against the function's own time, and
against PyTorch autograd on the same loop, measured side by side in one process.

Run: python benchmarks/backends.py   (writes benchmarks/results/backends.txt)

The loop is an explicit Euler ODE with two parameters (issue 5):
- numba:  s2sgrad.grad(euler, backend="numba") / numba.njit(euler), 200,000 steps; a
          hand-written numba adjoint (preallocated tapes) is the reference for what
          compiled reverse mode can cost;
- python: s2sgrad.grad(euler) / euler, 2,000 steps (Tangent measured 14x here);
- PyTorch autograd: the same loop on 0-d float64 tensors, forward + backward.
Every timing is the best of several repeats after a warm-up call (which also compiles).
"""
import os
import platform
import sys
import time

import numba
import numpy as np

import s2sgrad

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(1, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from derivatives import best, fmt  # noqa: E402  (the same timer as the other benchmark)

from benchmarks.problems.euler import C, K, euler, hand_written_adjoint  # noqa: E402  (also python -m benchmarks's)

HERE = os.path.dirname(os.path.abspath(__file__))


def torch_gradient(torch, n):
    def run():
        k = torch.tensor(K, dtype=torch.float64, requires_grad=True)
        c = torch.tensor(C, dtype=torch.float64, requires_grad=True)
        x = torch.tensor(1.0, dtype=torch.float64)
        v = torch.tensor(0.0, dtype=torch.float64)
        for _ in range(n):
            a = -k * x - c * v
            x = x + 1e-4 * v
            v = v + 1e-4 * a
        (x * x + v * v).backward()
        return k.grad.item(), c.grad.item()
    return run


def timed_once(fn):
    fn()
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main():
    try:
        import torch
        torch.set_num_threads(1)
    except ImportError:
        torch = None
    lines = [f"s2sgrad backends benchmark  ({platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
             f"no GPU used; python {sys.version.split()[0]}, numpy {np.__version__}, numba {numba.__version__}"
             + (f", torch {torch.__version__}" if torch else ", torch absent") + ")", ""]

    # numba: 200,000 steps
    n = 200_000
    forward = numba.njit(cache=True)(euler)
    g_numba = s2sgrad.grad(euler, wrt=(0, 1), backend="numba")
    vg_numba = s2sgrad.value_and_grad(euler, wrt=(0, 1), backend="numba")
    reference = s2sgrad.grad(euler, wrt=(0, 1))(K, C, n)
    assert np.allclose(g_numba(K, C, n), reference, rtol=1e-12), "numba gradient differs from python's"
    assert np.allclose(hand_written_adjoint(K, C, n), reference, rtol=1e-10), "hand-written adjoint is wrong"
    f_time = best(forward, K, C, n)
    g_time = best(g_numba, K, C, n)
    vg_time = best(vg_numba, K, C, n)
    hand = best(hand_written_adjoint, K, C, n)
    lines += [f"Euler ODE, {n:,} steps, 2 parameters (numba)",
              f"  numba.njit(euler)                          {fmt(f_time)}",
              f"  s2sgrad grad, backend='numba'              {fmt(g_time)}  {g_time / f_time:5.2f}x the function"
              f"   (issue 5 asks <= 3)",
              f"  s2sgrad value_and_grad, backend='numba'    {fmt(vg_time)}  {vg_time / f_time:5.2f}x the function",
              f"  hand-written numba adjoint                 {fmt(hand)}  {hand / f_time:5.2f}x the function"
              f"   (ours / hand-written {g_time / hand:4.2f})"]
    if torch is not None:
        t_time = timed_once(torch_gradient(torch, n))
        assert np.allclose(torch_gradient(torch, 1000)(), s2sgrad.grad(euler, wrt=(0, 1))(K, C, 1000), rtol=1e-10)
        lines.append(f"  PyTorch autograd (eager, 0-d tensors)      {fmt(t_time)}  {t_time / f_time:7.1f}x the "
                     f"numba function   (ours / torch {g_time / t_time:.5f}, torch / ours {t_time / g_time:,.0f}x)")
    lines.append("")

    # python: 2,000 steps
    n = 2_000
    g_python = s2sgrad.grad(euler, wrt=(0, 1))
    f_time = best(euler, K, C, n)
    g_time = best(g_python, K, C, n)
    lines += [f"Euler ODE, {n:,} steps, 2 parameters (python)",
              f"  euler (plain Python)                       {fmt(f_time)}",
              f"  s2sgrad grad, backend='python'             {fmt(g_time)}  {g_time / f_time:5.2f}x the function"
              f"   (issue 5 asks <= 6; Tangent measured 14x)"]
    if torch is not None:
        t_time = best(torch_gradient(torch, n), repeat=3)
        lines.append(f"  PyTorch autograd (eager, 0-d tensors)      {fmt(t_time)}  {t_time / f_time:5.2f}x the "
                     f"function   (ours / torch {g_time / t_time:.3f})")
    lines.append("")

    text = "\n".join(lines) + "\n"
    print(text)
    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    with open(os.path.join(HERE, "results", "backends.txt"), "w") as fh:
        fh.write(text)


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    main()
