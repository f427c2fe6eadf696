"""NumPy operation rows (tests/numpy_ops.py) that backend="numba" refuses, with the reason.

FUNCTION_ITSELF: numba cannot compile the function itself (numba.njit(f) fails: its NumPy
call takes arguments numba's NumPy does not, such as axis= on max, mean, prod, or is not in
numba at all, such as np.einsum, np.tile); GRADIENT_ONLY: numba compiles the function but
not its adjoint, whose rule or helper uses NumPy that numba lacks (the reason says which).  Each is refused with a CompileError at the
user's statement (tests/backends/test_numba_numpy.py checks that, and that every other row
equals the python backend)."""

FUNCTION_ITSELF = [
    'center_by_var', 'concatenate_axis0', 'concatenate_same_array', 'cross_entropy',
    'diagonal_axes', 'diagonal_offset', 'diff_axis0', 'einsum_batched_matmul', 'einsum_batched_big', 'einsum_chain_big', 'einsum_chain_optimize_true',
    'einsum_dot', 'einsum_explicit_path', 'einsum_optimize_false_big', 'einsum_optimize_greedy',
    'einsum_matmul', 'einsum_rowwise_dot', 'einsum_trace', 'einsum_transpose', 'hstack_vectors',
    'index_list_repeated', 'inner_matrices', 'list_append_then_stack', 'logsumexp_by_hand_axis',
    'mask_argument', 'matmul_batched', 'matmul_batched_shared', 'method_max_axis1',
    'method_max_axis_neg', 'method_max_axis_tuple', 'method_max_keepdims',
    'method_max_positional_axis', 'method_mean_axis1', 'method_mean_axis_neg',
    'method_mean_axis_tuple', 'method_mean_keepdims', 'method_min_axis1', 'method_min_axis_neg',
    'method_min_axis_tuple', 'method_min_keepdims', 'method_prod_axis1', 'method_prod_axis_neg',
    'method_prod_axis_tuple', 'method_prod_keepdims', 'method_repeat', 'method_squeeze',
    'method_std_axis1', 'method_std_axis_neg', 'method_std_axis_tuple', 'method_std_keepdims',
    'method_sum_keepdims', 'method_var_axis1', 'method_var_axis_neg',
    'method_var_axis_tuple', 'method_var_keepdims', 'norm_axis0', 'norm_axis1',
    'np_matmul_batched', 'np_matmul_batched_shared', 'np_matmul_matrix_matrix',
    'np_matmul_matrix_vector', 'np_matmul_vector_matrix', 'np_max_axis1', 'np_max_axis_neg',
    'np_max_axis_tuple', 'np_max_keepdims', 'np_mean_axis1', 'np_mean_axis_neg',
    'np_mean_axis_tuple', 'np_mean_keepdims', 'np_min_axis1', 'np_min_axis_neg',
    'np_min_axis_tuple', 'np_min_keepdims', 'np_prod_axis1', 'np_prod_axis_neg',
    'np_prod_axis_tuple', 'np_prod_keepdims', 'np_squeeze', 'np_squeeze_axis', 'np_std_axis1',
    'np_std_axis_neg', 'np_std_axis_tuple', 'np_std_keepdims', 'np_sum_keepdims',
    'np_var_axis1', 'np_var_axis_neg', 'np_var_axis_tuple', 'np_var_keepdims', 'repeat_axis',
    'repeat_counts_axis', 'roll_axes', 'softmax_keepdims', 'sort_columns', 'sort_flattened',
    'stack_axis0', 'stack_last_axis', 'standardize_keepdims', 'tensordot_axes_int',
    'tensordot_axes_lists', 'tensordot_axes_one', 'tile_int', 'tile_tuple', 'vstack_vectors',
]

GRADIENT_ONLY = {
    "concatenate's adjoint splits at np.cumsum of a list of sizes: numba's cumsum takes arrays": [
        'concatenate_axis1', 'hstack_matrices', 'stack_axis1', 'vstack_matrices',
    ],
    "repeat's adjoint concatenates a list: numba's concatenate takes a tuple": [
        'repeat_no_axis',
    ],
    "add_at of a tuple of index arrays (x[i, j] with repeated pairs): compiled add_at takes one": [
        'index_pairs_repeated',
    ],
}
