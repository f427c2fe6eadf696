"""The runtime helpers of numba-compiled code, where helpers.py's NumPy does not compile.

A generated module for the numba target copies each runtime helper it uses (backends/assemble.py):
- a helper of helpers.py with an overload here (OVERLOADS): helpers.py's plain function,
  then the overload, which gives numba one implementation per combination of argument
  types (unbroadcast needs different code for each pair of ranks; prod_others has one
  for axis=None, undiff one along the last axis);
- a helper whose compiled text is here (COMPILED: typed-tape growth, add_at);
- np.transpose with axes, np.moveaxis and np.swapaxes, which numba compiles slowly
  (VIEWS: a plain function calling NumPy's, then an overload making the view);
- a NumPy function, or a form of one, numba lacks (NUMPY_OVERLOADS: np.ndim, np.flip
  along an axis, np.expand_dims of a tuple of axes, np.reshape of a view that is not
  contiguous, np.array of an array): an overload giving it one;
- any other helper of helpers.py: its text, compiled with numba.njit as it is.

Like helpers.py, each helper needs nothing but `np` and `numba` (IMPORTS names the one
numba submodule an overload needs, which the generated module then imports).
"""
import numba
import numba.extending
import numpy as np

from .helpers import cofactor, cross_grads, prod_others, tangent_like, unbroadcast, unbroadcast_directions, undiff, zero_tangents

# helpers whose compiled text is here: runtime.py's does not compile, or only compiled
# code calls them
COMPILED = ["tape_reserve", "add_at"]


def tape_reserve(tape, size):
    """The tape, or a copy of it with room for at least `size` values (at least doubled)."""
    if size <= tape.shape[0]:
        return tape
    grown = np.empty(max(size, 2 * tape.shape[0]), tape.dtype)
    grown[:tape.shape[0]] = tape
    return grown


@numba.njit(cache=True)
def sum_to_shape(g, x):
    """g summed into an array of x's shape, g having been broadcast from x."""
    # written with the shapes' tuples and g.flat only: numba compiles it in about half the
    # time a version with np.array(g.shape), np.prod and ravel took, and it runs faster
    rank = max(len(g.shape), len(x.shape))
    lead_g, lead_x = rank - len(g.shape), rank - len(x.shape)
    for a in range(max(lead_g, lead_x), rank):  # shapes that do not broadcast: no guess
        n_g, n_x = g.shape[a - lead_g], x.shape[a - lead_x]
        if n_g != n_x and n_g != 1 and n_x != 1:
            raise ValueError("a cotangent's shape does not broadcast with its variable's (a vjp's cotangent of another shape than the output?)")
    out = np.zeros(x.size, g.dtype)
    whole = lead_g == 0  # g has every axis of the broadcast shape at its full length
    for a in range(lead_x, rank):
        whole = whole and (x.shape[a - lead_x] == 1 or x.shape[a - lead_x] == g.shape[a])
    if whole:  # each of g's values, in C order, into the element of x it came from
        p = 0
        for value in g.flat:
            rest, at_x, step = p, 0, 1
            for a in range(rank - 1, -1, -1):
                i = rest % g.shape[a]
                rest //= g.shape[a]
                if a >= lead_x:
                    n = x.shape[a - lead_x]
                    if n != 1:
                        at_x += i * step
                    step *= n
            out[at_x] += value
            p += 1
        return out.reshape(x.shape)
    # g lacks axes of x, or has length 1 where x does not: walk the broadcast shape
    total = 1
    for a in range(rank):
        total *= max(g.shape[a - lead_g] if a >= lead_g else 1, x.shape[a - lead_x] if a >= lead_x else 1)
    flat = g.flat
    for p in range(total):
        rest, at_g, at_x, step_g, step_x = p, 0, 0, 1, 1
        for a in range(rank - 1, -1, -1):
            n_g = g.shape[a - lead_g] if a >= lead_g else 1
            n_x = x.shape[a - lead_x] if a >= lead_x else 1
            i = rest % max(n_g, n_x)
            rest //= max(n_g, n_x)
            if n_g != 1:
                at_g += i * step_g
            if n_x != 1:
                at_x += i * step_x
            step_g *= n_g
            step_x *= n_x
        out[at_x] += flat[at_g]
    return out.reshape(x.shape)


@numba.extending.overload(unbroadcast)
def unbroadcast_compiled(g, x):
    """unbroadcast in compiled code: one implementation per pair of ranks."""
    g_number = not isinstance(g, numba.types.Array)
    x_number = not isinstance(x, numba.types.Array)
    if x_number:
        return (lambda g, x: g) if g_number else (lambda g, x: np.sum(g))
    if g_number:
        return lambda g, x: np.full(x.shape, g)
    if g.ndim == 0:
        return lambda g, x: np.full(x.shape, g[()])
    if x.ndim == 0:
        return lambda g, x: np.asarray(np.sum(g))
    if g.ndim != x.ndim:
        return lambda g, x: sum_to_shape(g, x)
    return lambda g, x: g if g.shape == x.shape else sum_to_shape(g, x)


@numba.extending.overload(unbroadcast_directions)
def unbroadcast_directions_compiled(t, x):
    """unbroadcast_directions in compiled code: unbroadcast direction by direction (the
    plain helper's tuple of axes, built by a generator, does not compile)."""
    if not isinstance(t, numba.types.Array):
        return None
    if not isinstance(x, numba.types.Array):
        def to_numbers(t, x):
            out = np.zeros(t.shape[0], t.dtype)
            for j in range(t.shape[0]):
                out[j] = np.sum(t[j])
            return out
        return to_numbers

    def each_direction(t, x):
        out = np.zeros((t.shape[0],) + x.shape, t.dtype)
        for j in range(t.shape[0]):
            out[j] = unbroadcast(t[j], x)
        return out

    def unless_of_the_shape(t, x):
        if t.shape[1:] == x.shape:
            return t
        out = np.zeros((t.shape[0],) + x.shape, t.dtype)
        for j in range(t.shape[0]):
            out[j] = unbroadcast(t[j], x)
        return out
    return unless_of_the_shape if t.ndim == x.ndim + 1 else each_direction


def add_at(d_x, index, g):
    """d_x[index] += g, adding repeated indices as many times as they occur (an index
    array along the first axis: numba has no np.add.at)."""
    values = unbroadcast(g, d_x[index])
    for k in range(index.shape[0]):
        d_x[index[k]] += values[k]


@numba.extending.overload(np.ndim)
def ndim_compiled(x):
    """np.ndim in compiled code: a constant of the argument's type."""
    rank = x.ndim if isinstance(x, numba.types.Array) else 0
    return lambda x: rank


@numba.extending.overload(np.flip)
def flip_compiled(m, axis=None):
    """np.flip along one axis, or an explicit axis=None: numba's flip takes neither."""
    if isinstance(axis, (numba.types.NoneType, numba.types.Omitted)):
        return lambda m, axis=None: np.flip(m)
    if isinstance(axis, numba.types.Integer):
        def along(m, axis=None):
            return swapaxes(swapaxes(m, 0, axis)[::-1], 0, axis)
        return along


@numba.extending.overload(np.expand_dims)
def expand_dims_compiled(a, axis):
    """np.expand_dims with a tuple of axes, by a reshape: numba's takes one axis."""
    if not isinstance(axis, numba.types.BaseTuple) or not isinstance(a, numba.types.Array) or a.ndim == 0:
        return None
    rank = a.ndim + len(axis)

    def with_new_axes(a, axis):
        new = np.zeros(rank, np.bool_)
        for k in numba.literal_unroll(axis):
            new[k % rank] = True
        shape, dims, j = np.ones(rank, np.int64), np.array(a.shape), 0
        for i in range(rank):
            if not new[i]:
                shape[i] = dims[j]
                j += 1
        return np.reshape(np.ascontiguousarray(a), numba.np.unsafe.ndarray.to_fixed_tuple(shape, rank))
    return with_new_axes


@numba.extending.overload(np.reshape)
def reshape_compiled(a, newshape):
    """np.reshape of an array that is not contiguous (a flipped view): numba reshapes only
    contiguous ones, so reshape a contiguous copy, as NumPy does."""
    if isinstance(a, numba.types.Array) and a.layout not in ("C", "F"):
        return lambda a, newshape: np.reshape(np.ascontiguousarray(a), newshape)


@numba.extending.overload(prod_others)
def prod_others_compiled(x, axis):
    """prod_others over all elements (axis None; numba's np.prod takes no axis): the
    products before and after each element, so zeros need no division."""
    if not isinstance(axis, (numba.types.NoneType, numba.types.Omitted)) or not isinstance(x, numba.types.Array):
        return None

    def others_of_all(x, axis):
        flat = np.ascontiguousarray(x).ravel()
        out = np.empty_like(flat)
        before = 1.0
        for k in range(flat.size):
            out[k] = before
            before *= flat[k]
        after = 1.0
        for k in range(flat.size - 1, -1, -1):
            out[k] *= after
            after *= flat[k]
        return out.reshape(x.shape)
    return others_of_all


@numba.extending.overload(undiff)
def undiff_compiled(g, n, axis):
    """undiff along the last axis (numba's np.diff has no other) without np.pad, which
    numba lacks: each step adds g into the later element and takes it from the earlier."""
    if not isinstance(g, numba.types.Array) or g.ndim == 0:
        return None
    last = g.ndim - 1

    def along_last(g, n, axis):
        if axis != -1 and axis != last:
            raise ValueError("compiled undiff: np.diff along the last axis only")
        out = np.ascontiguousarray(g)
        for _ in range(n):
            grown = np.zeros(out.shape[:-1] + (out.shape[-1] + 1,), out.dtype)
            grown[..., 1:] += out
            grown[..., :-1] -= out
            out = grown
        return out
    return along_last


@numba.extending.overload(cofactor)
def cofactor_compiled(a):
    """cofactor of one matrix (numba's svd takes matrices, not stacks): det(u) det(vt)
    u diag(prod_{j != i} s_j) vt, the products taken without dividing."""
    if not (isinstance(a, numba.types.Array) and a.ndim == 2):
        return None

    def of_matrix(a):
        u, s, vt = np.linalg.svd(np.ascontiguousarray(a))
        n = s.shape[0]
        others = np.ones(n)
        for i in range(n):
            for j in range(n):
                if j != i:
                    others[i] *= s[j]
        sign = np.linalg.det(u) * np.linalg.det(vt)
        return sign * ((u * others) @ vt)
    return of_matrix


@numba.extending.overload(cross_grads)
def cross_grads_compiled(g, a, b):
    """cross_grads of 3-vectors (numba's np.cross needs one; two 2-vectors are
    np.cross2d there), so g has the broadcast rank and no 2-vector branch is typed."""
    def of_3_vectors(g, a, b):
        return unbroadcast(np.cross(b, g), a), unbroadcast(np.cross(g, a), b)
    return of_3_vectors


@numba.extending.overload(zero_tangents)
def zero_tangents_compiled(xs, n_dirs):
    """Zero tangents of a list or tuple of numbers or of arrays of one type, as a list
    (numba types each branch of helpers.py's one-for-all version, and makes no tuple of a
    list); the element type decides, when numba compiles."""
    if not isinstance(xs, (numba.types.List, numba.types.UniTuple)):
        return None
    numbers = isinstance(xs.dtype, (numba.types.Float, numba.types.Integer, numba.types.Boolean))
    if isinstance(n_dirs, (numba.types.NoneType, numba.types.Omitted)):
        if numbers:
            return lambda xs, n_dirs: [0.0 for x in xs]
        return lambda xs, n_dirs: [np.zeros(x.shape) for x in xs]
    if numbers:
        return lambda xs, n_dirs: [np.zeros(n_dirs) for x in xs]
    return lambda xs, n_dirs: [np.zeros((n_dirs,) + x.shape) for x in xs]


@numba.extending.overload(tangent_like)
def tangent_like_compiled(t, *arrays):
    """t + zeros of the arrays' broadcast shape, without np.broadcast (numba lacks it): the
    zeros of each array added in turn broadcast to the same shape."""
    if len(arrays) == 1:
        return lambda t, *arrays: t + np.zeros(arrays[0].shape)
    if len(arrays) == 2:
        return lambda t, *arrays: t + np.zeros(arrays[0].shape) + np.zeros(arrays[1].shape)
    if len(arrays) == 3:
        return lambda t, *arrays: (t + np.zeros(arrays[0].shape) + np.zeros(arrays[1].shape)
                                   + np.zeros(arrays[2].shape))
    return None


@numba.extending.overload(np.array)
def array_compiled(object, dtype=None):
    """np.array of an array (a vjp's copy of the caller's cotangent): numba's np.array
    takes lists and tuples only.  A copy, as NumPy's."""
    if not isinstance(object, numba.types.Array):
        return None
    if isinstance(dtype, (numba.types.NoneType, numba.types.Omitted)):
        return lambda object, dtype=None: object.copy()
    return lambda object, dtype=None: object.astype(dtype)


# np.transpose with axes, np.moveaxis and np.swapaxes as the numba target calls them
# (transforms/axes_views.py): NumPy's own in Python; compiled, views made from the array's
# shape and strides, which numba compiles in a tenth of the time of its own
VIEWS = ["transpose_axes", "moveaxis", "swapaxes"]


def transpose_axes(a, axes):
    return np.transpose(a, axes)


def moveaxis(a, source, destination):
    return np.moveaxis(a, source, destination)


def swapaxes(a, axis1, axis2):
    return np.swapaxes(a, axis1, axis2)


@numba.extending.overload(transpose_axes)
def transpose_axes_compiled(a, axes):
    """np.transpose(a, axes) as a view: a's shapes and strides in the order of axes (numba's
    own np.transpose with axes, np.moveaxis and np.swapaxes take seconds to compile each)."""
    if not isinstance(a, numba.types.Array):
        return None
    rank = a.ndim

    def view(a, axes):
        if len(axes) != rank:
            raise ValueError("axes don't match array")
        dims, steps, seen = np.array(a.shape), np.array(a.strides), np.zeros(rank, np.bool_)
        shape, strides = np.empty(rank, np.int64), np.empty(rank, np.int64)
        for k in range(rank):
            if not -rank <= axes[k] < rank or seen[axes[k] % rank]:
                raise ValueError("axes are not a permutation of the array's axes")
            seen[axes[k] % rank] = True
            shape[k], strides[k] = dims[axes[k] % rank], steps[axes[k] % rank]
        return np.lib.stride_tricks.as_strided(a, numba.np.unsafe.ndarray.to_fixed_tuple(shape, rank),
                                               numba.np.unsafe.ndarray.to_fixed_tuple(strides, rank))
    return view


@numba.extending.overload(moveaxis)
def moveaxis_compiled(a, source, destination):
    """np.moveaxis of one axis as a view (see transpose_axes_compiled)."""
    if not isinstance(a, numba.types.Array):
        return None
    if not (isinstance(source, numba.types.Integer) and isinstance(destination, numba.types.Integer)):
        return lambda a, source, destination: np.moveaxis(a, source, destination)
    rank = a.ndim

    def view(a, source, destination):
        if not (-rank <= source < rank and -rank <= destination < rank):
            raise ValueError("moveaxis: axis out of bounds")
        s, d = source % rank, destination % rank
        dims, steps = np.array(a.shape), np.array(a.strides)
        shape, strides = np.empty(rank, np.int64), np.empty(rank, np.int64)
        other = 0  # the axes other than s keep their order
        for k in range(rank):
            if k == d:
                shape[k], strides[k] = dims[s], steps[s]
            else:
                other += other == s
                shape[k], strides[k] = dims[other], steps[other]
                other += 1
        return np.lib.stride_tricks.as_strided(a, numba.np.unsafe.ndarray.to_fixed_tuple(shape, rank),
                                               numba.np.unsafe.ndarray.to_fixed_tuple(strides, rank))
    return view


@numba.extending.overload(swapaxes)
def swapaxes_compiled(a, axis1, axis2):
    """np.swapaxes as a view (see transpose_axes_compiled)."""
    if not isinstance(a, numba.types.Array):
        return None
    rank = a.ndim

    def view(a, axis1, axis2):
        if not (-rank <= axis1 < rank and -rank <= axis2 < rank):
            raise ValueError("swapaxes: axis out of bounds")
        shape, strides = np.array(a.shape), np.array(a.strides)
        i, j = axis1 % rank, axis2 % rank
        shape[i], shape[j] = shape[j], shape[i]
        strides[i], strides[j] = strides[j], strides[i]
        return np.lib.stride_tricks.as_strided(a, numba.np.unsafe.ndarray.to_fixed_tuple(shape, rank),
                                               numba.np.unsafe.ndarray.to_fixed_tuple(strides, rank))
    return view


OVERLOADS = {"unbroadcast_directions": [unbroadcast_directions_compiled], "tangent_like": [tangent_like_compiled], "zero_tangents": [zero_tangents_compiled], "cofactor": [cofactor_compiled], "cross_grads": [cross_grads_compiled], "unbroadcast": [sum_to_shape, unbroadcast_compiled], "prod_others": [prod_others_compiled],
             "undiff": [undiff_compiled]}
# NumPy functions (or forms of them) numba lacks, given to it when generated code calls them
NUMPY_OVERLOADS = {"ndim": ndim_compiled, "flip": flip_compiled, "expand_dims": expand_dims_compiled,
                   "reshape": reshape_compiled, "array": array_compiled}
# modules an overload's text needs beyond numba and numba.extending
IMPORTS = {"np.expand_dims": "numba.np.unsafe.ndarray", "transpose_axes": "numba.np.unsafe.ndarray",
           "moveaxis": "numba.np.unsafe.ndarray", "swapaxes": "numba.np.unsafe.ndarray"}
