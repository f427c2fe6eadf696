"""How a derivative's arguments are named and passed: `wrt=` as parameter names,
integers promoted to floats so a derivative is never truncated or typed as int, and
dicts of parameters spread over one argument per key (frontend/dicts.py), their
gradients gathered back into dicts with the same keys.  A dataclass taken as wrt is
spread the same way, one argument per field, and its gradient is a dict keyed by field
name (API.md's contract; `dataclasses.replace(p, **g)` makes it a dataclass again)."""
from __future__ import annotations

import dataclasses
import inspect

import numpy as np

from .errors import ArgumentError, WrtError


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
    if isinstance(v, dict):
        return {k: promote(x) for k, x in v.items()}
    return v


class FieldValues(dict):
    """A dataclass taken as wrt, as the dict of its fields' values (in field order); `cls`
    its class, what a tangent given as a dataclass must be."""

    def __init__(self, entries, cls):
        super().__init__(entries)
        self.cls = cls


def is_record(v) -> bool:
    """A dataclass instance (not the class itself)."""
    return dataclasses.is_dataclass(v) and not isinstance(v, type)


def as_fields(name: str, obj) -> FieldValues:
    """A dataclass taken as wrt as its fields' values, integers promoted; fields are numbers
    and arrays only (a list of layers, a nested dataclass: not yet)."""
    fields = FieldValues({f.name: promote(getattr(obj, f.name)) for f in dataclasses.fields(obj)}, type(obj))
    if not fields:
        raise ArgumentError(f"the dataclass `{name}` ({type(obj).__name__}) is taken as wrt, and it has no fields")
    for k, v in fields.items():
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, (float, np.floating, np.ndarray)):
            raise ArgumentError(
                f"the dataclass `{name}` ({type(obj).__name__}) is taken as wrt, and its field {k!r} is a "
                f"{type(v).__name__}: the fields of a dataclass taken as wrt are numbers and arrays",
                hint="pass that value as an argument of its own, or keep it in a dataclass not taken as "
                     "wrt (whose attributes are read as constants).")
    return fields


def check_dict(name: str, d: dict) -> None:
    """A dict argument holds numbers, arrays or lists under string keys, one level deep."""
    for k, v in d.items():
        if not isinstance(k, str):
            raise ArgumentError(f"the dict `{name}` has the key {k!r}, which is not a string",
                                hint="use string keys (the generated code names a variable after each).")
        if isinstance(v, dict):
            raise ArgumentError(f"the dict `{name}` holds a dict under {k!r}: nested dicts are not supported",
                                hint="flatten it to one level: {'layer1_W': ..., 'layer1_b': ...}.")


def flatten(values) -> list:
    """The arguments of generated code: each dict's values in its key order, in its place."""
    out = []
    for v in values:
        out += list(v.values()) if isinstance(v, dict) else [v]
    return out


def flatten_tangents(tangents, wrt_values, wrt: list[str]) -> list:
    """jvp's tangents: a dict argument's tangent is a dict with the same keys."""
    out = []
    for t, x, name in zip(tangents, wrt_values, wrt):
        if isinstance(x, FieldValues):
            out += record_tangent(t, x, name)
        elif isinstance(x, dict):
            if not isinstance(t, dict) or set(t) != set(x):
                raise ArgumentError(f"the tangent of the dict `{name}` must be a dict with its keys "
                                    f"{list(x)}, not {t!r}"[:300])
            out += [t[k] for k in x]
        elif isinstance(t, dict) or is_record(t):
            raise ArgumentError(f"the tangent of `{name}` is a {type(t).__name__}, and `{name}` is not")
        else:
            out.append(t)
    return out


def record_tangent(t, x: FieldValues, name: str) -> list:
    """A dataclass's tangent, one value per field: a dict keyed by field name (what its
    gradient is) or a dataclass of the same class, as JAX and torch.func take a tangent of
    the primal's structure."""
    if type(t) is x.cls:
        t = {f.name: getattr(t, f.name) for f in dataclasses.fields(t)}
    if not isinstance(t, dict) or set(t) != set(x):
        raise ArgumentError(f"the tangent of the dataclass `{name}` must be a {x.cls.__name__} or a dict "
                            f"with its fields {list(x)} as keys, not {t!r}"[:300])
    return [promote(t[k]) for k in x]


def leaves(value) -> list:
    """A wrt argument's numbers and arrays: a dict's values (a dataclass's fields') in key
    order, or the argument itself."""
    return list(value.values()) if isinstance(value, dict) else [value]


def regroup(items, taken) -> list:
    """One item per wrt argument from one per leaf (`leaves`): for a dict (a dataclass's
    fields) a dict with its keys, for anything else the item itself."""
    items, out = list(items), []
    for x in taken:
        out.append({k: items.pop(0) for k in x} if isinstance(x, dict) else items.pop(0))
    return out


def as_taken(name: str, value):
    """A wrt argument as a derivative takes it: a dataclass as its fields, integers promoted."""
    return as_fields(name, value) if is_record(value) else promote(value)


def gather(grads, wrt_values, fit) -> tuple | object:
    """The generated code's gradients (one per key of each dict wrt, a bare value for a
    single one) as one per wrt argument, a dict's as a dict with the same keys."""
    n = sum(len(x) if isinstance(x, dict) else 1 for x in wrt_values)
    items = list(grads) if n > 1 else [grads]
    out = []
    for x in wrt_values:
        if isinstance(x, dict):
            out.append({k: fit(items.pop(0), v) for k, v in x.items()})
        else:
            out.append(fit(items.pop(0), x))
    return tuple(out) if len(wrt_values) > 1 else out[0]


class LiveSignature:
    """f's own signature (not a functools.wraps target's), read again whenever f's
    defaults change, so a call binds with the defaults f would use now."""

    def __init__(self, f):
        self.f = f
        self._defaults = self._signature = None
        self._kw_values: dict = {}  # the keyword defaults' objects, as the signature took them

    def get(self) -> inspect.Signature:
        defaults = (getattr(self.f, "__defaults__", None), getattr(self.f, "__kwdefaults__", None))
        if self._signature is None or defaults[0] is not self._defaults[0] \
                or defaults[1] is not self._defaults[1] or self._kw_changed(defaults[1]):
            self._signature, self._defaults = inspect.signature(self.f, follow_wrapped=False), defaults
            self._kw_values = dict(defaults[1] or {})
        return self._signature

    def _kw_changed(self, kw) -> bool:
        """Whether the keyword defaults' dict was changed in place (`f.__kwdefaults__["c"] = 5.0`)."""
        kw = kw or {}
        return kw.keys() != self._kw_values.keys() or any(kw[k] is not v for k, v in self._kw_values.items())

    @property
    def parameters(self):
        return self.get().parameters

    def bind(self, *args, **kwargs) -> inspect.BoundArguments:
        return self.get().bind(*args, **kwargs)
