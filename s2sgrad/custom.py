"""Custom derivative rules: a function whose derivative the user writes by hand.

    @s2sgrad.custom_derivative          # or: lgamma = s2sgrad.custom_derivative(math.lgamma)
    def f(x, y): ...

    @f.reverse                          # primal arguments, then the output's cotangent;
    def f_reverse(x, y, g):             # one cotangent per parameter (a bare value for one)
        return g * y, g * x

    @f.forward                          # primal arguments, then one tangent per parameter;
    def f_forward(x, y, t_x, t_y):      # the output's tangent
        return t_x * y + x * t_y

In differentiated code a call to `f` is a call like any other: the generated module calls
`f` in the forward sweep and the rule where the derivative flows, `g_x, g_y =
f_reverse(x, y, d_out)`.  `f`'s own body is never differentiated, so `f` may be a numba
function, a C function or a ufunc without Python source.  The rules are plain Python,
copied into the generated module like the user's helpers.
"""
from __future__ import annotations

import functools
import inspect

import numpy as np

from .errors import ArgumentError, OptionError, SourcePos, UnsupportedCallError

__all__ = ["CustomDerivative", "custom_derivative"]


class CustomDerivative:
    """A callable with hand-written derivative rules; calling it calls `fn`."""

    def __init__(self, fn):
        if not callable(fn):
            raise ArgumentError(f"custom_derivative needs a callable, got {fn!r}")
        if isinstance(fn, CustomDerivative):
            fn = fn.fn
        # name, docstring, module and __wrapped__ of fn (not its __dict__: a numba
        # dispatcher's is its machinery)
        functools.update_wrapper(self, fn, updated=())
        self.__name__ = getattr(fn, "__name__", None) or "custom_fn"
        self.fn = fn
        self.reverse_rule = None
        self.forward_rule = None
        self.version = 0  # bumped by each registration: cached derivatives see the change
        self._stand_in = None

    def __call__(self, *args, **kwargs):
        return self.fn(*args, **kwargs)

    def __copy__(self):  # the IR is deep-copied by the passes: the wrapper is shared
        return self

    def __deepcopy__(self, memo):
        return self

    def __repr__(self):
        return f"<s2sgrad.custom_derivative of {self.__name__}>"

    def reverse(self, rule):
        """Register `rule(*args, g) -> cotangent(s)`; returns `rule` unchanged."""
        self.reverse_rule = _checked_rule(rule, "reverse")
        self.version += 1
        return rule

    def forward(self, rule):
        """Register `rule(*args, *tangents) -> output tangent`; returns `rule` unchanged."""
        self.forward_rule = _checked_rule(rule, "forward")
        self.version += 1
        return rule

    def rule(self, which: str):
        """The registered "reverse" or "forward" rule, or None."""
        if which not in ("reverse", "forward"):
            raise OptionError(f"which must be 'reverse' or 'forward', not {which!r}")
        return self.reverse_rule if which == "reverse" else self.forward_rule

    def params(self) -> list[inspect.Parameter]:
        """The positional parameters a call binds: fn's own, or read off a rule's."""
        fn = self.fn
        try:
            sig = inspect.signature(fn)
        except (TypeError, ValueError):
            sig = None
        if sig is not None:
            params = [p for p in sig.parameters.values()
                      if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
            if isinstance(fn, np.ufunc):
                params = params[:fn.nin]  # a ufunc's `out` is no argument of the math
            if not any(p.kind == p.VAR_POSITIONAL for p in sig.parameters.values()):
                # np.sort(a, axis=-1, kind=None, ...) with a rule of (x, g): the options
                # the rule does not take are not passed (a call that sets them is refused)
                n = self._rule_arity()
                if n is not None and n < len(params) and all(p.default is not p.empty for p in params[n:]):
                    params = params[:n]
                return params
        for which in ("reverse", "forward"):
            rule_params = _positional(self.rule(which))
            if rule_params is not None:
                n = len(rule_params) - 1 if which == "reverse" else len(rule_params) // 2
                return [p.replace(default=p.empty, kind=p.POSITIONAL_OR_KEYWORD)
                        for p in rule_params[:n]]
        raise UnsupportedCallError(
            f"cannot tell the parameters of `{name_of(self)}` (it has no signature)",
            hint=f"register a rule with named parameters (`@{name_of(self)}.reverse` on "
                 f"`def {name_of(self)}_reverse(x, g): ...`).")

    def _rule_arity(self) -> int | None:
        """How many of fn's arguments the registered rules take, if they say."""
        for which in ("reverse", "forward"):
            rule_params = _positional(self.rule(which))
            if rule_params is not None:
                return len(rule_params) - 1 if which == "reverse" else len(rule_params) // 2
        return None

    def signature(self) -> inspect.Signature:
        return inspect.Signature(self.params())


def custom_derivative(fn) -> CustomDerivative:
    """Give `fn` hand-written derivative rules: register them with `.reverse` and `.forward`."""
    return CustomDerivative(fn)


def _positional(rule) -> list | None:
    """A rule's positional parameters; None without a rule or a plain signature."""
    if rule is None:
        return None
    try:
        params = list(inspect.signature(rule).parameters.values())
    except (TypeError, ValueError):
        return None
    if any(p.kind not in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in params):
        return None
    return params


def _checked_rule(rule, which):
    if not callable(rule):
        raise ArgumentError(f"a {which} rule must be a function, got {rule!r}")
    return rule


def name_of(wrapper: CustomDerivative) -> str:
    """A name to print for the wrapper: its function's, or `custom_fn` for a lambda."""
    return wrapper.__name__ if wrapper.__name__.isidentifier() else "custom_fn"


def missing_rule(wrapper: CustomDerivative, which: str, pos: SourcePos | None = None,
                 name: str | None = None):
    """The error for a call a derivative flows through whose `which` rule is missing;
    `name`: how the call spells the function (its own name by default)."""
    name = name or name_of(wrapper)
    try:
        params = [p.name for p in wrapper.params()]
    except UnsupportedCallError:
        params = ["x"]
    if which == "reverse":
        returns = f"the cotangent of {params[0]}" if len(params) == 1 else \
            f"the cotangents of {', '.join(params)} as a tuple"
        example = (f"`@{name}.reverse` above `def {name}_reverse({', '.join(params)}, g): ...` "
                   f"returning {returns} (g times the partial derivative)")
    else:
        tangents = [f"t_{p}" for p in params]
        example = (f"`@{name}.forward` above `def {name}_forward({', '.join(params + tangents)}): "
                   f"...` returning the output's tangent")
    return UnsupportedCallError(
        f"call to `{name}`: it is a custom_derivative with no {which} rule, and a derivative "
        f"flows through it", pos, f"add one: {example}.")


def stand_in(wrapper: CustomDerivative):
    """A def that calls the wrapper, so that grad(wrapper) differentiates through its rule.

    Its source lives in linecache (as generated modules do), so the frontend reads it.
    """
    if wrapper._stand_in is not None and wrapper._stand_in[0] == wrapper.version:
        return wrapper._stand_in[1]
    import linecache

    name = name_of(wrapper)
    params = [p.name for p in wrapper.params()]
    text = f"def {name}({', '.join(params)}):\n    return {name}({', '.join(params)})\n"
    filename = f"<s2sgrad custom_derivative {name} {id(wrapper):x}>"
    linecache.cache[filename] = (len(text), None, text.splitlines(True), filename)
    namespace: dict = {"__name__": f"s2sgrad_custom_{name}"}
    exec(compile(text, filename, "exec"), namespace)  # noqa: S102 - our own two lines
    fn = namespace[name]
    namespace[name] = wrapper  # the body's call resolves to the wrapper, not to the def
    fn.__doc__ = getattr(wrapper, "__doc__", None)
    wrapper._stand_in = (wrapper.version, fn)
    return fn
