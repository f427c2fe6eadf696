"""The one place passes ask for a rule.

Given the Python object a name resolves to: its scalar rule (a sympy row, scalar.py),
its array primitive (a row of a family in array/) or its runtime helper's rule
(runtime_helpers.py); given a call in the IR, the row it is reversed with.

The tables here are built from each family's ROWS and METHODS.  Importing this module
changes no other module's tables.
"""
from __future__ import annotations

import importlib
from typing import Any

from .. import ir
from . import runtime_helpers, scalar
from .array import construct, linalg, products, reductions, shape
from .array.core import ArrayRule

ARRAY_FAMILIES = (reductions, products, linalg, shape, construct)


def _resolve(rule: ArrayRule) -> Any:
    """The NumPy (or scipy) object a row is for; None where its module is absent."""
    try:
        obj = importlib.import_module(rule.module)
        for part in rule.attr.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError):  # pragma: no cover - scipy absent
        return None
    return obj


def _array_rules() -> dict[Any, ArrayRule]:
    out: dict[Any, ArrayRule] = {}
    for family in ARRAY_FAMILIES:
        for rule in family.ROWS:
            obj = _resolve(rule)
            if obj is not None:
                assert obj not in out, f"two rows for {rule.module}.{rule.attr}"
                out[obj] = rule
    return out


# NumPy object -> its row
ARRAY_RULES: dict[Any, ArrayRule] = _array_rules()
# (module, attr) of a Lib in the IR -> its row: array primitives and runtime helpers
RULES_BY_NAME: dict[tuple[str, str], ArrayRule] = {
    **{(r.module, r.attr): r for r in ARRAY_RULES.values()},
    **{(r.module, r.attr): r for r in runtime_helpers.ROWS},
}
# ndarray method -> its row; None: an element-wise method (x.clip(lo, hi) is np.clip, scalar.py)
METHOD_RULES: dict[str, ArrayRule | None] = {
    **{name: rule for family in ARRAY_FAMILIES for name, rule in family.METHODS.items()},
    "clip": None,
}


def scalar_rule(obj) -> scalar.Rule | None:
    """The sympy-backed rule of a scalar or element-wise function (math.sin, np.exp)."""
    return scalar.lookup(obj)


def scalar_rule_of(func: ir.Expr) -> scalar.Rule | None:
    """The scalar rule of a Lib reference in the IR (np.sin, math.exp), or None."""
    return scalar.RULES_BY_NAME.get((func.module, func.attr)) if isinstance(func, ir.Lib) else None


def array_rule(obj) -> ArrayRule | None:
    """The rule of a NumPy array primitive (np.sum, np.linalg.solve)."""
    try:
        return ARRAY_RULES.get(obj)
    except TypeError:  # unhashable objects have no rule
        return None


def runtime_rule(obj) -> ArrayRule | None:
    """The rule of a runtime helper of generated code (unbroadcast, add_at)."""
    return runtime_helpers.lookup(obj)


def primitive_rule(obj) -> ArrayRule | None:
    """An array primitive's or a runtime helper's rule: what a call is reversed with."""
    return array_rule(obj) or runtime_rule(obj)


def rule_of_call(call: ir.Expr) -> ArrayRule | None:
    """The array rule of a call in the IR, or None (element-wise, user or foreign calls)."""
    if not isinstance(call, ir.Call) or not isinstance(call.func, ir.Lib):
        return None
    if call.method is not None and call.method != "@":
        return METHOD_RULES.get(call.method)
    return RULES_BY_NAME.get((call.func.module, call.func.attr))
