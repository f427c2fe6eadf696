"""The rule registry (s2sgrad/rules/registry.py): every row is found by the object it is
for, importing the registry changes no other module's tables, and each array row binds
arguments by NumPy's own parameter names."""
import importlib
import inspect
import os
import subprocess
import sys

import pytest

import s2sgrad
from s2sgrad import ir
from s2sgrad.rules import registry, runtime_helpers, scalar
from s2sgrad.rules.array.core import ArrayRule
from s2sgrad.runtime import helpers

ARRAY_ROWS = [(family.__name__.rsplit(".", 1)[-1], rule)
              for family in registry.ARRAY_FAMILIES for rule in family.ROWS]


def _object(rule):
    obj = importlib.import_module(rule.module)
    for part in rule.attr.split("."):
        obj = getattr(obj, part)
    return obj


def _label(row):
    family, rule = row
    return f"{family}:{rule.attr}"


# --- every row is reachable --------------------------------------------------------------
@pytest.mark.parametrize("row", ARRAY_ROWS, ids=_label)
def test_array_row_found_by_its_object_and_its_name(row):
    _, rule = row
    obj = _object(rule)
    assert registry.array_rule(obj) is rule
    assert registry.primitive_rule(obj) is rule
    assert registry.rule_of_call(ir.Call(rule.lib, [ir.Name("x")])) is rule


@pytest.mark.parametrize("family", registry.ARRAY_FAMILIES, ids=lambda m: m.__name__)
def test_each_family_lists_every_row_it_defines(family):
    defined = [v for v in vars(family).values() if isinstance(v, ArrayRule)]
    assert all(any(v is r for r in family.ROWS) or any(v is r for r in family.METHODS.values())
               for v in defined)


@pytest.mark.parametrize("name", sorted(registry.METHOD_RULES))
def test_method_rows(name):
    rule = registry.METHOD_RULES[name]
    lib = rule.lib if rule is not None else ir.Lib("numpy", "clip")
    assert registry.rule_of_call(ir.Call(lib, [ir.Name("x")], method=name)) is rule


@pytest.mark.parametrize("row", runtime_helpers.ROWS, ids=lambda r: r.attr)
def test_runtime_row_found_by_its_helper_and_its_name(row):
    assert registry.runtime_rule(getattr(helpers, row.attr)) is row
    assert registry.primitive_rule(getattr(helpers, row.attr)) is row
    assert registry.rule_of_call(ir.Call(row.lib, [ir.Name("g")])) is row


def test_scalar_rows_found_by_their_object_and_their_name():
    for obj, rule in scalar.SCALAR_RULES.items():
        assert registry.scalar_rule(obj) is rule
        assert registry.scalar_rule_of(rule.lib) is rule
        assert registry.array_rule(obj) is None, rule.attr  # never both kinds of rule


def test_unhashable_and_unknown_objects_have_no_rule():
    for obj in ([], {}, print, len, object()):
        assert registry.array_rule(obj) is None and registry.runtime_rule(obj) is None


# --- no import side effects ----------------------------------------------------------------
_SNAPSHOT = r'''
import copy, importlib, sys, types
pkg = types.ModuleType("s2sgrad")
pkg.__path__ = [sys.argv[1]]          # the package without its __init__ (which imports all)
sys.modules["s2sgrad"] = pkg
names = ["s2sgrad.rules.scalar", "s2sgrad.rules.runtime_helpers", "s2sgrad.rules.array.core",
         "s2sgrad.rules.array.reductions", "s2sgrad.rules.array.products",
         "s2sgrad.rules.array.linalg", "s2sgrad.rules.array.shape", "s2sgrad.rules.array.construct"]
modules = [importlib.import_module(n) for n in names]

def tables():
    return {m.__name__: {k: (type(v), copy.copy(v)) for k, v in vars(m).items()
                         if not k.startswith("__") and isinstance(v, (dict, list, set, tuple))}
            for m in modules}

def attributes():
    return {m.__name__: set(vars(m)) for m in modules}

assert "s2sgrad.rules.registry" not in sys.modules
before, names_before = tables(), attributes()
importlib.import_module("s2sgrad.rules.registry")
assert tables() == before, "importing the registry changed a table"
assert attributes() == names_before, "importing the registry added or removed a name"
print("unchanged")
'''


def test_importing_the_registry_changes_no_other_modules_tables():
    package = os.path.dirname(s2sgrad.__file__)
    done = subprocess.run([sys.executable, "-c", _SNAPSHOT, package], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.strip() == "unchanged", done.stderr


# --- parameters match NumPy's signatures -----------------------------------------------------
def _check_params(rule, fn):
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):  # a C function without a signature
        pytest.skip(f"{rule.attr} has no inspectable signature")
    params = list(signature.parameters.values())
    assert len(rule.params) <= len(params) or any(p.kind is p.VAR_POSITIONAL for p in params)
    for declared, actual in zip(rule.params, params):
        if actual.kind is actual.VAR_POSITIONAL:
            break  # the rest are positional: np.einsum(subscripts, *operands)
        if actual.kind is actual.POSITIONAL_ONLY:
            continue  # never passed by keyword: its name does not matter
        assert declared == actual.name or rule.aliases.get(actual.name) == declared, \
            f"{rule.module}.{rule.attr}: parameter {declared!r} is {actual.name!r} in {signature}"


@pytest.mark.parametrize("row", ARRAY_ROWS, ids=_label)
def test_array_row_params_match_the_signature(row):
    _check_params(row[1], _object(row[1]))


@pytest.mark.parametrize("row", runtime_helpers.ROWS, ids=lambda r: r.attr)
def test_runtime_row_params_match_the_helper(row):
    _check_params(row, getattr(helpers, row.attr))
