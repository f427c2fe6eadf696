"""PyTorch's "autograd explained on a sine curve", in NumPy with s2sgrad.

The PyTorch tutorial builds a = linspace(0, 2 pi, 25) with requires_grad=True, computes
b = sin(a), c = 2 b, d = c + 1, out = d.sum(), calls out.backward() and reads a.grad,
which is 2 cos(a).  Here the same function is plain NumPy, and s2sgrad writes its
gradient as Python source you can read.

Run:  python examples/sin_tutorial.py
"""
import os

import numpy as np

import s2sgrad


def f(a):
    b = np.sin(a)
    c = 2 * b
    d = c + 1
    return np.sum(d)


def make_input():
    """The tutorial's 25 points on one period."""
    return np.linspace(0, 2 * np.pi, 25)


def plot(a, da, path):
    """sin(a) and its gradient; saved to path if matplotlib is installed, else skipped."""
    try:
        import matplotlib
        matplotlib.use("Agg")  # write a file, never open a window
        import matplotlib.pyplot as plt
    except ImportError:
        print("(matplotlib is not installed: skipping the plot; pip install matplotlib to get it)")
        return
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(a, np.sin(a), "o-", label="sin(a)")
    ax.plot(a, da, "o-", label="d sum(2 sin(a) + 1) / da")
    ax.legend()
    ax.set_xlabel("a")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    print(f"plot saved to {path}")


def main():
    a = make_input()
    g = s2sgrad.grad(f)
    print(g.source)
    da = g(a)
    print("grad(f)(a)[:5] =", da[:5])
    print("2 cos(a)[:5]   =", 2 * np.cos(a)[:5])
    print(f"max |grad(f)(a) - 2 cos(a)| = {np.max(np.abs(da - 2 * np.cos(a))):.3e}")
    plot(a, da, os.path.join(os.path.dirname(os.path.abspath(__file__)), "sin_tutorial.png"))


if __name__ == "__main__":
    main()
