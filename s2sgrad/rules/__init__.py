"""Derivative rules.

- scalar.py: sympy rows for scalar and element-wise functions (math.sin, np.exp, np.cbrt);
- partials.py: the bridge to sympy, a statement's partial derivatives as IR;
- array/: NumPy's array primitives, one module a family (reductions, products, linalg,
  shape, construct), each primitive's reverse and forward rule beside its row;
- runtime_helpers.py: rows for the runtime helpers, so generated code can be
  differentiated again;
- registry.py: where passes look rules up.

docs/rules.md says how to add one.
"""
