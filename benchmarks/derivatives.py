"""Forward mode, Jacobians and Hessians: time against the function itself and against
PyTorch's torch.func (when installed), measured side by side in one process.

Run: python benchmarks/derivatives.py   (writes benchmarks/results/derivatives.txt)

Ratios are what to read: derivative time / function time, and ours / PyTorch's.
Every timing is the best of several repeats of a loop, on one thread each (numpy and
torch), after a warm-up call that also generates the code.
"""
import os
import platform
import sys
import time

import numpy as np

import s2sgrad

HERE = os.path.dirname(os.path.abspath(__file__))


# ---------------------------------------------------------------------- functions
def euler(k, c, n):
    """An explicit Euler ODE: x'' = -k x - c x', n steps."""
    x, v, dt = 1.0, 0.0, 0.01
    for i in range(n):
        a = -k * x - c * v
        x = x + dt * v
        v = v + dt * a
    return x * x + v * v


def tall(x):
    """4 inputs, 200 outputs: forward mode's case."""
    t = np.linspace(0.0, 1.0, 200)
    return np.sin(x[0] * t) * x[1] + np.exp(-x[2] * t) * x[3]


def wide(x):
    """200 inputs, 4 outputs: reverse mode's case."""
    return np.array([np.sum(np.sin(x)), np.sum(x ** 2), np.sum(np.tanh(x) * x), np.prod(1.0 + 0.001 * x)])


def rosen_vectorized(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def rosen_loop(x):
    total = 0.0
    for i in range(len(x) - 1):
        total += 100.0 * (x[i + 1] - x[i] ** 2) ** 2 + (1.0 - x[i]) ** 2
    return total


# ---------------------------------------------------------------------- timing
def best(fn, *args, repeat=5, min_time=0.05):
    fn(*args)
    n = 1
    while True:
        start = time.perf_counter()
        for _ in range(n):
            fn(*args)
        if time.perf_counter() - start > min_time:
            break
        n *= 2
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(n):
            fn(*args)
        times.append((time.perf_counter() - start) / n)
    return min(times)


def fmt(seconds):
    return f"{seconds * 1e6:10.1f} us"


def torch_peer():
    try:
        import torch
        torch.set_num_threads(1)
        return torch
    except ImportError:
        return None


def main():
    torch = torch_peer()
    lines = [f"s2sgrad derivatives benchmark  ({platform.processor() or platform.machine()}, "
             f"python {sys.version.split()[0]}, numpy {np.__version__}"
             + (f", torch {torch.__version__}" if torch else ", torch absent") + ")", ""]

    def row(name, ours, base, peer=None):
        text = f"{name:52s} {fmt(ours)}  {ours / base:6.2f}x the function"
        if peer is not None:
            text += f"   torch {fmt(peer)}  ours/torch {ours / peer:5.2f}"
        lines.append(text)

    # 1. forward mode on a scalar loop
    n = 2000
    f_time = best(euler, 2.0, 0.3, n)
    lines.append(f"Euler ODE, {n} steps, 2 parameters: function {fmt(f_time)}")
    jvp = s2sgrad.jvp(euler, wrt=(0, 1))
    row("  jvp (one direction)", best(jvp, 2.0, 0.3, n, 1.0, 0.0), f_time)
    row("  grad (reverse, both parameters)", best(s2sgrad.grad(euler, wrt=(0, 1)), 2.0, 0.3, n), f_time)
    jac = s2sgrad.jacobian(euler, wrt=(0, 1), mode="forward")
    row("  jacobian mode=forward (2 directions, one pass)", best(jac, 2.0, 0.3, n), f_time)
    lines.append("")

    # 2. Jacobians: tall and wide
    for name, f, x in (("tall: 4 inputs -> 200 outputs", tall, np.array([1.5, 0.7, 2.0, 0.3])),
                       ("wide: 200 inputs -> 4 outputs", wide, np.linspace(-1.0, 1.0, 200))):
        base = best(f, x)
        lines.append(f"{name}: function {fmt(base)}")
        for mode in ("forward", "reverse", "auto"):
            peer = None
            if torch is not None and mode != "auto":
                tf = {"tall": torch_tall, "wide": torch_wide}[name.split(":")[0]]
                jf = torch.func.jacfwd(tf) if mode == "forward" else torch.func.jacrev(tf)
                xt = torch.tensor(x)
                peer = best(jf, xt)
            row(f"  jacobian mode={mode}", best(s2sgrad.jacobian(f, mode=mode), x), base, peer)
        lines.append("")

    # 3. Hessians (forward over reverse)
    for size in (10, 100):
        x = np.linspace(-1.2, 1.2, size)
        for f, tf in ((rosen_vectorized, torch_rosen), (rosen_loop, torch_rosen_loop)):
            base = best(f, x)
            lines.append(f"{f.__name__}, n={size}: function {fmt(base)}")
            peer = best(torch.func.hessian(tf), torch.tensor(x)) if torch is not None else None
            row("  hessian (forward over reverse)", best(s2sgrad.hessian(f), x), base, peer)
            v = np.ones(size)
            peer = best(torch_hvp(torch, tf), torch.tensor(x), torch.tensor(v)) if torch is not None else None
            row("  hvp (one tangent pass over the gradient)", best(s2sgrad.hvp(f), x, v), base, peer)
        lines.append("")

    text = "\n".join(lines) + "\n"
    print(text)
    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    with open(os.path.join(HERE, "results", "derivatives.txt"), "w") as fh:
        fh.write(text)


# ---------------------------------------------------------------------- the PyTorch peers
def torch_tall(x):
    import torch
    t = torch.linspace(0.0, 1.0, 200, dtype=x.dtype)
    return torch.sin(x[0] * t) * x[1] + torch.exp(-x[2] * t) * x[3]


def torch_wide(x):
    import torch
    return torch.stack([torch.sum(torch.sin(x)), torch.sum(x ** 2), torch.sum(torch.tanh(x) * x),
                        torch.prod(1.0 + 0.001 * x)])


def torch_rosen(x):
    import torch
    return torch.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def torch_rosen_loop(x):
    total = 0.0
    for i in range(len(x) - 1):
        total = total + 100.0 * (x[i + 1] - x[i] ** 2) ** 2 + (1.0 - x[i]) ** 2
    return total


def torch_hvp(torch, f):
    def hvp(x, v):
        return torch.func.jvp(torch.func.grad(f), (x,), (v,))[1]
    return hvp


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    main()
