"""Dicts of parameters, flattened: a dict becomes one variable per key.

A dataclass taken as wrt is flattened the same way, one variable per field, its fields
read as `p.W` (a `Fields` layout entry); one not taken as wrt is an object read live
(reach.py).

A dict argument `params = {"W": ..., "b": ...}` is lowered as the parameters `params_W,
params_b`, and `params["W"]` as the name `params_W`, so every later pass sees plain
numbers and arrays.  This module holds what the frontend and the API share about it:
the layout (which parameters are dicts, with which keys, in order), the flattened
names, and the key under which a helper called with dicts is lowered.

    def loss(params, x):                  def grad_loss(params_W, params_b, x):
        h = params["W"] @ x                   ...
        return np.sum(h + params["b"])        return (d_params_W, d_params_b)
"""
from __future__ import annotations

import inspect
import re

FUNCTION_ATTRIBUTES = ("__name__", "__qualname__", "__module__", "__code__", "__globals__", "__closure__",
                       "__defaults__", "__kwdefaults__", "__wrapped__", "__doc__")
Layout = tuple  # ((parameter name, (key, key, ...)), ...): the dict parameters, in order


class Fields(tuple):
    """A layout entry for a dataclass taken as wrt: its field names, flattened like a dict's
    keys, but read as `p.W`.  Unequal to the same names as dict keys, so a helper called
    with a dataclass is lowered apart from one called with a dict."""

    def __eq__(self, other):
        return type(other) is Fields and tuple.__eq__(self, other)

    def __ne__(self, other):
        return not self == other

    def __hash__(self):
        return hash(("fields", tuple(self)))


def flat_name(var: str, key: str) -> str:
    """The variable holding `var[key]`: `params_W`; a key that is no identifier is
    spelled with underscores (`layer.0.weight` -> `params_layer_0_weight`)."""
    spelled = re.sub(r"\W", "_", key)
    return f"{var}_{spelled}" if spelled else f"{var}_key"


class Specialized:
    """A user function called with dicts (or `**` keyword arguments gathered by its
    `**kw` parameter): lowered with those parameters flattened.  Stands for the
    function everywhere a function object is read (its code, globals, name)."""

    def __init__(self, fn, layout: Layout):
        self.fn, self.layout = fn, layout

    def __getattr__(self, name):
        if name in ("fn", "layout") or name.startswith("__") and name not in FUNCTION_ATTRIBUTES:
            raise AttributeError(name)
        return getattr(self.fn, name)

    def __deepcopy__(self, memo):  # a key, like the function object it stands for
        return self

    def __eq__(self, other):
        return isinstance(other, Specialized) and (self.fn, self.layout) == (other.fn, other.layout)

    def __hash__(self):
        return hash((self.fn, self.layout))

    def __call__(self, *args):  # a callable, so inspect reads __signature__
        raise TypeError("a specialized function is lowered, never called")

    @property
    def __signature__(self) -> inspect.Signature:
        """One positional parameter per flattened argument, in order."""
        params = dict(self.layout)
        names = []
        for p in inspect.signature(self.fn, follow_wrapped=False).parameters:
            names += [flat_name(p, k) for k in params[p]] if p in params else [p]
        return inspect.Signature([inspect.Parameter(f"arg{i}", inspect.Parameter.POSITIONAL_ONLY)
                                  for i in range(len(names))])

    def __repr__(self):
        return f"<{self.fn.__qualname__} with dicts {dict(self.layout)}>"
