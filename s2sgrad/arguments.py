"""How a derivative's arguments are named and passed: `wrt=` as parameter names, and
integers promoted to floats so a derivative is never truncated or typed as int."""
from __future__ import annotations

import inspect

import numpy as np

from .errors import WrtError


def normalize_wrt(f, wrt, params: list[str] | None = None) -> tuple[list[str], bool]:
    """(the parameter names wrt designates, whether wrt was a tuple); `params`: f's
    parameters where they are not its signature's (a derivative's generated code)."""
    params = list(inspect.signature(f, follow_wrapped=False).parameters) if params is None else params
    items = list(wrt) if isinstance(wrt, (tuple, list)) else [wrt]
    names = []
    for w in items:
        if isinstance(w, bool) or not isinstance(w, (int, str)):
            raise WrtError(f"wrt={w!r}: expected a parameter name or position")
        if isinstance(w, int):
            if not -len(params) <= w < len(params):
                raise WrtError(f"wrt={w}: {f.__name__} has {len(params)} parameter(s) {params}")
            w = params[w]
        elif w not in params:
            raise WrtError(f"wrt={w!r}: {f.__name__} has no parameter named {w!r}; "
                           f"its parameters are {params}")
        if w in names:
            raise WrtError(f"wrt names the parameter {w!r} twice")
        names.append(w)
    if not names:
        raise WrtError("wrt is empty: name at least one parameter")
    return names, isinstance(wrt, (tuple, list))


def promote(v):
    """Integers become floats so a derivative is never truncated or typed as int."""
    if isinstance(v, (bool, np.bool_)):
        return v
    if isinstance(v, (int, np.integer)):
        return float(v)
    if isinstance(v, np.ndarray) and v.dtype.kind in "iub":
        return v.astype(float)
    if isinstance(v, list):
        return [promote(x) for x in v]
    if isinstance(v, tuple):
        return tuple(promote(x) for x in v)
    return v


class LiveSignature:
    """f's own signature (not a functools.wraps target's), read again whenever f's
    defaults change, so a call binds with the defaults f would use now."""

    def __init__(self, f):
        self.f = f
        self._defaults = self._signature = None

    def get(self) -> inspect.Signature:
        defaults = (getattr(self.f, "__defaults__", None), getattr(self.f, "__kwdefaults__", None))
        if self._signature is None or defaults[0] is not self._defaults[0] \
                or defaults[1] is not self._defaults[1]:
            self._signature, self._defaults = inspect.signature(self.f, follow_wrapped=False), defaults
        return self._signature

    @property
    def parameters(self):
        return self.get().parameters

    def bind(self, *args, **kwargs) -> inspect.BoundArguments:
        return self.get().bind(*args, **kwargs)
