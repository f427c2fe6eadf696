"""Derivative rules: scalar.py (sympy rows for scalar and element-wise functions),
partials.py (sympy's partial derivatives of a statement), arrays.py (array primitives,
each with its reverse and forward rule), runtime_helpers.py (the runtime helpers, so
generated code can be differentiated again) and registry.py, where passes look them up."""
