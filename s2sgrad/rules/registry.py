"""The one place passes ask for a rule: given the Python object a name resolves to, its
scalar rule (sympy row, scalar.py), its array primitive (arrays.py) or its runtime
helper's rule (runtime_helpers.py).  Importing it registers nothing anywhere."""
from __future__ import annotations

from . import arrays, runtime_helpers, scalar


def scalar_rule(obj) -> scalar.Rule | None:
    """The sympy-backed rule of a scalar or element-wise function (math.sin, np.exp)."""
    return scalar.lookup(obj)


def array_rule(obj) -> arrays.ArrayRule | None:
    """The rule of a NumPy array primitive (np.sum, np.linalg.solve)."""
    return arrays.lookup(obj)


def runtime_rule(obj) -> arrays.ArrayRule | None:
    """The rule of a runtime helper of generated code (unbroadcast, add_at)."""
    return runtime_helpers.lookup(obj)


def primitive_rule(obj) -> arrays.ArrayRule | None:
    """An array primitive's or a runtime helper's rule: what a call is reversed with."""
    return array_rule(obj) or runtime_rule(obj)
