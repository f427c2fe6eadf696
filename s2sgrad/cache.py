"""Staleness of generated code: it stays valid while everything it was built from is
unchanged (each function's code object and defaults, and the values of the globals and
closure cells it read: a number by value, anything else by identity; for compiled code,
arrays by content, since numba freezes a global array's values when it compiles).

Derivatives check this on every call, so a derivative sees what the function would see
if called now: a global rebound, a helper redefined, a closure cell or default changed.
"""
from __future__ import annotations

import builtins
import functools
import hashlib
import types

import numpy as np

from .custom import CustomDerivative
from .frontend import nonlocal_names, reach


class DerivativeCache:
    """Generated derivatives by key, each with the dependencies it was built from."""

    def __init__(self):
        self._entries: dict = {}

    def get(self, key):
        """The cached value for key, or None when there is none or it is stale."""
        hit = self._entries.get(key)
        if hit is not None and not hit[0].changed():
            return hit[1]
        return None

    def put(self, key, deps: list, value) -> None:
        self._entries[key] = (Fingerprint(deps), value)


def dependencies(builder) -> list:
    """What the generated code was built from: each function's code and the values it read."""
    deps = []
    for fn in builder.functions.values():
        f = fn.pyfunc
        deps.append((f, None))
        for name in nonlocal_names(fn):
            deps.append((f, name))
    return deps


class Fingerprint:
    """What the code was built from, as comparable values taken once: each function's
    code and defaults, each non-local value it read (numbers by value, other objects by
    identity; `contents`: arrays by their contents too, for compiled code, which numba
    built with the arrays' values frozen in).  `changed()` runs on every call of a
    derivative: each dependency read the shortest way (a global by one lookup), the
    first change ending the check, and a value that is still the same object as before
    taken as unchanged where its identity decides (a module, a function, a number).  A
    call of a small compiled derivative costs microseconds, and the check was a third of
    the dispatch."""

    def __init__(self, deps, contents: bool = False):
        self._contents = contents
        self._checks = []
        for f, name in dict.fromkeys(deps):  # each dependency once
            raw = _code_of(f) if name is None else _name_reader(f, name)
            value = raw()
            self._checks.append((raw, value, _key_of(value, contents)))

    def changed(self) -> bool:
        for raw, before, key in self._checks:
            now = raw()
            if now is before and type(now) in _SAME_OBJECT_SAME_KEY:
                continue
            if type(now) is _Code and now[0] is before[0] and now[1] is before[1] is None \
                    and now[2] is before[2] is None:
                continue  # the same code, no defaults
            if _key_of(now, self._contents) != key:
                return True
        return False


class _Code(tuple):
    """A function's (code, defaults, kwdefaults) as read now."""


def _code_of(f):
    f = reach.origin(f)  # a stand-in's code is its function's (frontend/reach.py)
    return lambda: _Code((f.__code__, f.__defaults__, f.__kwdefaults__))


def _key_of(value, contents: bool):
    if isinstance(value, _Code):
        return (value[0], _value_key(value[1], contents), _value_key(value[2], contents))
    return _value_key(value, contents)


# values whose key the same object always gives again: identities, immutable numbers
_SAME_OBJECT_SAME_KEY = {types.ModuleType, types.FunctionType, types.BuiltinFunctionType, type,
                         int, float, bool, str, type(None)}


def _name_reader(f, name):
    """The value of a name, or of an attribute path of an object the code reads (`self.N`)."""
    if "." in name or name in reach.bindings(f) or name in f.__code__.co_freevars:
        return lambda: reach.resolve_read(f, name)[1]
    scope = f.__globals__  # a global, else a builtin, else nothing (resolve_nonlocal's order)
    return lambda: scope[name] if name in scope else getattr(builtins, name, None)


def _value_key(value, contents: bool):
    if isinstance(value, CustomDerivative):  # a rule registered since counts
        return (id(value), value.version)
    if isinstance(value, (int, float, complex, str, bool, type(None), np.number, np.bool_)):
        return (type(value), value)
    if isinstance(value, tuple):
        return tuple(_value_key(v, contents) for v in value)
    if isinstance(value, types.MethodType):  # a new bound method object at every read
        return (id(value.__func__), id(value.__self__))
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        # a function's __kwdefaults__, which `f.__kwdefaults__["c"] = 5.0` changes in place
        return ("dict", id(value), tuple((k, _value_key(v, contents)) for k, v in sorted(value.items())))
    if isinstance(value, functools.partial):  # what it binds, for the compiled code's arrays
        return (id(value), _value_key(value.args, contents),
                _value_key(tuple(sorted(value.keywords.items())), contents))
    if contents and isinstance(value, np.ndarray):
        return (id(value), value.shape, value.dtype.str,
                hashlib.blake2b(value.tobytes(), digest_size=16).digest())
    return id(value)
