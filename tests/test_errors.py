"""Errors for code s2sgrad cannot differentiate: the right class, a message naming the
construct, the position ``bad_inputs.py:LINE:COL`` of the construct, a caret under it,
and a hint.

The bad functions live in tests/bad_inputs.py.  The line of each offending construct is
marked there with ``# <- here``; the expected line and column are computed from that
file when the test runs, never copied from s2sgrad's output.
"""
import inspect
import math
import os
import sys

import numpy as np
import pytest

import s2sgrad
from s2sgrad import (NonScalarOutputError, RecursiveCallError, S2SGradError,
                     UndefinedNameError, UnsupportedCallError, UnsupportedSyntaxError,
                     WrtError)

sys.path.insert(0, os.path.dirname(__file__))
import bad_inputs  # noqa: E402  (tests/bad_inputs.py, found through the path set above)

MARKER = "# <- here"


# ---------------------------------------------------------------------- helpers
def locate(func, construct):
    """(line, 1-based column, line text) of `construct` on the marked line of `func`'s source."""
    lines, first = inspect.getsourcelines(func)
    marked = [i for i, text in enumerate(lines) if MARKER in text]
    assert len(marked) == 1, f"{func.__qualname__} must mark exactly one line with {MARKER!r}"
    text = lines[marked[0]].rstrip("\n")
    code = text[:text.index(MARKER)]
    assert code.count(construct) == 1, f"{construct!r} must occur once on the marked line: {text!r}"
    return first + marked[0], code.index(construct) + 1, text


def check_error(exc, func, construct, names):
    """Common checks on the raised error: position, source line, caret and hint.

    `func` is the function whose marked line holds the construct, `construct` the text
    the caret must start under, `names` a string the message must contain.
    """
    text = str(exc)
    assert isinstance(exc, S2SGradError)
    assert names in exc.message, f"message should name {names!r}:\n{text}"
    line, col, source = locate(func, construct)
    where = f"bad_inputs.py:{line}:{col}"
    rows = text.splitlines()
    at = [i for i, row in enumerate(rows) if "  at " in row and where in row]
    assert at, f"expected the position {where} (the {construct!r} in {source.strip()!r}):\n{text}"
    i = at[0]
    assert rows[i].rstrip().endswith(func.__name__), f"the position should name {func.__name__}:\n{text}"
    assert i + 2 < len(rows), f"expected the source line and a caret line after {where}:\n{text}"
    shown, caret = rows[i + 1], rows[i + 2]
    assert shown.strip() == source.strip(), f"the source line shown should be {source.strip()!r}:\n{text}"
    assert set(caret.strip()) == {"^"}, f"the line after the source should be a caret line:\n{text}"
    assert caret.index("^") == shown.index(construct), \
        f"the caret should start under {construct!r}:\n{shown}\n{caret}"
    assert exc.hint, f"expected a hint:\n{text}"
    assert "\n  hint: " in text, f"expected a '  hint: ...' line:\n{text}"
    return text


def raised(exc_type, call):
    with pytest.raises(exc_type) as info:
        call()
    return info.value


# ---------------------------------------------------------------------- 1-6: syntax
def test_yield():
    exc = raised(UnsupportedSyntaxError, lambda: s2sgrad.grad(bad_inputs.gen_square)(1.5))
    check_error(exc, bad_inputs.gen_square, "yield", "yield")


def test_async_def():
    exc = raised(UnsupportedSyntaxError, lambda: s2sgrad.grad(bad_inputs.async_square)(1.5))
    check_error(exc, bad_inputs.async_square, "async def", "async")


def test_nested_def():
    exc = raised(UnsupportedSyntaxError, lambda: s2sgrad.grad(bad_inputs.nested_def)(1.5))
    check_error(exc, bad_inputs.nested_def, "def inner", "function defined inside a block")


def test_nested_class():
    exc = raised(UnsupportedSyntaxError, lambda: s2sgrad.grad(bad_inputs.nested_class)(1.5))
    check_error(exc, bad_inputs.nested_class, "class Box", "class")


def test_global_write():
    exc = raised(UnsupportedSyntaxError, lambda: s2sgrad.grad(bad_inputs.global_write)(1.5))
    check_error(exc, bad_inputs.global_write, "global COUNTER", "global")


def test_nonlocal_write():
    exc = raised(UnsupportedSyntaxError, lambda: s2sgrad.grad(bad_inputs.accumulate)(1.5))
    check_error(exc, bad_inputs.accumulate, "nonlocal total", "nonlocal")


# ---------------------------------------------------------------------- 7: recursion
def test_direct_recursion():
    exc = raised(RecursiveCallError, lambda: s2sgrad.grad(bad_inputs.fact)(1.5, 3))
    check_error(exc, bad_inputs.fact, "fact(x, n - 1)", "fact")
    assert "recursi" in exc.message


def test_mutual_recursion():
    # grad(ping) loads ping, then pong; pong's call to ping closes the cycle.
    exc = raised(RecursiveCallError, lambda: s2sgrad.grad(bad_inputs.ping)(1.5, 3))
    check_error(exc, bad_inputs.pong, "ping(x, n - 1)", "ping")
    assert "pong" in exc.message and "recursi" in exc.message


# ---------------------------------------------------------------------- 8: exec / eval
def test_exec():
    exc = raised(UnsupportedSyntaxError, lambda: s2sgrad.grad(bad_inputs.uses_exec)(1.5))
    check_error(exc, bad_inputs.uses_exec, "exec", "exec()")


def test_eval():
    exc = raised(UnsupportedSyntaxError, lambda: s2sgrad.grad(bad_inputs.uses_eval)(1.5))
    check_error(exc, bad_inputs.uses_eval, "eval", "eval()")


# ---------------------------------------------------------------------- 9: calls with no rule
def _check_rule_hint(exc):
    assert "rule" in exc.hint and "stop_gradient" in exc.hint, exc.hint
    assert "s2sgrad.custom_derivative(" in exc.hint, exc.hint


def test_active_gamma_call():
    exc = raised(UnsupportedCallError, lambda: s2sgrad.grad(bad_inputs.gamma_active)(1.5))
    check_error(exc, bad_inputs.gamma_active, "math.gamma(x)", "math.gamma")
    _check_rule_hint(exc)


def test_active_lgamma_call():
    exc = raised(UnsupportedCallError, lambda: s2sgrad.grad(bad_inputs.lgamma_active)(1.5))
    check_error(exc, bad_inputs.lgamma_active, "math.lgamma(x)", "math.lgamma")
    _check_rule_hint(exc)


def test_active_gamma_call_through_a_local():
    # the argument is active through t = 2x + 1, not by naming x: still an error
    exc = raised(UnsupportedCallError, lambda: s2sgrad.grad(bad_inputs.gamma_active_indirect)(1.5))
    check_error(exc, bad_inputs.gamma_active_indirect, "math.gamma(t)", "math.gamma")
    _check_rule_hint(exc)


def test_gamma_of_a_constant_is_fine():
    g = s2sgrad.grad(bad_inputs.gamma_of_constant)
    assert g(1.5) == pytest.approx(math.gamma(3.0))  # d/dx x * 2 = 2
    assert g(-0.25) == pytest.approx(2.0)


def test_gamma_of_an_inactive_parameter_is_fine():
    g = s2sgrad.grad(bad_inputs.gamma_of_inactive_param, wrt=0)
    for x, n in [(1.5, 4), (-0.5, 2.5)]:
        assert g(x, n) == pytest.approx(2 * x * math.gamma(n))
    # and it agrees with finite differences of the function itself
    f, x, n, h = bad_inputs.gamma_of_inactive_param, 0.7, 3.5, 1e-6
    assert g(x, n) == pytest.approx((f(x + h, n) - f(x - h, n)) / (2 * h), rel=1e-6)


def test_lgamma_of_an_inactive_local_is_fine():
    g = s2sgrad.grad(bad_inputs.gamma_of_inactive_local, wrt="x")
    assert g(1.5, 4) == pytest.approx(math.lgamma(5))
    assert g(-2.0, 2.5) == pytest.approx(math.lgamma(3.5))


# ---------------------------------------------------------------------- 10: tuple output
def test_tuple_output_to_grad():
    exc = raised(NonScalarOutputError, lambda: s2sgrad.grad(bad_inputs.pair)(1.5))
    text = check_error(exc, bad_inputs.pair, "return", "pair")
    assert "vjp" in text and "cotangent" in text, text


def test_tuple_output_through_vjp():
    v = s2sgrad.vjp(bad_inputs.pair)
    # pair(x) = (x*x, 3x): the cotangent (a, b) pulls back to a * 2x + b * 3
    assert v(2.0, (1.0, 0.0)) == pytest.approx(4.0)
    assert v(2.0, (0.0, 1.0)) == pytest.approx(3.0)
    assert v(-1.5, (0.5, 2.0)) == pytest.approx(0.5 * -3.0 + 2.0 * 3.0)


# ---------------------------------------------------------------------- 11: undefined name
def test_undefined_name():
    exc = raised(UndefinedNameError, lambda: s2sgrad.grad(bad_inputs.undefined_name)(1.5))
    check_error(exc, bad_inputs.undefined_name, "no_such_name_anywhere", "no_such_name_anywhere")


# ---------------------------------------------------------------------- 12: lambda, comprehension
def test_lambda_in_body():
    exc = raised(UnsupportedSyntaxError, lambda: s2sgrad.grad(bad_inputs.lambda_in_body)(1.5))
    check_error(exc, bad_inputs.lambda_in_body, "lambda", "lambda inside a larger expression")
    # a loop is no replacement for a lambda: the hint should say to name it
    assert "assign it to a name" in exc.hint, exc.hint


def test_comprehension_in_body():
    exc = raised(UnsupportedSyntaxError,
                 lambda: s2sgrad.grad(bad_inputs.comprehension_in_body)([1.5, 2.0]))
    check_error(exc, bad_inputs.comprehension_in_body, "{k: t * t for k, t in enumerate(xs)}",
                "dict comprehension")
    assert "loop" in exc.hint, exc.hint


# ---------------------------------------------------------------------- 13: wrt
def test_wrt_position_out_of_range():
    # no source construct is at fault here, so no position is asked for
    exc = raised(WrtError, lambda: s2sgrad.grad(bad_inputs.one_param, wrt=5))
    assert "5" in exc.message and "one_param" in exc.message and "'x'" in exc.message, str(exc)
    assert exc.hint and "\n  hint: " in str(exc)


def test_wrt_unknown_name():
    exc = raised(WrtError, lambda: s2sgrad.grad(bad_inputs.one_param, wrt="nope"))
    assert "'nope'" in exc.message and "'x'" in exc.message, str(exc)
    assert exc.hint and "\n  hint: " in str(exc)


# ---------------------------------------------------------------------- 14: lambda to grad
def test_lambda_given_to_grad_from_a_file():
    # its lines are a piece of a larger expression (lambdas that parse work:
    # tests/frontend/test_reach_functions.py)
    exc = raised(S2SGradError, lambda: s2sgrad.grad(bad_inputs.square_lambda)(1.5))
    check_error(exc, bad_inputs.square_lambda, "lambda x", "larger expression")
    assert exc.hint and "\n  hint: " in str(exc)


# ---------------------------------------------------------------------- 15: with, try, *args
def test_with_block():
    exc = raised(UnsupportedSyntaxError, lambda: s2sgrad.grad(bad_inputs.with_block)(1.5))
    check_error(exc, bad_inputs.with_block, "with", "with")


def test_try_block():
    exc = raised(UnsupportedSyntaxError, lambda: s2sgrad.grad(bad_inputs.try_block)(1.5))
    check_error(exc, bad_inputs.try_block, "try", "try")


def test_star_args():
    exc = raised(UnsupportedSyntaxError, lambda: s2sgrad.grad(bad_inputs.star_args)(1.5))
    check_error(exc, bad_inputs.star_args, "*rest", "*args")


def test_star_kwargs_gathers_a_dict():
    # once refused: `**options` is a dict of the call's extra keywords (tests/test_dicts.py)
    assert s2sgrad.grad(bad_inputs.star_kwargs)(1.5) == 3.0
    assert s2sgrad.grad(bad_inputs.star_kwargs, wrt="options")(1.5, scale=2.0) == {"scale": 0.0}


@pytest.mark.parametrize("target", [math.sin, abs, np.add], ids=["builtin", "abs", "ufunc"])
def test_only_plain_functions_are_differentiated(target):
    with pytest.raises(s2sgrad.SourceUnavailableError, match="differentiates Python functions") as info:
        s2sgrad.grad(target)
    assert info.value.hint


@pytest.mark.parametrize("backend", ["python", "numba"])
def test_a_write_into_a_global_or_a_closures_array_is_refused(backend):
    """It used to be ignored: the gradient read the global as the constant it was before
    the call (found by an adversarial run)."""
    exc = raised(UnsupportedSyntaxError,
                 lambda: s2sgrad.grad(bad_inputs.global_element_write, backend=backend)(1.5))
    check_error(exc, bad_inputs.global_element_write, "SCALES[0]", "global")
    assert bad_inputs.SCALES == [1.0, 2.0]  # refused before anything ran


def test_a_write_into_a_closures_list_is_refused():
    """A nested function's closure variables are its arguments: refused as a write into one."""
    exc = raised(UnsupportedSyntaxError, lambda: s2sgrad.grad(bad_inputs.closure_element_write)(1.5))
    assert "writes into its argument `buf` in place" in exc.message
