"""The rules of NumPy's array primitives (not element-wise: reductions, products, shape
changes), one module a family: core.py (ArrayRule, its contexts, IR shorthands),
reductions.py, products.py, linalg.py, shape.py, construct.py.

Each family module ends with ROWS (its rows) and METHODS (ndarray methods that use them);
rules/registry.py collects them.  Importing a family registers nothing anywhere.
"""
