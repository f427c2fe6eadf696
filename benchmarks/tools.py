"""The lines every problem shares, built the same way for each: a tool is measured on its
own objective (NumPy for s2sgrad python and autograd, numba.njit for s2sgrad numba, jax.jit
for JAX, torch without a graph for PyTorch), so that gradient / objective is the ratio each
tool's user sees.  `args` is the objective's argument tuple, `wrt` the positions the
gradient is taken with respect to (a tuple)."""
import types

import numpy as np

from benchmarks import peers
from benchmarks.harness import Tool


def s2sgrad_python(fn, args, wrt, note=""):
    def build():
        import s2sgrad
        gradient = s2sgrad.grad(fn, wrt=wrt)
        return (lambda: fn(*args)), (lambda: gradient(*args))
    return Tool("s2sgrad python", build, note)


def s2sgrad_numba(fn, args, wrt, note="", name="s2sgrad numba"):
    def build():
        import numba

        import s2sgrad
        compiled = njit_calls(numba, fn)
        gradient = s2sgrad.grad(fn, wrt=wrt, backend="numba")
        return (lambda: compiled(*args)), (lambda: gradient(*args))
    return Tool(name, build, note)


def njit_calls(numba, fn):
    """numba.njit(fn), with the plain functions of fn's module that it calls compiled too
    (a numba user decorates them all; s2sgrad's numba backend compiles them itself)."""
    env = dict(fn.__globals__)
    for name in fn.__code__.co_names:
        helper = env.get(name)
        if isinstance(helper, types.FunctionType) and helper.__module__ == fn.__module__:
            env[name] = njit_calls(numba, helper)
    return numba.njit(types.FunctionType(fn.__code__, env, fn.__name__, fn.__defaults__, fn.__closure__))


def jax_jit(fn, args, wrt, note=""):
    """jax.jit of jax.grad against jax.jit of the objective; numbers that are not
    differentiated are static (the objectives use them in Python arithmetic)."""
    def build():
        jax = peers.load("jax")
        jfn = peers.with_numpy(fn, jax.numpy)
        static = tuple(i for i, a in enumerate(args) if i not in wrt and not isinstance(a, np.ndarray))
        objective = jax.jit(jfn, static_argnums=static)
        gradient = jax.jit(jax.grad(jfn, argnums=wrt), static_argnums=static)
        jargs = tuple(jax.numpy.asarray(a) if isinstance(a, np.ndarray) else a for a in args)
        return (lambda: jax.block_until_ready(objective(*jargs))), (lambda: jax.block_until_ready(gradient(*jargs)))
    return Tool("JAX jit", build, note)


def hips_autograd(fn, args, wrt, note=""):
    def build():
        autograd = peers.load("autograd")
        afn = peers.with_numpy(fn, peers.load("autograd.numpy"))
        gradient = autograd.grad(afn, argnum=wrt)
        return (lambda: afn(*args)), (lambda: gradient(*args))
    return Tool("HIPS autograd", build, note)


def torch_arguments(torch, args, wrt):
    def tensor(i, a):
        if isinstance(a, np.ndarray):
            return torch.tensor(a, requires_grad=i in wrt)
        return torch.tensor(a, dtype=torch.float64, requires_grad=True) if i in wrt else a
    return tuple(tensor(i, a) for i, a in enumerate(args))


def torch_gradient(torch_fn, args, wrt):
    """PyTorch autograd's gradient of torch_fn at args: the reference of most problems."""
    torch = peers.load("torch")
    targs = torch_arguments(torch, args, wrt)
    return torch.autograd.grad(torch_fn(*targs), [targs[i] for i in wrt])


def torch_eager(torch_fn, args, wrt, note=""):
    """Eager PyTorch: the objective without a graph; the gradient is the forward pass with
    one, then backward (torch.autograd.grad, so nothing accumulates between calls)."""
    def build():
        torch = peers.load("torch")
        targs = torch_arguments(torch, args, wrt)
        inputs = [targs[i] for i in wrt]

        def objective():
            with torch.no_grad():
                return torch_fn(*targs)
        return objective, (lambda: torch.autograd.grad(torch_fn(*targs), inputs))
    return Tool("PyTorch eager", build, note)


def vectorized_peers(fn, torch_fn, args, wrt, note=""):
    """The four lines of a problem written once in vectorized NumPy (and once in torch)."""
    return [s2sgrad_python(fn, args, wrt, note), jax_jit(fn, args, wrt, note),
            torch_eager(torch_fn, args, wrt, note), hips_autograd(fn, args, wrt, note)]
