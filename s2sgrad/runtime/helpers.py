"""The runtime helpers generated array code may call.

The generated module carries a copy of the source of each helper it uses (backends/assemble.py
reads it with inspect), so generated code needs numpy, never s2sgrad.  Each helper
is plain NumPy, imports nothing but `np`, and calls no other helper except
`unbroadcast`.
"""
import numpy as np

__all__ = ["unbroadcast", "expand_reduced", "prod_others", "matmul_grads", "tensordot_grads", "solve_grads",
           "solve_tangent", "einsum_grad", "untile", "unrepeat", "undiff", "unjoin", "add_at", "zeros_list",
           "tangent_like", "lift_directions", "zero_tangents", "direction", "transpose_directions",
           "unbroadcast_directions", "cofactor", "undiagonal", "unsort", "sort_like", "cross_grads"]


def unbroadcast(g, x):
    """Sum g down to the shape of x: the reverse of NumPy's broadcasting."""
    shape = np.shape(x)
    if np.shape(g) == shape:
        return g
    try:
        np.broadcast_shapes(np.shape(g), shape)
    except ValueError:  # shapes that do not broadcast: no guess
        raise ValueError("a cotangent's shape does not broadcast with its variable's (a vjp's "
                         "cotangent of another shape than the output?)") from None
    lead = np.ndim(g) - len(shape)
    g = np.sum(g, axis=tuple(range(lead))) if lead > 0 else g
    lead = min(lead, 0)  # g may have fewer axes: it broadcasts along the missing ones
    ones = tuple(i + lead for i, n in enumerate(shape)
                 if n == 1 and i + lead >= 0 and np.shape(g)[i + lead] != 1)
    return np.sum(g, axis=ones, keepdims=True) if ones else g


def expand_reduced(g, x, axis, keepdims):
    """A reduction's cotangent with its reduced axes back (size 1), to broadcast against x."""
    if keepdims or axis is None:
        return g
    return np.expand_dims(g, axis)


def prod_others(x, axis):
    """d prod(x, axis) / dx: the product of the other elements along axis (zeros allowed)."""
    x = np.asarray(x)
    if axis is None:
        axes = tuple(range(x.ndim))
    else:
        axes = tuple(a % x.ndim for a in (axis if isinstance(axis, tuple) else (axis,)))
    kept = [a for a in range(x.ndim) if a not in axes]
    moved = np.transpose(x, kept + list(axes))
    flat = moved.reshape(moved.shape[:len(kept)] + (-1,))
    ones = np.ones(flat.shape[:-1] + (1,), dtype=flat.dtype)
    before = np.cumprod(np.concatenate([ones, flat[..., :-1]], axis=-1), axis=-1)
    after = np.flip(np.cumprod(np.concatenate([ones, np.flip(flat, -1)[..., :-1]], axis=-1), axis=-1), -1)
    others = (before * after).reshape(moved.shape)
    return np.transpose(others, np.argsort(kept + list(axes)))


def matmul_grads(g, a, b):
    """Cotangents of a and b for a @ b (any ranks, batch axes broadcast)."""
    if np.ndim(a) == 1 and np.ndim(b) == 1:  # an inner product
        return g * b, g * a
    a2 = a[np.newaxis, :] if np.ndim(a) == 1 else a
    b2 = b[:, np.newaxis] if np.ndim(b) == 1 else b
    g2 = g
    if np.ndim(a) == 1:
        g2 = np.expand_dims(g2, -2)
    if np.ndim(b) == 1:
        g2 = np.expand_dims(g2, -1)
    d_a = unbroadcast(g2 @ np.swapaxes(b2, -1, -2), a2)
    d_b = unbroadcast(np.swapaxes(a2, -1, -2) @ g2, b2)
    return np.reshape(d_a, np.shape(a)), np.reshape(d_b, np.shape(b))


def tensordot_grads(g, a, b, axes):
    """Cotangents of a and b for np.tensordot(a, b, axes)."""
    na, nb = np.ndim(a), np.ndim(b)
    if np.isscalar(axes) or np.ndim(axes) == 0:
        sum_a, sum_b = list(range(na - axes, na)), list(range(axes))
    else:
        sum_a, sum_b = [list(np.atleast_1d(ax)) for ax in axes]
    sum_a = [ax % na for ax in sum_a]
    sum_b = [ax % nb for ax in sum_b]
    free_a = [ax for ax in range(na) if ax not in sum_a]
    free_b = [ax for ax in range(nb) if ax not in sum_b]
    g_free_a = list(range(len(free_a)))
    g_free_b = list(range(len(free_a), len(free_a) + len(free_b)))
    # d_a: g's free_a axes, then b's summed axes in increasing order, each paired with a's
    d_a = np.tensordot(g, b, axes=(g_free_b, free_b))
    d_a = np.transpose(d_a, np.argsort(free_a + [sum_a[sum_b.index(ax)] for ax in sorted(sum_b)]))
    # d_b: a's summed axes in increasing order (paired with b's), then g's free_b axes
    d_b = np.tensordot(a, g, axes=(free_a, g_free_a))
    d_b = np.transpose(d_b, np.argsort([sum_b[sum_a.index(ax)] for ax in sorted(sum_a)] + free_b))
    return d_a, d_b


def cross_grads(g, a, b):
    """Cotangents of a and b for np.cross(a, b) along the last axis: cross(b, g) and
    cross(g, a).  2-vectors are 3-vectors with a zero third entry (NumPy's own reading);
    the cross of two of them is that third entry only, so g is too."""
    na, nb = np.shape(a)[-1], np.shape(b)[-1]
    a3 = a if na == 3 else np.concatenate((a, np.zeros(np.shape(a)[:-1] + (1,))), axis=-1)
    b3 = b if nb == 3 else np.concatenate((b, np.zeros(np.shape(b)[:-1] + (1,))), axis=-1)
    if na == 2 and nb == 2:
        g = np.asarray(g, dtype=np.float64)[..., None]
        g = np.concatenate((np.zeros(np.shape(g)[:-1] + (2,)), g), axis=-1)
    d_a = np.cross(b3, g)[..., :na]
    d_b = np.cross(g, a3)[..., :nb]
    return unbroadcast(d_a, a), unbroadcast(d_b, b)


def solve_grads(g, a, x):
    """Cotangents of a and b for x = np.linalg.solve(a, b) (any ranks)."""
    g_b = np.linalg.solve(np.swapaxes(a, -1, -2), g)
    if np.ndim(x) == np.ndim(a) - 1:  # one right-hand side per system
        return -g_b[..., :, np.newaxis] * x[..., np.newaxis, :], g_b
    return -g_b @ np.swapaxes(x, -1, -2), g_b


def solve_tangent(a, x, t_a, t_b):
    """Tangent of x = np.linalg.solve(a, b) (any ranks): solve(a, t_b - t_a @ x); None is zero."""
    vector = np.ndim(x) == np.ndim(a) - 1  # one right-hand side per system: make it a column
    if vector:
        x = x[..., np.newaxis]
        t_b = None if t_b is None else np.asarray(t_b)[..., np.newaxis]
    rhs = (0.0 if t_b is None else t_b) - (0.0 if t_a is None else t_a @ x)
    t_x = np.linalg.solve(a, rhs)
    return t_x[..., 0] if vector else t_x


def einsum_grad(subscripts, g, operands, k, optimize=None):
    """Cotangent of operand k of np.einsum(subscripts, *operands).

    optimize: the call's own optimize= (an explicit path is the forward contraction's, not
    this one's, so it becomes True); None, the call had none: optimize once the operands
    are big enough that BLAS pays for the path search (about 10 us)."""
    text = subscripts.replace(" ", "")
    inputs, _, output = text.partition("->")
    inputs = inputs.split(",")
    if not _:
        letters = "".join(inputs)
        output = "".join(sorted(ch for ch in set(letters) if letters.count(ch) == 1))
    target = inputs[k]
    unique = "".join(dict.fromkeys(target))
    others = [s for j, s in enumerate(inputs) if j != k] + [output]
    arrays = [op for j, op in enumerate(operands) if j != k] + [g]
    seen = set("".join(others))
    kept = "".join(ch for ch in unique if ch in seen)
    if optimize is None:
        optimize = sum(np.size(a) for a in arrays) >= 2048
    elif not isinstance(optimize, (bool, str)):
        optimize = True
    part = np.einsum(",".join(others) + "->" + kept, *arrays, optimize=optimize)
    # letters summed only inside operand k: the cotangent is constant along them
    sizes = dict(zip(target, np.shape(operands[k])))
    full = np.broadcast_to(np.expand_dims(part, tuple(i for i, ch in enumerate(unique) if ch not in seen))
                           if len(kept) < len(unique) else part, [sizes[ch] for ch in unique])
    if unique == target:
        return np.array(full)
    out = np.zeros(np.shape(operands[k]), dtype=np.result_type(g, operands[k]))
    np.einsum(target + "->" + unique, out)[...] = full  # a repeated letter: the diagonal
    return out


def untile(g, a, reps):
    """Cotangent of a for np.tile(a, reps): the tiles summed."""
    reps = (reps,) if np.isscalar(reps) else tuple(reps)
    nd = max(len(reps), np.ndim(a))
    reps = (1,) * (nd - len(reps)) + reps
    shape = (1,) * (nd - np.ndim(a)) + tuple(np.shape(a))
    split = []
    for r, n in zip(reps, shape):
        split += [r, n]
    summed = np.reshape(g, split).sum(axis=tuple(range(0, 2 * nd, 2)))
    return np.reshape(summed, np.shape(a))


def unrepeat(g, a, repeats, axis):
    """Cotangent of a for np.repeat(a, repeats, axis): each element's copies summed."""
    if axis is None:
        n = np.size(a)
        flat_axis = 0
    else:
        n = np.shape(a)[axis]
        flat_axis = axis
    counts = np.broadcast_to(repeats, (n,))
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.intp)
    summed = np.add.reduceat(g, starts, axis=flat_axis)
    return np.reshape(summed, np.shape(a))


def undiff(g, n, axis):
    """Cotangent of a for np.diff(a, n, axis)."""
    for _ in range(n):
        pad = [(0, 0)] * np.ndim(g)
        pad[axis] = (1, 0)
        before = np.pad(g, pad)
        pad[axis] = (0, 1)
        g = before - np.pad(g, pad)
    return g


def unjoin(g, arrays, axis, how):
    """Cotangents of the inputs of np.concatenate / stack / hstack / vstack, one per input."""
    if how == "stack":
        return [np.take(g, k, axis=axis) for k in range(len(arrays))]
    if how == "hstack":
        axis = 0 if np.ndim(arrays[0]) <= 1 else 1
    if how == "vstack":
        sizes = [1 if np.ndim(x) <= 1 else np.shape(x)[0] for x in arrays]
        axis = 0
    else:
        sizes = [np.shape(x)[axis] if np.ndim(x) else 1 for x in arrays]
    parts = np.split(g, np.cumsum(sizes)[:-1], axis=axis)
    return [np.reshape(p, np.shape(x)) for p, x in zip(parts, arrays)]


def undiagonal(g, a, offset, axis1, axis2):
    """Cotangent of a for np.diagonal(a, offset, axis1, axis2): g on that diagonal of zeros."""
    out = np.zeros(np.shape(a), dtype=np.result_type(g, a, 1.0))
    view = np.moveaxis(out, (axis1, axis2), (-2, -1))  # diagonal() puts its axis last, so does this
    n = np.shape(g)[-1]
    rows, cols = np.arange(n) + max(-offset, 0), np.arange(n) + max(offset, 0)
    view[..., rows, cols] = g
    return out


def unsort(g, a, axis):
    """Cotangent of a for np.sort(a, axis): each sorted place's cotangent back where its
    element came from (tied elements in NumPy's stable order)."""
    flat = axis is None
    keys = np.ravel(a) if flat else a
    order = np.argsort(keys, axis=0 if flat else axis, kind="stable")
    out = np.zeros(np.shape(keys), dtype=np.result_type(g, a, 1.0))
    np.put_along_axis(out, order, np.broadcast_to(g, np.shape(keys)), axis=0 if flat else axis)
    return np.reshape(out, np.shape(a))


def sort_like(t, a, axis):
    """t reordered as np.sort(a, axis) reorders a: the tangent of the sorted array."""
    flat = axis is None
    keys = np.ravel(a) if flat else a
    t = np.ravel(np.broadcast_to(t, np.shape(a))) if flat else np.broadcast_to(t, np.shape(a))
    order = np.argsort(keys, axis=0 if flat else axis, kind="stable")
    return np.take_along_axis(t, order, axis=0 if flat else axis)


def add_at(d_x, index, g):
    """d_x[index] += g, adding repeated indices as many times as they occur."""
    np.add.at(d_x, index, unbroadcast(g, d_x[index]))


def zeros_list(xs):
    """Zero adjoints for a list of arrays, one of each element's shape (a list for an
    element that is itself a list or tuple: `params = [(W1, b1), (W2, b2)]`)."""
    return [zeros_list(x) if isinstance(x, (list, tuple)) else np.zeros_like(x) for x in xs]


def tangent_like(t, *arrays):
    """A tangent that is a number (y = c + s, s a number) given the shape of the arrays it meets."""
    return t + np.zeros(np.broadcast(*arrays).shape)


def lift_directions(t, x, ndim):
    """Vector mode: t (directions first, then x's axes) with axes added for a result of rank ndim."""
    missing = ndim - np.ndim(x)
    return np.reshape(t, np.shape(t)[:1] + (1,) * missing + np.shape(t)[1:]) if missing > 0 else t


def zero_tangents(xs, n_dirs):
    """Zero tangents for a list or tuple, one per element (with a leading axis of n_dirs
    directions if given); a tuple's tangent is a tuple, as the output's structure is."""
    if n_dirs is None:
        zeros = [np.zeros_like(x, dtype=float) if np.ndim(x) else 0.0 for x in xs]
    else:
        zeros = [np.zeros((n_dirs,) + np.shape(x)) for x in xs]
    return tuple(zeros) if isinstance(xs, tuple) else zeros


def direction(ts, j):
    """Vector mode: direction j of every tangent of a list."""
    return [t[j] for t in ts]


def transpose_directions(t):
    """Vector mode: the tangent of x.T, the directions' axis kept first."""
    return np.transpose(t, (0,) + tuple(range(np.ndim(t) - 1, 0, -1)))


def unbroadcast_directions(t, x):
    """Vector mode: unbroadcast(t[j], x) for every direction j at once (t's first axis)."""
    shape = np.shape(x)
    if np.shape(t)[1:] == shape:
        return t
    lead = np.ndim(t) - 1 - len(shape)
    if lead > 0:
        t = np.sum(t, axis=tuple(range(1, 1 + lead)))
    elif lead < 0:  # t broadcasts along x's missing leading axes: keep them as size 1
        t = np.reshape(t, np.shape(t)[:1] + (1,) * -lead + np.shape(t)[1:])
    ones = tuple(i + 1 for i, n in enumerate(shape) if n == 1 and np.shape(t)[i + 1] != 1)
    return np.sum(t, axis=ones, keepdims=True) if ones else t


def cofactor(a):
    """The cofactor matrix of a (of each matrix of a stack): det's derivative, d det(a) / d a,
    also where a is singular (det(a) inv(a).T only where it is not).  From the SVD
    a = u diag(s) vt: cofactor(a) = det(u) det(vt) u diag(prod_{j != i} s_j) vt."""
    u, s, vt = np.linalg.svd(a)
    ones = np.ones(s.shape[:-1] + (1,))
    left = np.cumprod(np.concatenate((ones, s[..., :-1]), axis=-1), axis=-1)
    right = np.flip(np.cumprod(np.concatenate((ones, np.flip(s, -1)[..., :-1]), axis=-1), axis=-1), -1)
    sign = np.linalg.det(u) * np.linalg.det(vt)
    return np.expand_dims(sign, (-2, -1)) * np.matmul(u * np.expand_dims(left * right, -2), vt)
