"""Helpers that generated code calls, copied (only those used) into the generated module:
helpers.py for the python target, numba.py for their compiled forms.

MODULE_LEVEL_NAMES are the names a generated module may define for them: no user
function, global or variable is printed under one of these (transforms/naming.py).
"""
from .helpers import __all__ as _python_helpers

# the compiled forms' own names (numba.py is not imported here: it imports numba)
_COMPILED_ONLY = ("tape_reserve", "sum_to_shape", "unbroadcast_compiled", "ndim_compiled", "flip_compiled",
                  "expand_dims_compiled", "reshape_compiled", "prod_others_compiled", "undiff_compiled",
                  "cofactor_compiled", "cross_grads_compiled", "zero_tangents_compiled", "tangent_like_compiled", "array_compiled",
                  "unbroadcast_directions_compiled", "transpose_axes", "moveaxis", "swapaxes",
                  "transpose_axes_compiled", "moveaxis_compiled", "swapaxes_compiled")

MODULE_LEVEL_NAMES = frozenset(_python_helpers) | frozenset(_COMPILED_ONLY)
