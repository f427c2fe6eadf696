"""analysis.kinds on its own: what each variable holds (a number, an array of some rank,
a list of something), inferred from tiny bodies, joined across branches and loops,
and read off runtime values.

Expected kinds are NumPy's own answers for the statement (the rank of np.sum(x, axis=0)
for a matrix x is 1, of x[:, None] is 3, ...), worked out by hand.  Each function uses
one array primitive a statement, so the lowering adds no temporaries.
"""
# ruff: noqa: F841 - the functions below are inputs to a pass: their variables are what it reads

import itertools

import numpy as np
import pytest

from s2sgrad import ir
from s2sgrad.analysis import kinds
from s2sgrad.analysis.kinds import ANY_ARRAY, OTHER, SCALAR, Kind, array, dict_of, join, list_of, of_value
from s2sgrad.frontend import controlflow, load_program
from s2sgrad.transforms.naming import Namer


def lowered(f):
    fn, _ = load_program(f)
    namer = Namer({fn.name, *fn.params, *ir.assigned_names(fn.body)})
    return controlflow.lower_jumps(fn, namer.fresh)


def infer(f, callee_result=None, **params):
    return kinds.KindInference(lowered(f), params, callee_result).run()


# ---------------------------------------------------------------------- bodies
def numbers(x, n):
    y = x * 2.0
    k = n + 1
    z = y / k
    b = x > 0.0
    return z


def test_numbers():
    env = infer(numbers, x=SCALAR, n=SCALAR)
    assert env == {"x": SCALAR, "n": SCALAR, "y": SCALAR, "k": SCALAR, "z": SCALAR, "b": SCALAR,
                   "result": SCALAR}


def ranks(x):
    s = np.sum(x)
    r = np.sum(x, axis=0)
    t = x.T
    u = x[0]
    v = x[0, 1]
    w = x[:, None]
    e = x * 2.0
    o = np.ones(3)
    b = e + o
    z = np.zeros((2, 3, 4))
    m = x @ t
    q = m @ r
    return s


def test_array_ranks():
    env = infer(ranks, x=array(2))
    expected = {"x": 2, "s": 0, "r": 1, "t": 2, "u": 1, "v": 0, "w": 3, "e": 2, "o": 1, "b": 2, "z": 3,
                "m": 2, "q": 1, "result": 0}
    assert env == {name: array(nd) for name, nd in expected.items()}
    assert array(0) == SCALAR  # a rank-0 result is a number


def test_unknown_rank_stays_unknown():
    env = infer(ranks, x=ANY_ARRAY)
    # a full reduction is a number whatever the rank; constructors know their own rank
    assert env["s"] == SCALAR and env["result"] == SCALAR
    assert env["o"] == array(1) and env["z"] == array(3)
    for name in ("r", "t", "u", "v", "w", "e", "b", "m", "q"):
        assert env[name] == ANY_ARRAY, name


def reduced_too_far(x):
    y = x ** 2
    s = np.sum(y, axis=0)
    t = np.trace(y)
    u = y[0]
    return s


def test_a_rank_below_zero_is_unknown():
    """x guessed a number (before any call): reducing it over axis 0, its trace and x[0]
    would be ranks -1, -2 and -1; they are arrays of unknown rank, never a negative one."""
    env = infer(reduced_too_far, x=SCALAR)
    assert env["y"] == SCALAR
    assert env["s"] == env["t"] == env["u"] == ANY_ARRAY
    assert array(-1) == ANY_ARRAY


def lists(x, xs):
    ys = [x, 1.0]
    ys.append(x * 2.0)
    t = ys[0]
    total = 0.0
    for v in xs:
        total = total + v
    n = len(xs)
    pair = (x, x)
    return total + t


def test_lists_of_numbers():
    env = infer(lists, x=SCALAR, xs=list_of(SCALAR))
    assert env == {"x": SCALAR, "xs": list_of(SCALAR), "ys": list_of(SCALAR), "t": SCALAR,
                   "total": SCALAR, "v": SCALAR, "n": SCALAR, "pair": kinds.tuple_of([SCALAR, SCALAR]), "result": SCALAR}


def arrays_in_lists(a, m):
    hs = [a]
    for i in range(3):
        hs.append(hs[i] * 2.0)
    last = hs[3]
    for h in hs:
        last = last + h
    for row in m:
        last = last + row
    top = hs.pop()
    return last


def test_lists_of_arrays_and_rows_of_an_array():
    env = infer(arrays_in_lists, a=array(1), m=array(2))
    assert env == {"a": array(1), "m": array(2), "hs": list_of(array(1)), "i": SCALAR, "last": array(1),
                   "h": array(1), "row": array(1), "top": array(1), "result": array(1)}


def appended_to_empty(a):
    hs = []
    hs.append(a)
    return hs[0]


def test_an_empty_list_takes_the_kind_of_what_is_appended():
    assert infer(appended_to_empty, a=array(1))["hs"] == list_of(array(1))


def test_an_empty_list_of_numbers():
    env = infer(appended_to_empty, a=SCALAR)
    assert env["hs"] == list_of(SCALAR) and env["result"] == SCALAR


def branches(x, a):
    if x > 0.0:
        p = a
        q = x
        r = a
    else:
        p = a * 2.0
        q = a
        r = np.ones((2, 2))
    return x


def test_joins_across_branches():
    env = infer(branches, x=SCALAR, a=array(1))
    assert env["p"] == array(1)        # the same rank on both paths
    assert env["q"] == ANY_ARRAY       # a number on one, an array on the other
    assert env["r"] == ANY_ARRAY       # rank 1 on one, rank 2 on the other


def grows(x, a):
    s = x
    for i in range(3):
        t = s * 2.0   # reads s before the statement that makes s an array
        s = a
    return x


def test_the_fixpoint_reaches_statements_before_the_change():
    env = infer(grows, x=SCALAR, a=array(1))
    assert env["s"] == ANY_ARRAY and env["t"] == ANY_ARRAY


def helper(a):
    return a * 2.0


def pair(a):
    return a, a


def calls(a):
    h = helper(a)
    u, v = pair(a)
    return h


def test_calls_ask_for_the_callee_result():
    asked = []

    def callee_result(pyfunc, arg_kinds):
        asked.append((pyfunc, arg_kinds))
        return array(1) if pyfunc is helper else list_of(SCALAR)

    env = infer(calls, callee_result, a=array(2))
    assert (helper, [array(2)]) in asked and (pair, [array(2)]) in asked
    assert env["h"] == array(1) and env["result"] == array(1)
    assert env["u"] == SCALAR and env["v"] == SCALAR  # the elements of the list returned


def number_and_array(a):
    s = a[0, 0]
    t = (s, a)
    first = t[0]
    grown = t + (s,)
    return t


def test_a_tuple_keeps_the_kind_of_each_position():
    env = infer(number_and_array, a=array(2))
    assert env["t"] == kinds.tuple_of([SCALAR, array(2)]) and env["t"].elem == ANY_ARRAY
    assert env["first"] == SCALAR  # not "array of unknown rank", the join of both positions
    assert env["grown"] == list_of(ANY_ARRAY)  # another length: the positions are not known
    # unpacking a callee's tuple gives each target its position's kind
    env = infer(calls, lambda pyfunc, arg_kinds: kinds.tuple_of([SCALAR, array(1)]) if pyfunc is pair
                else array(1), a=array(2))
    assert env["u"] == SCALAR and env["v"] == array(1)
    # a tuple joined with one of another length, or with a list, is a list
    assert join(kinds.tuple_of([SCALAR]), kinds.tuple_of([SCALAR, SCALAR])) == list_of(SCALAR)
    assert join(kinds.tuple_of([SCALAR, array(1)]), list_of(SCALAR)) == list_of(ANY_ARRAY)


def test_unpacking_a_result_that_is_no_list_gives_any_array():
    env = infer(calls, lambda pyfunc, arg_kinds: array(1), a=array(2))
    assert env["u"] == ANY_ARRAY and env["v"] == ANY_ARRAY


def guessed(x, xs, n, w):
    s = 0.0
    for v in xs:
        s = s + v
    t = np.sum(x)
    d = w.shape
    return s * n + t


def test_guess_params_from_the_body():
    assert kinds.guess_params(lowered(guessed)) == {"x": ANY_ARRAY, "xs": list_of(SCALAR), "n": SCALAR,
                                                    "w": ANY_ARRAY}


# ---------------------------------------------------------------------- the lattice
SAMPLE = [None, SCALAR, OTHER, ANY_ARRAY, array(1), array(2), Kind("array", 1, dtype="float32"),
          Kind("array", 1, dtype="float64"), list_of(SCALAR), list_of(array(1)), list_of(ANY_ARRAY)]


def test_join_by_hand():
    assert join(None, array(2)) == array(2) and join(array(2), None) == array(2)
    assert join(SCALAR, SCALAR) == SCALAR
    assert join(OTHER, array(1)) == array(1) and join(SCALAR, OTHER) == SCALAR
    assert join(SCALAR, array(1)) == ANY_ARRAY
    assert join(array(1), array(2)) == ANY_ARRAY
    assert join(array(1), ANY_ARRAY) == ANY_ARRAY
    assert join(list_of(SCALAR), list_of(array(1))) == list_of(ANY_ARRAY)
    assert join(list_of(SCALAR), SCALAR) == ANY_ARRAY
    # arrays of one rank and different dtypes: the rank is kept, the dtype is not known
    assert join(Kind("array", 1, dtype="float32"), Kind("array", 1, dtype="float64")) == Kind("array", 1)


def test_join_is_a_join():
    # commutative, associative, idempotent, None the bottom: what the fixpoint relies on
    for a, b in itertools.product(SAMPLE, SAMPLE):
        assert join(a, b) == join(b, a), (a, b)
        assert join(a, join(a, b)) == join(a, b), (a, b)
    for a, b, c in itertools.product(SAMPLE, SAMPLE, SAMPLE):
        assert join(join(a, b), c) == join(a, join(b, c)), (a, b, c)
    for a in SAMPLE:
        assert join(a, a) == a and join(None, a) == a


def test_of_value():
    assert of_value(1.5) == SCALAR and of_value(3) == SCALAR and of_value(True) == SCALAR
    assert of_value(np.float32(1.0)) == SCALAR and of_value(np.int64(2)) == SCALAR and of_value(np.bool_(0)) == SCALAR
    assert of_value(np.ones((2, 3))) == Kind("array", 2, dtype="float64")
    assert of_value(np.ones(4, np.float32)) == Kind("array", 1, dtype="float32")
    assert of_value([1.0, 2]) == list_of(SCALAR) and of_value((1.0, 2.0)) == list_of(SCALAR)
    assert of_value([]) == list_of(SCALAR)
    assert of_value([np.ones(2), np.zeros(3)]) == list_of(Kind("array", 1, dtype="float64"))
    assert of_value([np.ones(2), np.ones((2, 2))]) == list_of(ANY_ARRAY)
    assert of_value([1.0, np.ones(2)]) == list_of(ANY_ARRAY)
    assert of_value([[1.0], [2.0, 3.0]]) == list_of(list_of(SCALAR))
    assert of_value("text") == OTHER and of_value(None) == OTHER
    assert of_value({"a": 1, "W": np.ones(2)}) == dict_of([("a", SCALAR), ("W", Kind("array", 1, dtype="float64"))])


def test_broadcast():
    assert kinds.broadcast([SCALAR, SCALAR]) == SCALAR
    assert kinds.broadcast([SCALAR, array(2)]) == array(2)
    assert kinds.broadcast([array(1), array(3)]) == array(3)
    assert kinds.broadcast([ANY_ARRAY, SCALAR]) == ANY_ARRAY
    assert kinds.broadcast([None, OTHER, SCALAR]) == SCALAR   # unknown and other values do not count
    assert kinds.broadcast([None]) is None
    assert kinds.broadcast([list_of(SCALAR), SCALAR]) == ANY_ARRAY


def test_kinds_print_readably():
    assert [str(k) for k in (SCALAR, array(2), ANY_ARRAY, list_of(array(1)), OTHER)] == \
        ["scalar", "array(ndim=2)", "array(ndim=?)", "list of array(ndim=1)", "other"]
