"""The runtime helpers of numba-compiled code, where runtime.py's NumPy does not compile.

A generated module for the numba target copies each runtime helper it uses (module.py):
- a helper of runtime.py with an overload here (OVERLOADS): runtime.py's plain function,
  then the overload, which gives numba one implementation per combination of argument
  types (unbroadcast needs different code for each pair of ranks);
- a helper whose compiled text is here (COMPILED: typed-tape growth, add_at);
- a NumPy function numba lacks (NUMPY_OVERLOADS: np.ndim): an overload giving it one;
- any other helper of runtime.py: its text, compiled with numba.njit as it is.

Like runtime.py, each helper imports nothing but `np` and `numba`.
"""
import numba
import numba.extending
import numpy as np

from .runtime import unbroadcast

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
    # walk the broadcast shape of g and x: each position adds g's value there into the
    # element of x it was broadcast from (a stride of 0 along broadcast axes)
    g_dims, x_dims = np.array(g.shape), np.array(x.shape)
    rank = max(g_dims.size, x_dims.size)
    shape = np.ones(rank, np.int64)
    g_step, x_step = np.zeros(rank, np.int64), np.zeros(rank, np.int64)
    step = 1
    for a in range(g_dims.size - 1, -1, -1):
        shape[a + rank - g_dims.size] = g_dims[a]
        if g_dims[a] != 1:
            g_step[a + rank - g_dims.size] = step
        step *= g_dims[a]
    step = 1
    for a in range(x_dims.size - 1, -1, -1):
        if x_dims[a] != 1:
            shape[a + rank - x_dims.size] = x_dims[a]
            x_step[a + rank - x_dims.size] = step
        step *= x_dims[a]
    flat = np.ascontiguousarray(g).ravel()
    out = np.zeros(x.size, flat.dtype)
    for p in range(np.prod(shape)):
        rest, at_g, at_x = p, 0, 0
        for a in range(rank - 1, -1, -1):
            i = rest % shape[a]
            rest //= shape[a]
            at_g += i * g_step[a]
            at_x += i * x_step[a]
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


OVERLOADS = {"unbroadcast": [sum_to_shape, unbroadcast_compiled]}
# NumPy functions numba lacks, given to it when generated code calls them
NUMPY_OVERLOADS = {"ndim": ndim_compiled}
