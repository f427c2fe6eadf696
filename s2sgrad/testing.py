"""Check s2sgrad's gradients against finite differences of the plain Python function.

    from s2sgrad.testing import check_grads
    check_grads(f, 0.3, [1.0, 2.0], wrt=(0, 1))
"""
from __future__ import annotations

import copy
import dataclasses
import inspect
import numbers

import numpy as np

from . import api

__all__ = ["check_grads"]


def check_grads(f, *args, wrt=0, modes=("forward", "reverse"), order=1, eps=1e-6, rtol=1e-5,
                atol=1e-7, n_directions=3, seed=0, **kwargs):
    """Check s2sgrad's derivatives of ``f`` against finite differences of ``f`` itself.

    What is checked, for each entry of ``modes``:

    * ``"reverse"``: ``s2sgrad.grad(f, wrt=wrt)(*args, **kwargs)`` has the structure of
      the arguments it is taken with respect to (a float for a number, a list or tuple
      of the same length for a list or tuple, checked element by element, an array of
      the same shape for a numpy array, a dict with the same keys in the same order for
      a dict, a dict keyed by field name for a dataclass), and in ``n_directions`` random directions
      ``v`` over all the ``wrt`` arguments together, the directional derivative
      ``sum(grad * v)`` matches the central difference
      ``(f(x + eps*v) - f(x - eps*v)) / (2*eps)`` within
      ``atol + rtol * max(|grad . v|, |difference|)``;
    * ``"forward"``: ``s2sgrad.jvp(f, wrt=wrt)(*args, *v)`` returns f's value and a
      tangent that matches the same central difference.

    ``order=k`` also checks the derivatives of order 2..k: the derivative of order j is
    itself a generated function (``s2sgrad.grad(f)``, then ``s2sgrad.vjp`` of that with a
    random cotangent), and its forward and reverse derivatives are checked against its
    own finite differences, so a Hessian is checked column by column against
    differences of the gradient.

    ``wrt`` names the arguments as ``s2sgrad.grad`` does: a parameter position, a
    parameter name, or a tuple of them.  Directions are drawn from
    ``numpy.random.default_rng(seed)``, so a failure reproduces exactly.  The finite
    differences call the function under test, never its derivative.  Integer
    arguments are perturbed like floats (``3 + eps*v`` is a float).  Every call gets a
    deep copy of the arguments, so a function that writes into a list argument cannot
    change the point.  A mismatch raises AssertionError showing the function, the
    mode, the point, the direction, both directional derivatives and the gradient.
    """
    modes = (modes,) if isinstance(modes, str) else tuple(modes)
    for mode in modes:
        if mode not in ("forward", "reverse"):
            raise ValueError(f"check_grads: mode {mode!r} is not one of 'forward', 'reverse'")
    if isinstance(order, bool) or not isinstance(order, int) or order < 1:
        raise ValueError(f"check_grads: order={order!r}; expected an integer >= 1")
    rng = np.random.default_rng(seed)
    if "reverse" in modes:
        _check_reverse(f, args, kwargs, wrt, eps, rtol, atol, n_directions, seed, rng)
    if "forward" in modes:
        _check_forward(f, args, kwargs, wrt, eps, rtol, atol, n_directions, seed, rng)
    if order > 1:
        # the derivative of order j + 1 is the derivative of the (generated) one of order j
        derivative = api.grad(f, wrt=wrt)
        names = _wrt_names(inspect.signature(f), wrt)
        for _ in range(order - 1):
            _check_vector(derivative, args, kwargs, tuple(names), modes, eps, rtol, atol,
                          n_directions, seed, rng)
            sample = derivative(*copy.deepcopy(args), **copy.deepcopy(kwargs))
            cotangent = _random_like(sample, rng) if isinstance(wrt, tuple) else _random_like(sample, rng)
            derivative, args = api.vjp(derivative, wrt=tuple(names)), tuple(args) + (cotangent,)
            derivative = _WithCotangent(derivative, len(names) == 1)


class _WithCotangent:
    """vjp(g) as a function of g's arguments and a fixed cotangent, returning one value per wrt."""

    def __init__(self, vjp, single):
        self.vjp, self.single = vjp, single
        self.__wrapped__ = vjp.__wrapped__
        self.__qualname__ = repr(vjp)

    def __call__(self, *args, **kwargs):
        out = self.vjp(*args, **kwargs)
        return out[0] if self.single else out


def _check_reverse(f, args, kwargs, wrt, eps, rtol, atol, n_directions, seed, rng):
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

    for k in range(n_directions):
        v = [_random_like(x, rng) for x in xs]
        fd = _difference(f, bound, names, xs, v, eps)
        ad = sum(_dot(g, d) for g, d in zip(grads, v))
        if not abs(ad - fd) <= atol + rtol * max(abs(ad), abs(fd)):  # also fails on nan
            raise AssertionError(
                f"check_grads: gradient of {name} does not match finite differences\n"
                + _report(name, args, kwargs, wrt, v, k, n_directions, seed)
                + f"  s2sgrad:    grad . direction = {ad!r}\n"
                f"  finite differences (eps={eps!r}): {fd!r}\n"
                f"  gradient:   {_unwrap(list(grads), wrt)!r}")


def _check_forward(f, args, kwargs, wrt, eps, rtol, atol, n_directions, seed, rng):
    name = getattr(f, "__qualname__", repr(f))
    signature = inspect.signature(f)
    bound = signature.bind(*args, **kwargs)
    bound.apply_defaults()
    names = _wrt_names(signature, wrt)
    xs = [bound.arguments[n] for n in names]
    for k in range(n_directions):
        v = [_random_like(x, rng) for x in xs]
        value, tangent = _forward_derivative(f, wrt, copy.deepcopy(args), copy.deepcopy(kwargs), v)
        fd = _difference(f, bound, names, xs, v, eps)
        if not abs(tangent - fd) <= atol + rtol * max(abs(tangent), abs(fd)):
            raise AssertionError(
                f"check_grads: forward-mode derivative of {name} does not match finite differences\n"
                + _report(name, args, kwargs, wrt, v, k, n_directions, seed)
                + f"  s2sgrad:    jvp tangent = {tangent!r}\n"
                f"  finite differences (eps={eps!r}): {fd!r}")


def _check_vector(F, args, kwargs, names, modes, eps, rtol, atol, n_directions, seed, rng):
    """Check a derivative function F (a gradient: any output structure) in both modes."""

    name = getattr(F, "__qualname__", repr(F))
    signature = inspect.signature(F)
    bound = signature.bind(*args, **kwargs)
    bound.apply_defaults()
    xs = [bound.arguments[n] for n in names]
    out = F(*copy.deepcopy(args), **copy.deepcopy(kwargs))
    for k in range(n_directions):
        v = [_random_like(x, rng) for x in xs]
        plus = _call(F, bound, names, [_step(x, d, eps) for x, d in zip(xs, v)])
        minus = _call(F, bound, names, [_step(x, d, -eps) for x, d in zip(xs, v)])
        fd = _flat(plus) - _flat(minus)
        fd = fd / (2 * eps)
        checks = []
        if "forward" in modes:
            _, tangent = api.jvp(F, wrt=names)(*copy.deepcopy(args), *v, **copy.deepcopy(kwargs))
            checks.append(("forward", _flat(tangent), fd))
        if "reverse" in modes:
            w = _random_like(out, rng)
            pulled = api.vjp(F, wrt=names)(*copy.deepcopy(args), w, **copy.deepcopy(kwargs))
            ad = sum(_dot(g, d) for g, d in zip(pulled, v))
            checks.append(("reverse", np.array([ad]), np.array([float(np.sum(_flat(w) * fd))])))
        for mode, ad, expected in checks:
            if not np.all(np.abs(ad - expected) <= atol + rtol * np.maximum(np.abs(ad), np.abs(expected))):
                raise AssertionError(
                    f"check_grads: {mode}-mode derivative of {name} (a derivative of higher "
                    f"order) does not match finite differences\n"
                    + _report(name, args, kwargs, names, v, k, n_directions, seed)
                    + f"  s2sgrad:    {ad!r}\n  finite differences (eps={eps!r}): {expected!r}")


def _forward_derivative(f, wrt, args, kwargs, tangents):
    """(value, tangent) under test; a module-level function so that tests can replace it."""

    return api.jvp(f, wrt=wrt)(*args, *tangents, **kwargs)


def _difference(f, bound, names, xs, v, eps) -> float:
    plus = _call(f, bound, names, [_step(x, d, eps) for x, d in zip(xs, v)])
    minus = _call(f, bound, names, [_step(x, d, -eps) for x, d in zip(xs, v)])
    return (float(plus) - float(minus)) / (2 * eps)


def _report(name, args, kwargs, wrt, v, k, n_directions, seed) -> str:
    shown = [repr(a) for a in args] + [f"{key}={a!r}" for key, a in kwargs.items()]
    return (f"  point:      {name}({', '.join(shown)})\n"
            f"  wrt:        {wrt!r}\n"
            f"  direction:  {_unwrap(v, wrt)!r}  "
            f"(direction {k + 1} of {n_directions}, seed={seed})\n")


def _flat(value) -> np.ndarray:
    """Every number of a (nested) value, in order, as one flat float array."""
    if isinstance(value, (list, tuple)):
        return np.concatenate([_flat(x) for x in value]) if value else np.zeros(0)
    return np.ravel(np.asarray(value, dtype=float))


def _reverse_gradient(f, wrt, args, kwargs):
    """The gradient under test; a module-level function so that tests can replace it."""

    return api.grad(f, wrt=wrt)(*args, **kwargs)


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
    elif _is_record(x):
        _check_structure(_fields(x), g, what)
    elif isinstance(x, dict):
        if not (isinstance(g, dict) and list(g) == list(x)):
            raise AssertionError(f"{what}: expected a dict with the keys {list(x)}, got {g!r}")
        for key in x:
            _check_structure(x[key], g[key], f"{what}[{key!r}]")
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
    if isinstance(x, dict):
        return {k: _random_like(e, rng) for k, e in x.items()}
    if _is_record(x):  # a dataclass: a direction keyed by field name, as its gradient is
        return _random_like(_fields(x), rng)
    return float(rng.standard_normal())


def _is_record(x) -> bool:
    return dataclasses.is_dataclass(x) and not isinstance(x, type)


def _fields(x) -> dict:
    """A dataclass's fields' values, in field order."""
    return {f.name: getattr(x, f.name) for f in dataclasses.fields(x)}


def _step(x, v, h):
    """x + h*v, keeping lists as lists and tuples as tuples."""
    if isinstance(x, (list, tuple)):
        return type(x)(_step(e, d, h) for e, d in zip(x, v))
    if isinstance(x, dict):
        return {k: _step(e, v[k], h) for k, e in x.items()}
    if _is_record(x):  # a new instance (frozen ones too)
        return dataclasses.replace(x, **{k: _step(e, v[k], h) for k, e in _fields(x).items()})
    return x + h * v


def _dot(g, v):
    """sum(g * v) over a (nested) gradient and a direction of the same structure."""
    if isinstance(v, list):
        return sum(_dot(gi, vi) for gi, vi in zip(g, v))
    if isinstance(v, dict):
        return sum(_dot(g[k], vk) for k, vk in v.items())
    return float(np.sum(np.asarray(g, dtype=float) * v))


def _unwrap(values, wrt):
    """One value per wrt argument: a tuple for a tuple wrt, else the single value."""
    return tuple(values) if isinstance(wrt, tuple) else values[0]
