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
        if hit is not None and hit[0] == fingerprint(hit[1]):
            return hit[2]
        return None

    def put(self, key, deps: list, value) -> None:
        self._entries[key] = (fingerprint(deps), deps, value)


def dependencies(builder) -> list:
    """What the generated code was built from: each function's code and the values it read."""
    deps = []
    for fn in builder.functions.values():
        f = fn.pyfunc
        deps.append((f, None))
        for name in nonlocal_names(fn):
            deps.append((f, name))
    return deps


def fingerprint(deps, contents: bool = False) -> list:
    """What the code was built from as comparable values: each function's code and
    defaults, each non-local value it read (numbers by value, other objects by identity).
    `contents`: arrays by their contents too, for compiled code, which numba built with
    the arrays' values frozen in."""
    return [read() for read in readers(deps, contents)]


class Fingerprint:
    """fingerprint(deps) taken once, and checked again on every call of a derivative:
    each dependency read the shortest way (a global by one lookup), the first change
    ending the check.  A call of a small compiled derivative costs microseconds, and
    the check was a third of the dispatch."""

    def __init__(self, deps, contents: bool = False):
        self._readers = readers(list(dict.fromkeys(deps)), contents)  # each dependency once
        self._values = [read() for read in self._readers]

    def changed(self) -> bool:
        for read, value in zip(self._readers, self._values):
            if read() != value:
                return True
        return False


def readers(deps, contents: bool = False) -> list:
    """One function a dependency giving its comparable value (fingerprint's)."""
    return [_code_reader(f, contents) if name is None else _name_reader(f, name, contents)
            for f, name in deps]


def _code_reader(f, contents):
    f = reach.origin(f)  # a stand-in's code is its function's (frontend/reach.py)
    return lambda: (f.__code__, _value_key(f.__defaults__, contents), _value_key(f.__kwdefaults__, contents))


def _name_reader(f, name, contents):
    """A name, or an attribute path of an object the code reads (`self.N`)."""
    if "." in name or name in reach.bindings(f) or name in f.__code__.co_freevars:
        return lambda: _value_key(reach.resolve_read(f, name)[1], contents)
    scope = f.__globals__  # a global, else a builtin, else nothing (resolve_nonlocal's order)
    return lambda: _value_key(scope[name] if name in scope else getattr(builtins, name, None), contents)


def _value_key(value, contents: bool):
    if isinstance(value, CustomDerivative):  # a rule registered since counts
        return (id(value), value.version)
    if isinstance(value, (int, float, complex, str, bool, type(None), np.number, np.bool_)):
        return (type(value), value)
    if isinstance(value, tuple):
        return tuple(_value_key(v, contents) for v in value)
    if isinstance(value, types.MethodType):  # a new bound method object at every read
        return (id(value.__func__), id(value.__self__))
    if isinstance(value, functools.partial):  # what it binds, for the compiled code's arrays
        return (id(value), _value_key(value.args, contents),
                _value_key(tuple(sorted(value.keywords.items())), contents))
    if contents and isinstance(value, np.ndarray):
        return (id(value), value.shape, value.dtype.str,
                hashlib.blake2b(value.tobytes(), digest_size=16).digest())
    return id(value)
