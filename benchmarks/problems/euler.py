"""The Euler ODE loop (issue 5): x'' = -k x - c x', n explicit steps of 1e-4, the
objective x^2 + v^2 at the end, its gradient with respect to k and c.  A scalar loop: the
case for compiled reverse mode, where the hand-written numba adjoint (two preallocated
tapes, the chain rule backwards) is the "manual" line.

JAX's line is the same loop as jax.lax.fori_loop (jit of a 20,000-step Python loop would
trace every step); PyTorch's and autograd's run the Python loop on 0-d tensors / boxes.
"""
import numba
import numpy as np

from benchmarks import peers, tools
from benchmarks.harness import Case, Tool

K, C = 2.0, 0.3


def euler(k, c, n):
    """An explicit Euler ODE: x'' = -k x - c x', n steps of 1e-4."""
    x = 1.0
    v = 0.0
    h = 1e-4
    for i in range(n):
        a = -k * x - c * v
        x = x + h * v
        v = v + h * a
    return x * x + v * v


@numba.njit(cache=True)
def hand_written_adjoint(k, c, n):
    """What a person writes in numba: two preallocated tapes, the chain rule backwards."""
    xs = np.empty(n)
    vs = np.empty(n)
    x, v, h = 1.0, 0.0, 1e-4
    for i in range(n):
        xs[i] = x
        vs[i] = v
        a = -k * x - c * v
        x = x + h * v
        v = v + h * a
    d_x, d_v, d_k, d_c = 2.0 * x, 2.0 * v, 0.0, 0.0
    for i in range(n - 1, -1, -1):
        d_a = d_v * h
        d_k -= d_a * xs[i]
        d_c -= d_a * vs[i]
        d_x, d_v = d_x - d_a * k, d_x * h + d_v - d_a * c
    return d_k, d_c


def euler_jax(jax, k, c, n):
    def step(i, state):
        x, v = state
        a = -k * x - c * v
        return x + 1e-4 * v, v + 1e-4 * a
    x, v = jax.lax.fori_loop(0, n, step, (1.0, 0.0))
    return x * x + v * v


def manual(args):
    def build():
        objective = numba.njit(euler)
        return (lambda: objective(*args)), (lambda: hand_written_adjoint(*args))
    return Tool("manual (numba)", build, "hand-written adjoint")


def jax_loop(args):
    def build():
        jax = peers.load("jax")
        objective = jax.jit(lambda k, c: euler_jax(jax, k, c, args[2]))
        gradient = jax.jit(jax.grad(lambda k, c: euler_jax(jax, k, c, args[2]), argnums=(0, 1)))
        return (lambda: jax.block_until_ready(objective(*args[:2]))), (lambda: jax.block_until_ready(gradient(*args[:2])))
    return Tool("JAX jit", build, "lax.fori_loop")


def hips_autograd(args):
    def build():
        autograd = peers.load("autograd")
        gradient = autograd.grad(euler, argnum=(0, 1))
        return (lambda: euler(*args)), (lambda: gradient(*args))
    return Tool("HIPS autograd", build)


def jax_or_torch_gradient(args):
    """JAX's gradient where JAX is installed (PyTorch's eager loop takes seconds at 200,000
    steps), else PyTorch's."""
    try:
        jax = peers.load("jax")
    except peers.Missing:
        return tools.torch_gradient(euler, args, (0, 1))
    return jax.grad(lambda k, c: euler_jax(jax, k, c, args[2]), argnums=(0, 1))(*args[:2])


def cases(quick):
    """The interpreted lines at 2,000 steps, the compiled ones at 200,000 (as in
    benchmarks/backends.py); quick: 500 steps for both."""
    interpreted = (K, C, 500 if quick else 2_000)
    compiled = (K, C, 500 if quick else 200_000)
    wrt = (0, 1)
    return [Case(f"Euler {interpreted[2]:,} steps", lambda: tools.torch_gradient(euler, interpreted, wrt),
                 "PyTorch autograd", [tools.s2sgrad_python(euler, interpreted, wrt),
                                      tools.torch_eager(euler, interpreted, wrt), hips_autograd(interpreted)]),
            Case(f"Euler {compiled[2]:,} steps", lambda: jax_or_torch_gradient(compiled), "JAX (PyTorch without it)",
                 [tools.s2sgrad_numba(euler, compiled, wrt), manual(compiled), jax_loop(compiled)])]
