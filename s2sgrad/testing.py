"""Check s2sgrad's gradients against finite differences of the plain Python function.

    from s2sgrad.testing import check_grads
    check_grads(f, 0.3, [1.0, 2.0], wrt=(0, 1))
"""
from __future__ import annotations

import copy
import inspect
import numbers

import numpy as np

__all__ = ["check_grads"]


def check_grads(f, *args, wrt=0, modes=("reverse",), order=1, eps=1e-6, rtol=1e-5,
                atol=1e-7, n_directions=3, seed=0, **kwargs):
    """Check ``s2sgrad.grad(f, wrt=wrt)(*args, **kwargs)`` against finite differences.

    What is checked:

    * the gradient has the structure of the arguments it is taken with respect to: a
      float for a number, a list or tuple of the same length for a list or tuple
      (checked element by element), an array of the same shape for a numpy array;
    * in ``n_directions`` random directions ``v`` over all the ``wrt`` arguments
      together, the directional derivative ``sum(grad * v)`` matches the central
      difference ``(f(x + eps*v) - f(x - eps*v)) / (2*eps)`` within
      ``atol + rtol * max(|grad . v|, |difference|)``.

    ``wrt`` names the arguments as ``s2sgrad.grad`` does: a parameter position, a
    parameter name, or a tuple of them.  Directions are drawn from
    ``numpy.random.default_rng(seed)``, so a failure reproduces exactly.  The finite
    differences call ``f`` itself, never s2sgrad.  Integer arguments are perturbed like
    floats (``3 + eps*v`` is a float).  Every call gets a deep copy of the arguments, so
    a function that writes into a list argument cannot change the point.

    Only first derivatives in reverse mode can be checked for now: any other ``modes``
    entry or ``order`` raises ValueError.  A mismatch raises AssertionError showing the
    function, the point, the direction, both directional derivatives and the gradient.
    """
    modes = (modes,) if isinstance(modes, str) else tuple(modes)
    for mode in modes:
        if mode != "reverse":
            raise ValueError(f"check_grads: mode {mode!r} is not available yet; "
                             f"only modes=('reverse',) can be checked for now")
    if order != 1:
        raise ValueError(f"check_grads: order={order!r} is not available yet; "
                         f"only first derivatives (order=1) can be checked for now")

    name = getattr(f, "__qualname__", repr(f))
    signature = inspect.signature(f)
    bound = signature.bind(*args, **kwargs)
    bound.apply_defaults()  # so that wrt may name a parameter left at its default
    names = _wrt_names(signature, wrt)
    xs = [bound.arguments[n] for n in names]

    grads = _reverse_gradient(f, wrt, copy.deepcopy(args), copy.deepcopy(kwargs))
    if isinstance(wrt, tuple):
        if not isinstance(grads, (tuple, list)) or len(grads) != len(names):
            raise AssertionError(f"check_grads: grad of {name} with wrt={wrt!r} should "
                                 f"return a tuple of {len(names)} gradients, got {grads!r}")
    else:
        grads = (grads,)
    for n, x, g in zip(names, xs, grads):
        _check_structure(x, g, f"check_grads: gradient of {name} for argument {n!r}")

    rng = np.random.default_rng(seed)
    for k in range(n_directions):
        v = [_random_like(x, rng) for x in xs]
        plus = _call(f, bound, names, [_step(x, d, eps) for x, d in zip(xs, v)])
        minus = _call(f, bound, names, [_step(x, d, -eps) for x, d in zip(xs, v)])
        fd = (float(plus) - float(minus)) / (2 * eps)
        ad = sum(_dot(g, d) for g, d in zip(grads, v))
        if not abs(ad - fd) <= atol + rtol * max(abs(ad), abs(fd)):  # also fails on nan
            shown = [repr(a) for a in args] + [f"{key}={a!r}" for key, a in kwargs.items()]
            raise AssertionError(
                f"check_grads: gradient of {name} does not match finite differences\n"
                f"  point:      {name}({', '.join(shown)})\n"
                f"  wrt:        {wrt!r}\n"
                f"  direction:  {_unwrap(v, wrt)!r}  "
                f"(direction {k + 1} of {n_directions}, seed={seed})\n"
                f"  s2sgrad:    grad . direction = {ad!r}\n"
                f"  finite differences (eps={eps!r}): {fd!r}\n"
                f"  gradient:   {_unwrap(list(grads), wrt)!r}")


def _reverse_gradient(f, wrt, args, kwargs):
    """The gradient under test; a module-level function so that tests can replace it."""
    import s2sgrad  # late: s2sgrad may import this module while it is being imported

    return s2sgrad.grad(f, wrt=wrt)(*args, **kwargs)


def _wrt_names(signature, wrt):
    """Parameter names for wrt (a position, a name, or a tuple of them)."""
    params = list(signature.parameters.values())
    names = []
    for w in wrt if isinstance(wrt, tuple) else (wrt,):
        if isinstance(w, int) and 0 <= w < len(params):
            p = params[w]
        elif isinstance(w, str) and w in signature.parameters:
            p = signature.parameters[w]
        else:
            raise ValueError(f"check_grads: wrt={w!r} names no parameter of {signature}")
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            raise ValueError(f"check_grads: wrt={w!r} names *{p.name}; name a single parameter")
        names.append(p.name)
    return names


def _call(f, bound, names, values):
    """f at the bound point with the wrt arguments replaced by values."""
    arguments = copy.deepcopy(bound.arguments)  # f may write into list arguments
    arguments.update(zip(names, values))
    call = inspect.BoundArguments(bound.signature, arguments)
    return f(*call.args, **call.kwargs)


def _check_structure(x, g, what):
    """The gradient g must have the structure of the argument x."""
    if isinstance(x, np.ndarray):
        if not (isinstance(g, np.ndarray) and g.shape == x.shape):
            raise AssertionError(f"{what}: expected an array of shape {x.shape}, got {g!r}")
    elif isinstance(x, (list, tuple)):
        if not (isinstance(g, (list, tuple)) and len(g) == len(x)):
            raise AssertionError(f"{what}: expected a list of length {len(x)}, got {g!r}")
        for i, (xi, gi) in enumerate(zip(x, g)):
            _check_structure(xi, gi, f"{what}[{i}]")
    elif isinstance(x, numbers.Real):
        # an int argument still has a float gradient: int 0 would hide a missing derivative
        if not isinstance(g, (float, np.floating)):
            raise AssertionError(f"{what}: expected a float, got {g!r} ({type(g).__name__})")
    else:
        raise TypeError(f"check_grads cannot perturb an argument of type {type(x).__name__}")


def _random_like(x, rng):
    """A random direction component with the structure of x."""
    if isinstance(x, np.ndarray):
        return rng.standard_normal(x.shape)
    if isinstance(x, (list, tuple)):
        return [_random_like(e, rng) for e in x]
    return float(rng.standard_normal())


def _step(x, v, h):
    """x + h*v, keeping lists as lists and tuples as tuples."""
    if isinstance(x, (list, tuple)):
        return type(x)(_step(e, d, h) for e, d in zip(x, v))
    return x + h * v


def _dot(g, v):
    """sum(g * v) over a (nested) gradient and a direction of the same structure."""
    if isinstance(v, list):
        return sum(_dot(gi, vi) for gi, vi in zip(g, v))
    return float(np.sum(np.asarray(g, dtype=float) * v))


def _unwrap(values, wrt):
    """One value per wrt argument: a tuple for a tuple wrt, else the single value."""
    return tuple(values) if isinstance(wrt, tuple) else values[0]
