"""The public transforms: grad, value_and_grad, vjp.

Each returns a callable that binds its arguments like the original function, promotes
integer inputs of the differentiated parameters to float, and calls the generated code.
Generated code is cached per function: asking twice for the same derivative of an
unchanged function (same code, same globals and closure values) does not regenerate.
"""
from __future__ import annotations

import inspect
import types

import numpy as np

from . import frontend, kinds, loader
from .errors import NonScalarOutputError, SourceUnavailableError, WrtError
from .module import ModuleBuilder
from .reverse import AdjointSpec

_CACHE: dict = {}


class Derivative:
    """A generated derivative: call it like the original function (plus a cotangent for vjp).

    The generated code depends on whether each argument is a number, a list or an array
    (and of which rank): it is generated for the kinds of the arguments it is called
    with, once per combination.  `.source` is the code of the latest call (before any
    call, code for the kinds the function body suggests).

    `f` may itself be a Derivative (grad of grad): the generated code is in the subset
    s2sgrad differentiates, so what is differentiated is the inner derivative's generated
    function for the same argument kinds, and its parameters are the ones wrt names.
    """

    def __init__(self, f, kind: str, wrt_names: list[str], wrt_is_tuple: bool, variant):
        self.f = f
        self.kind = kind
        self.wrt = wrt_names
        self.wrt_is_tuple = wrt_is_tuple
        # the parameters of the code differentiated, and how a call binds to them: the
        # original function's arguments (defaults included), then the cotangents of the
        # vjps in between, innermost first; a vjp's own cotangent comes last of all
        self.params = list(_signature(f).parameters)
        self.signature = f.signature if isinstance(f, Derivative) else inspect.signature(f)
        self.n_cotangents = len(self.params) - len(self.signature.parameters)
        self._variants = {variant.param_kinds: variant}
        self._use(variant)

    def _use(self, variant):
        self.generated = variant.fn
        self.source = variant.source
        self.__name__ = self.__qualname__ = variant.fn.__name__
        self.__doc__ = variant.fn.__doc__
        self.__wrapped__ = variant.fn

    def _promoted(self) -> set[str]:
        """Parameters whose integers become floats: what this derivative and the ones it
        differentiates are taken with respect to, and their cotangents."""
        out = set(self.wrt)
        if isinstance(self.f, Derivative):
            out |= self.f._promoted() | set(self.params[len(self.f.params):])
        return out

    def variant(self, param_kinds: tuple) -> _Variant:
        """The generated code for arguments of these kinds (one per name in .params)."""
        found = self._variants.get(param_kinds)
        if found is None:
            found = self._variants[param_kinds] = _generate(
                self.f, self.wrt, self.kind, dict(zip(self.params, param_kinds)))
        return found

    def __call__(self, *args, **kwargs):
        args = list(args)
        own = ()
        if self.kind == "vjp":
            if not args:
                raise TypeError("vjp needs the function's arguments followed by a cotangent")
            own = (_promote(args.pop()),)
        inner = []
        if self.n_cotangents:
            if len(args) < self.n_cotangents:
                raise TypeError(f"{self!r} needs the function's arguments followed by "
                                f"{self.n_cotangents + len(own)} cotangent(s)")
            inner, args = args[len(args) - self.n_cotangents:], args[:len(args) - self.n_cotangents]
        bound = self.signature.bind(*args, **kwargs)
        bound.apply_defaults()
        promoted = self._promoted()
        values = [_promote(v) if name in promoted else v
                  for name, v in zip(self.params, list(bound.arguments.values()) + inner)]
        variant = self.variant(tuple(kinds.of_value(v) for v in values))
        if variant.fn is not self.generated:
            self._use(variant)
        try:
            out = self.generated(*values, *own)
        except ValueError as exc:
            if "grad needs a scalar output" in str(exc):  # the guard in generated code
                raise NonScalarOutputError(f"{exc}; use s2sgrad.vjp with a cotangent of the "
                                           f"output's shape") from None
            raise
        given = dict(zip(self.params, values))
        out = _as_arguments(out, self.kind, [given[w] for w in self.wrt], len(self.wrt) > 1)
        if self.wrt_is_tuple and len(self.wrt) == 1:  # wrt=(0,) gives a 1-tuple back
            return (out[0], (out[1],)) if self.kind == "value_and_grad" else (out,)
        return out

    def __repr__(self):
        what = self.f.__qualname__ if not isinstance(self.f, Derivative) else repr(self.f)
        return f"<s2sgrad {self.kind} of {what} wrt {', '.join(self.wrt)}>"


def _signature(f) -> inspect.Signature:
    """The parameters of the code a derivative of f differentiates: f's own, or for a
    Derivative those of its generated function (the cotangents of vjps included)."""
    return inspect.signature(f.generated if isinstance(f, Derivative) else f)


def _target(f, param_kinds: dict | None):
    """The Python function to differentiate: f, or the generated function of the
    Derivative f for arguments of these kinds (None: its latest)."""
    if not isinstance(f, Derivative):
        return f
    if param_kinds is None:
        return f.generated
    return f.variant(tuple(param_kinds[p] for p in f.params)).fn


def _as_arguments(out, kind, args, several):
    """A number's gradient is a float, even where the code computed it as a 0-d array."""
    def fit(g, x):
        if isinstance(x, (int, float, np.number)) and isinstance(g, np.ndarray) and g.ndim == 0:
            return float(g)
        return g
    if kind == "value_and_grad":
        value, g = out
        return value, tuple(map(fit, g, args)) if several else fit(g, args[0])
    return tuple(map(fit, out, args)) if several else fit(out, args[0])


def _promote(v):
    """Integers become floats so a derivative is never truncated or typed as int."""
    if isinstance(v, bool):
        return v
    if isinstance(v, int):
        return float(v)
    if isinstance(v, np.ndarray) and v.dtype.kind in "iub":
        return v.astype(float)
    if isinstance(v, list):
        return [_promote(x) for x in v]
    if isinstance(v, tuple):
        return tuple(_promote(x) for x in v)
    return v


def normalize_wrt(f, wrt) -> tuple[list[str], bool]:
    params = list(_signature(f).parameters)
    items = list(wrt) if isinstance(wrt, (tuple, list)) else [wrt]
    names = []
    for w in items:
        if isinstance(w, bool) or not isinstance(w, (int, str)):
            raise WrtError(f"wrt={w!r}: expected a parameter name or position")
        if isinstance(w, int):
            if not -len(params) <= w < len(params):
                raise WrtError(f"wrt={w}: {f.__name__} has {len(params)} parameter(s) {params}")
            w = params[w]
        elif w not in params:
            raise WrtError(f"wrt={w!r}: {f.__name__} has no parameter named {w!r}; "
                           f"its parameters are {params}")
        if w in names:
            raise WrtError(f"wrt names the parameter {w!r} twice")
        names.append(w)
    if not names:
        raise WrtError("wrt is empty: name at least one parameter")
    return names, isinstance(wrt, (tuple, list))


def _make(f, wrt, kind: str, backend: str) -> Derivative:
    if backend != "python":
        raise ValueError(f"backend={backend!r} is not available; this version has backend='python'")
    if not isinstance(f, Derivative):
        f = frontend._unwrap(f)
    if not isinstance(f, (types.FunctionType, Derivative)):
        what = "a bound method" if inspect.ismethod(f) else f"{type(f).__name__} object"
        raise SourceUnavailableError(
            f"s2sgrad differentiates Python functions, and {f!r} is {what}",
            hint="pass a plain function defined with def; for a method, write a function "
                 "that takes the object's values as arguments.")
    names, is_tuple = normalize_wrt(f, wrt)
    key = (f, tuple(names), is_tuple, kind)
    hit = _CACHE.get(key)
    if hit is not None and hit[0] == _fingerprint(hit[1]):
        return hit[2]
    variant = _generate(f, names, kind, None)
    result = Derivative(f, kind, names, is_tuple, variant)
    _CACHE[key] = (_fingerprint(variant.deps), variant.deps, result)
    return result


class _Variant:
    """The generated code for one combination of argument kinds."""

    def __init__(self, fn, source, param_kinds, deps):
        self.fn, self.source, self.param_kinds, self.deps = fn, source, param_kinds, deps


def _generate(f, names, kind, param_kinds) -> _Variant:
    f = _target(f, param_kinds)
    builder = ModuleBuilder(f, param_kinds)
    prefix = {"grad": "grad", "value_and_grad": "value_and_grad", "vjp": "vjp"}[kind]
    name = builder.namer.fresh(f"{prefix}_{f.__name__}")
    builder.derivative(AdjointSpec(names, kind, name))
    header = (f"Generated by s2sgrad: {kind} of {f.__qualname__} with respect to {', '.join(names)}.\n\n"
              f"Regenerate rather than edit; it needs only the modules it imports.")
    source, inject = builder.source(header)
    module = loader.load(source, name, inject)
    used = tuple(builder.param_kinds[p] for p in inspect.signature(f).parameters)
    return _Variant(getattr(module, name), source, used, _dependencies(builder))


def _dependencies(builder) -> list:
    """What the generated code was built from: each function's code and the values it read."""
    deps = []
    for fn in builder.functions.values():
        f = fn.pyfunc
        deps.append((f, None))
        for name in frontend.nonlocal_names(fn):
            deps.append((f, name))
    return deps


def _fingerprint(deps) -> list:
    out = []
    for f, name in deps:
        if name is None:
            out.append(f.__code__)
        else:
            found, value = frontend.resolve_nonlocal(f, name)
            out.append(value if isinstance(value, (int, float, str, bool, tuple, type(None))) else id(value))
    return out


def grad(f, wrt=0, backend: str = "python") -> Derivative:
    """d f / d wrt as a function: same parameters as f, returns the gradient (a tuple for tuple wrt)."""
    return _make(f, wrt, "grad", backend)


def value_and_grad(f, wrt=0, backend: str = "python") -> Derivative:
    """A function returning (f(...), gradient) from one forward and one reverse sweep."""
    return _make(f, wrt, "value_and_grad", backend)


def vjp(f, wrt=0, backend: str = "python") -> Derivative:
    """A function of f's arguments and a cotangent of f's output: the cotangent pulled back to wrt."""
    return _make(f, wrt, "vjp", backend)
