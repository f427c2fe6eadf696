"""controlflow.lower_jumps on its own: break, continue and return made explicit.

Each function below is lowered with the frontend, then the pass runs; the result is
checked twice: its printed text against the structure the pass promises (derived by
hand from the rules in controlflow.py's docstring: a jump whose rest of the iteration
can move into an `else` needs no flag; otherwise a flag, a guard `if not flag:` on the
rest, and `if flag: break` at the end of the loop body), and its values against the
original function's (the lowered function is executed, ending in `return result`).
"""
# ruff: noqa: F841 - the functions below are inputs to a pass: their variables are what it reads

import math

import pytest

from s2sgrad import UnsupportedSyntaxError, ir
from s2sgrad.backends.python import PythonPrinter
from s2sgrad.frontend import controlflow, load_program
from s2sgrad.transforms.naming import Namer


def lowered(f) -> ir.Function:
    fn, _ = load_program(f)
    namer = Namer({fn.name, *fn.params, *ir.assigned_names(fn.body)})
    return controlflow.lower_jumps(fn, namer.fresh)


def text(fn: ir.Function) -> str:
    return PythonPrinter().function(fn)


def run(fn: ir.Function):
    """The lowered function as Python, returning the variable the pass left the result in."""
    with_return = ir.Function(fn.name, fn.params, fn.defaults, fn.body + [ir.Return(ir.Name(fn.result))])
    namespace = {"math": math}
    exec(text(with_return), namespace)
    return namespace[fn.name]


# ---------------------------------------------------------------------- the functions
def straight(x):
    y = x * 2
    return y


def early(x):
    if x > 0:
        return x * 2
    y = x + 1
    return y * y


def first_over(x, n):
    s = 0.0
    for i in range(n):
        s = s + x
        if s > 3.0:
            return s
    return -s


def skip_odd(n):
    s = 0
    for i in range(n):
        if i % 2 == 1:
            continue
        s = s + i
    return s


def skip_flag(n):
    s = 0
    for i in range(n):
        if i > 1:
            if i % 2 == 1:
                continue
            s = s + 10
        s = s + i
    return s


def capped(x, n):
    s = 0.0
    for i in range(n):
        if i > 0:
            s = s * x
            if s > 2.0:
                break
        s = s + x
    return s


def halve(x):
    k = 0
    while x > 1.0:
        x = x / 2.0
        k = k + 1
        if k >= 3:
            break
    return x


def find(n):
    for i in range(n):
        for j in range(n):
            if i * j == 6:
                return i + j
    return -1


def names_taken(x):
    result = x + 1.0        # the user's own `result` and `returned`: the pass picks others
    returned = 2.0
    if x > 0.0:
        return result * returned
    return result


EXPECTED = {
    straight: """\
def straight(x):
    y = x * 2
    result = y
""",
    # the rest moves into the else branch: no flag
    early: """\
def early(x):
    if x > 0:
        result = x * 2
    else:
        y = x + 1
        result = y * y
""",
    # a return inside a loop: a flag, the break kept (nothing follows it in the
    # iteration), and the statements after the loop guarded
    first_over: """\
def first_over(x, n):
    returned = False
    s = 0.0
    for i in range(n):
        s = s + x
        if s > 3.0:
            result = s
            returned = True
            break
    if not returned:
        result = -s
""",
    # continue with the rest of the iteration moved into else: it disappears
    skip_odd: """\
def skip_odd(n):
    s = 0
    for i in range(n):
        if i % 2 == 1:
            pass
        else:
            s = s + i
    result = s
""",
    # continue inside a nested if, more statements after the outer if: a flag reset at
    # the top of each iteration and a guard on the rest
    skip_flag: """\
def skip_flag(n):
    s = 0
    for i in range(n):
        skip = False
        if i > 1:
            if i % 2 == 1:
                skip = True
            else:
                s = s + 10
        if not skip:
            s = s + i
    result = s
""",
    # break in the middle of an iteration: a flag set before the loop, a guard, and the
    # real break at the end of the body
    capped: """\
def capped(x, n):
    s = 0.0
    broke = False
    for i in range(n):
        if i > 0:
            s = s * x
            if s > 2.0:
                broke = True
        if not broke:
            s = s + x
        if broke:
            break
    result = s
""",
    # a break that ends its iteration stays a break
    halve: """\
def halve(x):
    k = 0
    while x > 1.0:
        x = x / 2.0
        k = k + 1
        if k >= 3:
            break
    result = x
""",
    # a return from an inner loop leaves the outer one too
    find: """\
def find(n):
    returned = False
    for i in range(n):
        for j in range(n):
            if i * j == 6:
                result = i + j
                returned = True
                break
        if returned:
            break
    if not returned:
        result = -1
""",
    names_taken: """\
def names_taken(x):
    result = x + 1.0
    returned = 2.0
    if x > 0.0:
        result_1 = result * returned
    else:
        result_1 = result
""",
}

POINTS = {
    straight: [(0.5,), (-2.0,)],
    early: [(1.5,), (-1.5,), (0,)],
    first_over: [(0.5, 3), (0.5, 10), (2.0, 4), (-1.0, 5), (1.0, 0)],
    skip_odd: [(0,), (1,), (6,), (9,)],
    skip_flag: [(0,), (2,), (3,), (7,)],
    capped: [(0.5, 5), (1.5, 5), (3.0, 3), (1.0, 0)],
    halve: [(0.5,), (3.0,), (100.0,)],
    find: [(2,), (3,), (4,), (7,)],
    names_taken: [(1.0,), (-3.0,)],
}


FLAGS = {first_over: {"returned"}, skip_flag: {"skip"}, capped: {"broke"}, find: {"returned"}}


@pytest.mark.parametrize("f", list(EXPECTED), ids=lambda f: f.__name__)
def test_lowered_ir(f):
    assert text(lowered(f)) == EXPECTED[f]


@pytest.mark.parametrize("f", list(POINTS), ids=lambda f: f.__name__)
def test_lowered_function_computes_the_same_values(f):
    g = run(lowered(f))
    for args in POINTS[f]:
        assert g(*args) == f(*args), args


def breaks_end_their_iteration(stmts, last: bool) -> bool:
    """Whether every break in the block is the last statement run in its iteration
    (`last`: nothing follows this block in the iteration)."""
    for k, s in enumerate(stmts):
        at_end = last and k == len(stmts) - 1
        if isinstance(s, ir.Break) and not at_end:
            return False
        if isinstance(s, ir.If) and not all(breaks_end_their_iteration(b, at_end) for b in (s.body, s.orelse)):
            return False
        if isinstance(s, (ir.ForRange, ir.ForEach, ir.While)) and not breaks_end_their_iteration(s.body, True):
            return False
    return True


@pytest.mark.parametrize("f", list(POINTS), ids=lambda f: f.__name__)
def test_only_structured_control_flow_is_left(f):
    fn = lowered(f)
    stmts = list(ir.walk_stmts(fn.body))
    assert not [s for s in stmts if isinstance(s, (ir.Return, ir.Continue))]
    assert breaks_end_their_iteration(fn.body, last=False)
    # the flags the pass adds are bookkeeping, not user statements the reverse sweep
    # differentiates
    flags = ir.assigned_names(fn.body) - ir.assigned_names(load_program(f)[0].body) - {fn.result}
    assert flags == FLAGS.get(f, set())
    for s in stmts:
        if isinstance(s, ir.Assign) and isinstance(s.targets[0], ir.Name) and s.targets[0].id in flags:
            assert s.role == "flag", text(fn)


def test_the_checker_sees_a_break_in_the_middle():
    body = [ir.ForRange(ir.Name("i"), [ir.Const(0), ir.Name("n"), ir.Const(1)],
                        [ir.If(ir.Name("c"), [ir.Break()], []), ir.Assign([ir.Name("s")], [ir.Name("i")])])]
    assert not breaks_end_their_iteration(body, last=False)


def no_return(x):
    y = x * 2


def test_a_function_without_return_is_refused():
    fn, _ = load_program(no_return)
    with pytest.raises(UnsupportedSyntaxError, match="no return statement"):
        controlflow.lower_jumps(fn, Namer({"x", "y"}).fresh)


def test_always_jumps():
    ret, brk = ir.Return(ir.Const(1)), ir.Break()
    assign = ir.Assign([ir.Name("y")], [ir.Const(1)])
    assert controlflow.always_jumps([assign, ret])
    assert controlflow.always_jumps([ir.If(ir.Name("c"), [ret], [brk])])
    assert not controlflow.always_jumps([ir.If(ir.Name("c"), [ret], [assign])])
    assert not controlflow.always_jumps([ret, assign])  # falls off after the assignment
    assert not controlflow.always_jumps([])
