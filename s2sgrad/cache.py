"""The cache of generated derivatives: an entry stays valid while everything its code was
built from is unchanged (each function's code object, and the values of the globals and
closure cells it read: a number by value, anything else by identity)."""
from __future__ import annotations

from .custom import CustomDerivative
from .frontend import nonlocal_names, resolve_nonlocal


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


def fingerprint(deps) -> list:
    out = []
    for f, name in deps:
        if name is None:
            out.append(f.__code__)
        else:
            found, value = resolve_nonlocal(f, name)
            if isinstance(value, CustomDerivative):  # a rule registered since counts
                out.append((id(value), value.version))
            else:
                out.append(value if isinstance(value, (int, float, str, bool, tuple, type(None))) else id(value))
    return out
