"""Functions and objects as values: what a derivative is specialised on, not differentiated.

A function passed as an argument (`rk4(dynamics, y, t, h)`), the `self` of a method, an
object whose attributes the code reads (`p.W @ x + p.b`), and the arguments a
functools.partial binds are values of the call, known when the code is generated.  The
function is lowered as a stand-in, a copy of it whose parameters bound to such values
are resolved like globals (`f(y, t)` calls `dynamics`, `self.N` reads the number now in
the object) and dropped from its parameters:

    def rk4(f, y, t, h):              grad(rk4, wrt=1)(dynamics, y0, 0.0, 0.1)
        k1 = f(y, t)          ->      lowers rk4 with f bound to dynamics; the generated
        ...                           code calls a copy of dynamics and takes (y, t, h)

The values bound are part of the derivative's cache key (by identity), and what is read
from them is part of what the generated code was built from (cache.py), so another
function, or a changed attribute, gives a new derivative.
"""
from __future__ import annotations

import dataclasses
import functools
import inspect
import types

import numpy as np

from .source import resolve_nonlocal

_STAND_INS: dict = {}  # (function, bindings by identity) -> (stand-in, the values it holds)


def is_static(v) -> bool:
    """A value the code is specialised on rather than differentiated: a function (a def,
    lambda, partial, method, numba function, derivative) or an object read by attribute."""
    if isinstance(v, (bool, int, float, complex, str, bytes, type(None), np.ndarray, np.generic,
                      list, tuple, dict, set, types.ModuleType)):
        return False
    return callable(v) or dataclasses.is_dataclass(v) or hasattr(v, "__dict__")


def is_plain_value(v) -> bool:
    """An attribute (or bound argument) read as a constant: a number, an array, a string."""
    if isinstance(v, tuple):
        return all(is_plain_value(x) for x in v)
    return isinstance(v, (bool, int, float, str, type(None), np.ndarray, np.number, np.bool_))


def bindings(pyfunc) -> dict:
    """The parameters (and, for a nested function, free variables) bound to values."""
    return getattr(pyfunc, "__s2sgrad_static__", {})


def origin(pyfunc):
    """The user's function a stand-in was made from (itself if it is one)."""
    return getattr(pyfunc, "__s2sgrad_origin__", pyfunc)


def specialise(pyfunc, values: dict):
    """A stand-in for pyfunc with the parameters in `values` bound to them: the same code,
    globals and closure cells, a signature without those parameters.  One stand-in per
    function and values (by identity), so the caches see the same key again."""
    base = origin(pyfunc)
    values = {**bindings(pyfunc), **values}
    key = (base, tuple(sorted((n, id(v)) for n, v in values.items())))
    if key not in _STAND_INS:
        stand_in = types.FunctionType(base.__code__, base.__globals__, base.__name__,
                                      base.__defaults__, base.__closure__)
        stand_in.__kwdefaults__ = base.__kwdefaults__
        stand_in.__qualname__, stand_in.__module__ = base.__qualname__, base.__module__
        stand_in.__dict__.update({k: v for k, v in base.__dict__.items() if k.startswith("__s2sgrad")})
        sig = inspect.signature(base, follow_wrapped=False)
        stand_in.__signature__ = sig.replace(
            parameters=[p for n, p in sig.parameters.items() if n not in values])
        stand_in.__s2sgrad_static__ = values
        stand_in.__s2sgrad_origin__ = base
        _STAND_INS[key] = (stand_in, list(values.values()))
    return _STAND_INS[key][0]


def numba_py_func(obj):
    """The Python function under a numba dispatcher (@njit), or None."""
    py = getattr(obj, "py_func", None)
    if isinstance(py, types.FunctionType) and type(obj).__module__.startswith("numba"):
        return py
    return None


def callable_target(obj):
    """(function, positional values, keyword values) a call of obj amounts to, for a
    functools.partial, a bound method or a numba function of a def; else None."""
    if isinstance(obj, functools.partial):
        inner = callable_target(obj.func)
        if inner is None:
            inner = (obj.func, [], {}) if isinstance(obj.func, types.FunctionType) else None
        if inner is None:
            return None
        fn, args, kwargs = inner
        return fn, args + list(obj.args), {**kwargs, **obj.keywords}
    if isinstance(obj, types.MethodType) and isinstance(obj.__func__, types.FunctionType):
        return obj.__func__, [obj.__self__], {}
    py = numba_py_func(obj)
    if py is not None:
        return py, [], {}
    return None


def as_function(f):
    """What grad differentiates for f: a bound method, a functools.partial or a numba
    function become a stand-in function of the remaining parameters; anything else is
    itself.  A partial's keyword values are bound too (not defaults one may override)."""
    target = callable_target(f)
    if target is None:
        return f
    fn, args, kwargs = target
    try:
        bound = inspect.signature(fn, follow_wrapped=False).bind_partial(*args, **kwargs)
    except TypeError:
        return f  # the partial does not fit its function: calling it fails as it would
    return specialise(fn, dict(bound.arguments)) if bound.arguments else fn


def resolve_read(pyfunc, path: str):
    """(found, value) of what a function reads from outside: a name (a bound value, a
    closure cell, a global, a builtin) or a dotted path through objects (`self.N`)."""
    head, *attrs = path.split(".")
    static = bindings(pyfunc)
    found, value = (True, static[head]) if head in static else resolve_nonlocal(pyfunc, head)
    for attr in attrs:
        if not found or not hasattr(value, attr):
            return False, None
        value = getattr(value, attr)
    return found, value


def nested_function(parent, code, name: str, defaults: tuple, lifted: tuple, siblings: dict,
                    imported: dict | None = None):
    """A function object for a def or lambda defined inside `parent`, from its code.

    Its free variables that are the parent's own closure cells stay those cells (read
    live); those naming the parent's local variables are `lifted`: passed as extra
    arguments at each call (the value they have then, as a closure would read it);
    those naming sibling local functions resolve to them (`siblings`); those naming a
    parameter of the parent bound to a value resolve to that value; those naming what
    the parent imports (`import numpy as np` in its body) are cells holding it."""
    outer = dict(zip(parent.__code__.co_freevars, parent.__closure__ or ()))
    outer.update({v: types.CellType(value) for v, value in (imported or {}).items()})
    cells = tuple(outer.get(v) or types.CellType() for v in code.co_freevars)
    fn = types.FunctionType(code, parent.__globals__, name, defaults or None, cells or None)
    fn.__qualname__ = f"{parent.__qualname__}.<locals>.{name}"
    fn.__module__ = parent.__module__
    fn.__s2sgrad_lifted__ = lifted
    fn.__s2sgrad_local_functions__ = siblings  # filled by the parent as it makes them
    fn.__s2sgrad_nested__ = True
    static = {v: bindings(parent)[v] for v in code.co_freevars if v in bindings(parent)}
    if static:
        fn.__s2sgrad_static__ = static
    return fn
