"""Helpers that generated code calls, copied (only those used) into the generated module:
helpers.py for the python target, numba.py for their compiled forms."""
