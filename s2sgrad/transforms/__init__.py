"""Transforms of the IR: reverse.py (adjoints), forward.py (tangents), optimize.py,
tapes.py (typed tapes for compiled targets) and naming.py (every generated name)."""
