"""Staleness of generated code: it stays valid while everything it was built from is
unchanged (each function's code object and defaults, and the values of the globals and
closure cells it read: a number by value, anything else by identity; for compiled code,
arrays by content, since numba freezes a global array's values when it compiles).

Derivatives check this on every call, so a derivative sees what the function would see
if called now: a global rebound, a helper redefined, a closure cell or default changed.
"""
from __future__ import annotations

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
    out = []
    for f, name in deps:
        if name is None:
            f = reach.origin(f)  # a stand-in's code is its function's (frontend/reach.py)
            out.append((f.__code__, _value_key(f.__defaults__, contents),
                        _value_key(f.__kwdefaults__, contents)))
        else:  # a name, or an attribute path of an object the code reads (`self.N`)
            found, value = reach.resolve_read(f, name)
            out.append(_value_key(value, contents))
    return out


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
