"""The public transforms: grad, value_and_grad, vjp (reverse mode), jvp (forward mode),
and jacobian, hessian, hvp built from them.

Each returns a callable that binds its arguments like the original function, promotes
integer inputs of the differentiated parameters to float, and calls the generated code.
Generated code is cached per function: asking twice for the same derivative of an
unchanged function (same code, same globals and closure values) does not regenerate.
"""
from __future__ import annotations

import gc
import html
import inspect
import types

import numpy as np

from . import backends, custom, frontend
from .analysis import kinds
from .arguments import (FieldValues, LiveSignature, as_fields, as_taken, check_dict, flatten, flatten_tangents, gather,
                        is_record, leaves, regroup)
from .arguments import normalize_wrt as _normalize_wrt
from .arguments import promote as _promote
from .backends import load as loader
from .backends import numba as compiled_code
from .backends.assemble import ModuleBuilder
from .cache import DerivativeCache, Fingerprint, dependencies
from .custom import CustomDerivative
from .errors import (ArgumentError, BackendError, CudaSubsetError, CustomRuleError, NonScalarOutputError, OptionError,
                     RankUnknownError, S2SGradError, SourceUnavailableError, UnsupportedCallError, WrtError)
from .teaching.html import code_html
from .transforms.forward import TangentSpec
from .transforms.reverse import AdjointSpec

_CACHE = DerivativeCache()


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

    def __init__(self, f, kind: str, wrt_names: list[str], wrt_is_tuple: bool, variant,
                 backend: str = "python"):
        self.f = f
        self.kind = kind
        self.backend = backend
        self.wrt = wrt_names
        self.wrt_is_tuple = wrt_is_tuple
        # the parameters of the code differentiated, and how a call binds to them: the
        # original function's arguments (defaults included), then the cotangents of the
        # vjps in between, innermost first; a vjp's own cotangent comes last of all
        self.params = list(_signature(f).parameters)
        self.signature = f.signature if isinstance(f, Derivative) else LiveSignature(f)
        self.n_cotangents = len(self.params) - len(self.signature.parameters)
        self._variants = {}
        # variants by the cheap key of calls that needed no binding, promotion or
        # flattening (_fast_key); each is still checked for staleness on every call
        self._by_fast_key: dict = {}
        if isinstance(variant, Exception):  # code waits for a call's argument ranks or dicts' keys
            self.latest_kinds, self.generated, self._deferred = None, None, variant
            self.source = (f"# {kind} of {self.signature_name()}: generated at the first call, "
                           f"for its arguments' kinds ({str(variant).splitlines()[0]})\n")
            self.__name__ = self.__qualname__ = f"{kind}_{getattr(f, '__name__', 'f')}"
        else:
            self._variants[variant.key] = variant
            self._use(variant)

    @property
    def __signature__(self) -> inspect.Signature:
        """How a call binds: the original function's parameters, with its defaults now."""
        return self.signature.get()

    def _use(self, variant):
        self.latest_kinds = variant.param_kinds
        self.generated = variant.fn
        self.source = variant.source
        self.__name__ = self.__qualname__ = variant.fn.__name__
        self.__doc__ = variant.fn.__doc__
        self.__wrapped__ = variant.fn

    def __s2sgrad_function__(self):
        """The generated Python function for the latest call's argument kinds: what a
        function that calls this derivative is differentiated through (frontend)."""
        return self.latest_variant().fn

    def latest_variant(self) -> _Variant:
        """The python code for the latest call's argument kinds (what a derivative of this
        one differentiates before any call of its own)."""
        if self.latest_kinds is None:
            raise self._deferred  # the ranks a call brings are needed first
        return self.variant(self.latest_kinds, target="python")

    def _promoted(self) -> set[str]:
        """Parameters whose integers become floats: what this derivative and the ones it
        differentiates are taken with respect to, and their cotangents."""
        out = set(self.wrt)
        if isinstance(self.f, Derivative):
            out |= self.f._promoted() | set(self.params[len(self.f.params):])
        return out

    def variant(self, param_kinds: tuple, param_types: tuple | None = None,
                target: str | None = None) -> _Variant:
        """The generated code for arguments of these kinds (one per name in .params).

        For a compiled backend it depends on the number types of the arguments too (an
        int's tape holds ints); `target="python"` asks for the plain Python code, which
        is what a derivative of this derivative differentiates.
        """
        target = target or self.backend
        if target == "python":
            param_types = None
        key = (target, param_kinds, param_types)
        found = self._variants.get(key)
        if found is None or found.stale():  # a global, helper, cell or default changed since
            types = dict(zip(self.params, param_types)) if param_types is not None else None
            found = self._variants[key] = _generate(
                self.f, self.wrt, self.kind, dict(zip(self.params, param_kinds)), target, types)
        return found

    def __call__(self, *args, **kwargs):
        variant = None if kwargs else self._by_fast_key.get(_fast_key(args))
        if variant is not None and not variant.stale():
            return self._call_plainly(variant, args)
        return self._call_bound(args, kwargs)

    def _call_plainly(self, variant, args):
        """A call whose arguments are the generated code's as they are: numbers and
        float arrays, positional, one per parameter (then a vjp's cotangent), of kinds
        a call before bound to this variant (which is not stale)."""
        own = ()
        if self.kind == "vjp":
            args, own = args[:-1], (_promote(args[-1]),)
        if variant.fn is not self.generated:
            self._use(variant)
        out = self._run(variant, args, own, lambda: _bind(self, self.signature, args, {}, len(own)))
        return self._returned(out, args)

    def _call_bound(self, args, kwargs):
        fast_key = None if kwargs else _fast_key(args)
        args = list(args)
        own = ()
        if self.kind == "vjp":
            if not args:
                raise ArgumentError("vjp needs the function's arguments followed by a cotangent")
            own = (_promote(args.pop()),)
        elif self.kind in ("jvp", "jvp_batched"):
            n = len(self.wrt)
            if len(args) < n:
                raise ArgumentError(f"jvp needs the function's arguments followed by {n} tangent(s), "
                                f"one per wrt entry ({', '.join(self.wrt)})")
            own = tuple(_promote(_as_float_array(t)) for t in args[len(args) - n:])
            args = args[:len(args) - n]
        inner = []
        if self.n_cotangents:
            if len(args) < self.n_cotangents:
                raise ArgumentError(f"{self!r} needs the function's arguments followed by "
                                f"{self.n_cotangents + len(own)} cotangent(s)")
            inner, args = args[len(args) - self.n_cotangents:], args[:len(args) - self.n_cotangents]
        bound, values, given = self._arguments(args, kwargs, inner, len(own))
        if own and self.kind in ("jvp", "jvp_batched"):  # a dict's (a dataclass's) tangent: one per key
            own = tuple(flatten_tangents(own, [given[w] for w in self.wrt], self.wrt))
        compiled = self.backend != "python"  # its code depends on the number types too
        variant = self.variant(tuple(_kind_of(v) for v in values),
                               tuple(compiled_code.number_type(v) for v in values) if compiled else None)
        if variant.fn is not self.generated:
            self._use(variant)
        # the values the generated code takes: none for a parameter it is specialised on
        # (reach.py), one per key for a dict (frontend/dicts.py)
        passed = flatten(variant.arguments(self.params, values))
        out = self._run(variant, passed, own, lambda: bound)
        if self.kind in ("jvp", "jvp_batched"):
            return out
        if fast_key is not None and self._plain(args, values, passed, variant):
            self._by_fast_key[fast_key] = variant
        return self._returned(out, values)

    def _plain(self, args, values, passed, variant) -> bool:
        """Whether a call's positional arguments (less a vjp's cotangent) went to the
        generated code as they came: one per parameter, none promoted, flattened or
        specialised on.  Then a call with arguments of the same _fast_key binds alike."""
        return (self.kind in ("grad", "value_and_grad", "vjp") and not self.n_cotangents
                and not isinstance(self.f, Derivative) and not variant.static
                and len(args) == len(values) == len(passed)
                and all(a is v is p for a, v, p in zip(args, values, passed)))

    def _run(self, variant, passed, own, bound):
        """The generated code called; `bound()`, the call bound to the function's
        parameters, for what a failure raises."""
        compiled = variant.compiled
        if variant.cotangent_rank is not None and np.ndim(own[-1]) != variant.cotangent_rank:
            name = getattr(self.f, "__name__", "the function")
            raise ValueError(f"the cotangent passed to the vjp of {name} has another shape than "
                             f"{name}'s output: pass one of the output's shape")
        called = variant.rooms if variant.rooms is not None else self.generated
        compiled_before = compiled_code.compiled_count(getattr(called, "work", called)) if compiled else 0
        try:
            return called(*passed, *own)
        except (ZeroDivisionError, OverflowError, ValueError) as exc:
            if compiled or not _raised_by_python_floats(exc):
                raise self._translated(exc, variant, compiled, compiled_before, bound()) from None
            return self._at_a_singular_point(variant, bound(), passed, own)
        except Exception as exc:
            raise self._translated(exc, variant, compiled, compiled_before, bound()) from None

    def _returned(self, out, args):
        """The gradients as a call returns them, shaped like the wrt arguments (`args`:
        one value per parameter)."""
        given = dict(zip(self.params, args))
        out = _as_arguments(out, self.kind, [given[w] for w in self.wrt])
        if self.wrt_is_tuple and len(self.wrt) == 1:  # wrt=(0,) gives a 1-tuple back
            return (out[0], (out[1],)) if self.kind == "value_and_grad" else (out,)
        return out

    def _arguments(self, args, kwargs, inner=(), n_own=0):
        """(the call bound, one value per parameter of the code differentiated, those by
        name): integers promoted, a dataclass taken as wrt as its fields, dicts checked."""
        bound = _bind(self, self.signature, args, kwargs, n_own)
        promoted = self._promoted()
        values = [_promote(v) if name in promoted else v
                  for name, v in zip(self.params, list(bound.arguments.values()) + list(inner))]
        # a dataclass taken as wrt: one argument per field, like a dict (others are objects read live)
        values = [as_fields(name, v) if name in self.wrt and is_record(v) else v
                  for name, v in zip(self.params, values)]
        given = dict(zip(self.params, values))
        if any(isinstance(v, dict) for v in values):
            self._check_dicts(given)
        return bound, values, given

    def flat_code(self, args, kwargs):
        """What a second derivative of a call that brings dicts differentiates: (the
        generated Python function for this call's kinds, whose parameters are the dicts'
        entries one by one, the values it takes, the positions among them of the wrt
        arguments' entries, the wrt arguments as taken: a dict, a dataclass's fields, a value)."""
        _, values, given = self._arguments(args, kwargs)
        variant = self.variant(tuple(_kind_of(v) for v in values), target="python")
        positions, at = {}, 0
        for p, v in zip(self.params, values):
            if p in variant.static:
                continue
            width = len(v) if isinstance(v, dict) else 1
            positions[p] = list(range(at, at + width))
            at += width
        wrt_positions = [i for w in self.wrt for i in positions[w]]
        return (variant.fn, flatten(variant.arguments(self.params, values)), wrt_positions,
                [given[w] for w in self.wrt])

    def _check_dicts(self, given: dict) -> None:
        """Dicts of parameters are flattened for the function differentiated, not yet for
        a derivative's own generated code (whose parameters are the flattened ones)."""
        if isinstance(self.f, Derivative):
            raise ArgumentError(f"{self!r}: a derivative of a derivative does not take dicts yet",
                                hint="pass the dict's entries as separate arguments.")
        for name, v in given.items():
            if isinstance(v, dict):
                check_dict(name, v)
                if name in self.wrt and not v:
                    raise ArgumentError(f"the dict `{name}` is taken as wrt, and it is empty")
                bad = next((k for k, x in v.items() if name in self.wrt and kinds.of_value(x) == kinds.OTHER), None)
                if bad is not None:
                    raise ArgumentError(f"the dict `{name}` is taken as wrt, and its entry {bad!r} is a "
                                        f"{type(v[bad]).__name__}, not a number or an array",
                                        hint="keep options in a dict of their own, not differentiated.")

    def _at_a_singular_point(self, variant, bound, values, own):
        """Where the generated code raised from Python's floats (1/0, sqrt of a negative,
        asin(1.0001)): if the function itself raises here, so does the derivative, with the
        function's error; else the derivative has the IEEE value (inf, nan) that NumPy,
        PyTorch and JAX give, computed by the code printed with NumPy's math."""
        self.f(*bound.args, **bound.kwargs)  # the function's own error, if it has one
        as_numpy = [np.float64(v) if type(v) is float else v for v in values]
        with np.errstate(all="ignore"):
            return variant.ieee_fn()(*as_numpy, *own)

    def _translated(self, exc, variant, compiled, compiled_before, bound):
        """The error a failed call raises: numba's compile failures and the scalar-output
        guard as S2SGradErrors, anything else as it was.  A compile failure says whose
        fault it is: where numba compiles the user's function itself, s2sgrad's."""
        called = variant.rooms.work if variant.rooms is not None else self.generated
        if compiled and compiled_code.failed_to_compile(exc, called, compiled_before):
            user_compiles = None if isinstance(self.f, Derivative) or not inspect.isfunction(self.f) else \
                compiled_code.user_code_compiles(self.f, bound.args, bound.kwargs)
            return compiled_code.compile_error(exc, variant.path, variant.line_positions,
                                               f"{self.kind} of {self.signature_name()}", user_compiles)
        if isinstance(exc, ValueError) and "grad needs a scalar output" in str(exc):  # generated guard
            return NonScalarOutputError(f"{exc}; use s2sgrad.vjp with a cotangent of the output's shape")
        if type(exc) is ValueError and str(exc).startswith("the reverse rule "):  # generated guard
            return CustomRuleError(str(exc))
        return exc

    def signature_name(self) -> str:
        return self.f.__qualname__ if not isinstance(self.f, Derivative) else repr(self.f)

    def __repr__(self):
        backend = f" ({self.backend})" if self.backend != "python" else ""
        return f"<s2sgrad {self.kind} of {self.signature_name()} wrt {', '.join(self.wrt)}{backend}>"

    def _repr_html_(self) -> str:
        """In a notebook: what it is, and its generated code highlighted."""
        return f"<div><p><code>{html.escape(repr(self))}</code></p>{code_html(self.source)}</div>"


def _signature(f) -> inspect.Signature:
    """The parameters of the code a derivative of f differentiates: f's own, or for a
    Derivative those of its generated function (the cotangents of vjps included)."""
    if isinstance(f, Derivative) and f.generated is None:
        raise f._deferred  # its code, and so its parameters, wait for a call's ranks
    code = getattr(f.generated, "py_func", f.generated) if isinstance(f, Derivative) else f
    return inspect.signature(code, follow_wrapped=False)  # a wraps-decorated def's own


def _inner_variant(f, param_kinds: dict | None):
    """For a Derivative f, the variant of its generated Python code for arguments of these
    kinds (None: its latest), which is what a derivative of f differentiates."""
    if not isinstance(f, Derivative):
        return None
    if param_kinds is None:
        return f.latest_variant()
    return f.variant(tuple(param_kinds[p] for p in f.params), target="python")


def _fast_key(args) -> tuple | None:
    """What decides the kinds and number types of arguments that are Python numbers and
    arrays: their types, and an array's rank and dtype (None: other arguments)."""
    key = []
    for a in args:
        t = type(a)
        if t is np.ndarray:
            key.append((a.ndim, a.dtype))
        elif t is float or t is int:
            key.append(t)
        else:
            return None
    return tuple(key)


def _kind_of(v) -> kinds.Kind:
    """An argument's kind; a function or object passed is one the code is specialised on."""
    if isinstance(v, FieldValues):
        return kinds.dict_of(((k, kinds.of_value(x)) for k, x in v.items()), by_attribute=True)
    return kinds.static(v) if frontend.is_static(v) else kinds.of_value(v)


def _raised_by_python_floats(exc: BaseException) -> bool:
    """1.0 / 0.0, 0.0 ** -1, math.sqrt(-1.0), math.exp(1000.0): where NumPy's floats give
    inf or nan instead."""
    if isinstance(exc, (ZeroDivisionError, OverflowError)):
        return True
    return isinstance(exc, ValueError) and str(exc) in ("math domain error", "math range error")


def _bind(caller, signature, args, kwargs, extra: int = 0) -> inspect.BoundArguments:
    """The call's arguments bound to the function's parameters, defaults applied; `extra`
    trailing arguments (a cotangent, the tangents) were taken off already."""
    try:
        bound = signature.bind(*args, **kwargs)
    except TypeError as exc:
        more = f", then {extra} cotangent or tangent argument(s)" if extra else ""
        raise ArgumentError(f"{caller!r} called with arguments that do not fit: {exc}",
                            hint=f"pass the function's arguments {signature.get()}{more}.") from None
    bound.apply_defaults()
    return bound


def _as_arguments(out, kind, args):
    """The gradients, one per wrt argument (a dict's as a dict with the same keys); a
    number's gradient is a float, even where the code computed it as a 0-d array."""
    def fit(g, x):
        if isinstance(x, (int, float, np.number)) and isinstance(g, np.ndarray) and g.ndim == 0:
            return float(g)
        return g
    if kind == "value_and_grad":
        value, g = out
        return value, gather(g, args, fit)
    return gather(out, args, fit)


def _as_float_array(t):
    """A tangent given as a list of numbers is an array; a number stays a number; a
    ragged list (the (W, b) pairs of a list of layers) keeps its structure."""
    if not isinstance(t, (list, tuple)):
        return t
    try:
        return np.asarray(t, dtype=float)
    except ValueError:
        return [_as_float_array(x) for x in t]




def normalize_wrt(f, wrt) -> tuple[list[str], bool]:
    """wrt as parameter names of the code differentiated (a Derivative's generated code)."""
    if isinstance(f, Derivative) and any(kinds.is_dict(k) for k in f.latest_kinds or ()):
        raise ArgumentError(f"{f!r} was called with a dict, and a derivative of a derivative does not "
                            f"take dicts yet", hint="pass the dict's entries as separate arguments.")
    return _normalize_wrt(f, wrt, list(_signature(f).parameters))


def _make(f, wrt, kind: str, backend: str, tape_bound: int | None = None,
          tape_memory: int | None = None) -> Derivative:
    backends.check(backend)
    if backend == "cuda":  # kernels over arrays of points: backends/cuda.py
        if isinstance(f, Derivative):
            raise CudaSubsetError(
                "backend='cuda' differentiates a function of numbers, not a derivative")
        return backends.module("cuda").make(f, wrt, kind, tape_bound, tape_memory)
    if tape_bound is not None or tape_memory is not None:
        raise BackendError(f"{'tape_bound' if tape_bound is not None else 'tape_memory'} is an option of "
                           f"backend='cuda' (per-thread tapes)")
    if isinstance(f, CustomDerivative):
        f = custom.stand_in(f)  # a def calling f: differentiated through f's rule
    if not isinstance(f, Derivative):
        f = frontend.as_function(frontend.unwrap(f))  # a method, partial, numba function: its def
    if not isinstance(f, (types.FunctionType, Derivative)):
        raise SourceUnavailableError(
            f"s2sgrad differentiates Python functions, and {f!r} is a {type(f).__name__} object",
            hint="pass a function defined with def or lambda, a method, a functools.partial "
                 "of one, or a numba @njit function.")
    if isinstance(f, Derivative) and f.latest_kinds is not None and f.latest_variant().static:
        raise UnsupportedCallError(
            f"a derivative of {f!r}, whose code is specialised on the function or object "
            f"passed as {', '.join(sorted(f.latest_variant().static))}, is not supported yet",
            hint="differentiate twice a function that fixes it, `def step_dyn(y, t, h): return "
                 "step(dynamics, y, t, h)`, then s2sgrad.grad(s2sgrad.grad(step_dyn)).")
    names, is_tuple = normalize_wrt(f, wrt)
    key = (f, tuple(names), is_tuple, kind, backend)
    hit = _CACHE.get(key)
    if hit is not None:
        return hit
    try:
        variant = _generate(f, names, kind, None, backend)
    except RankUnknownError as exc:  # guessed kinds left a rank unknown: a call knows it
        return Derivative(f, kind, names, is_tuple, exc, backend)
    except S2SGradError as exc:  # guessed dicts' keys may be wrong (`**opts`): a call knows them
        if isinstance(f, Derivative) or not frontend.guessed_dicts(f):
            raise
        return Derivative(f, kind, names, is_tuple, exc, backend)
    result = Derivative(f, kind, names, is_tuple, variant, backend)
    _CACHE.put(key, variant.deps, result)
    return result


class _Rooms:
    """The tapes of a compiled derivative's last call, lent to its next call
    (transforms/lending.py's `in_rooms`): a tape made anew at each call is fresh memory,
    a page fault every 4 KB at its first writes.  A call that finds none lent (the first,
    or one beside another thread's) makes its own; up to LIMIT bytes are kept."""

    LIMIT = 64 * 2 ** 20

    def __init__(self, work, dtypes):
        self.work, self.free = work, []
        self.empty = tuple(np.empty(0, d) for d in dtypes)  # never written: too small for any tape

    def __call__(self, *args):
        try:
            rooms = self.free.pop()
        except IndexError:
            rooms = self.empty
        out, rooms = self.work(*args, *rooms)
        if not self.free and sum([r.nbytes for r in rooms]) <= self.LIMIT:
            self.free.append(rooms)
        return out


class _Variant:
    """The generated code for one combination of argument kinds (and, for a compiled
    target, number types); `path` and `line_positions` locate a compiled module's lines;
    `deps` is what it was built from (cache.py), checked on every call."""

    def __init__(self, fn, source, key, deps, path=None, line_positions=None, ieee=None,
                 static=frozenset()):
        self.fn, self.source, self.key, self.deps = fn, source, key, deps
        self.static = static  # parameters passed a function or object, bound in the code
        self.param_kinds = key[1]
        self.path, self.line_positions = path, line_positions or {}
        self.compiled = key[0] != "python"
        self.built_from = Fingerprint(deps, contents=self.compiled)
        self._ieee, self._ieee_fn = ieee, None
        self.cotangent_rank = None  # a compiled vjp's: the rank of the output, where known
        self.rooms = None  # a compiled entry's work in lent tapes (_Rooms), where it makes tapes

    def arguments(self, params, values) -> list:
        """The values the generated code takes: those of parameters not bound in it."""
        return [v for p, v in zip(params, values) if p not in self.static]

    def stale(self) -> bool:
        return self.built_from.changed()

    def ieee_fn(self):
        """The same code printed with NumPy's IEEE math (python target only), loaded on
        first use: what a call falls back to where Python's floats raise."""
        if self._ieee_fn is None:
            source, inject, name = self._ieee()
            self._ieee_fn = getattr(loader.load(source, name, inject), name)
        return self._ieee_fn


def _generate(f, names, kind, param_kinds, target="python", param_types=None) -> _Variant:
    # generating code makes many objects that live until it ends (IR, sympy, libcst); the
    # cyclic collector would rescan them again and again (a third of the time for 3,000
    # statements), so it waits until the code is made
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _generate_now(f, names, kind, param_kinds, target, param_types)
    finally:
        if enabled:
            gc.enable()


def _arrays_for_guessed_lists(builder) -> dict | None:
    """The guessed kinds with the parameters guessed to be lists of numbers made arrays,
    or None if none was: `x[0] * x` reads as a list by its subscript, and refusing the
    derivative of a list product before any call brings the real kinds would refuse
    what the call may well allow (an array).  A call with a list still gets its code."""
    guessed = {p: k for p, k in builder.argument_kinds.items() if p in builder._user_params()}
    lists = [p for p, k in guessed.items() if k == kinds.list_of(kinds.SCALAR)]
    if not lists or len(guessed) != len(builder._user_params()):
        return None
    return {p: kinds.ANY_ARRAY if p in lists else k for p, k in guessed.items()}


def _generate_now(f, names, kind, param_kinds, target, param_types) -> _Variant:
    inner = _inner_variant(f, param_kinds)
    f = inner.fn if inner is not None else f
    builder = ModuleBuilder(f, param_kinds, param_types, keeps_values=target == "numba")
    prefix = {"grad": "grad", "value_and_grad": "value_and_grad", "vjp": "vjp", "jvp": "jvp",
              "jvp_batched": "jvp"}[kind]
    params = inspect.signature(f, follow_wrapped=False).parameters
    static = frozenset(p for p in params if kinds.is_static(builder.argument_kinds.get(p)))
    for w in names:
        if w in static:
            raise WrtError(
                f"wrt={w!r}: the argument is a {type(builder.argument_kinds[w].value.obj).__name__} "
                f"object; s2sgrad differentiates with respect to numbers, arrays and lists of them",
                hint=f"its number and array attributes are read as constants; to differentiate "
                     f"with respect to one, pass it as an argument of its own.")
    name = builder.namer.fresh(f"{prefix}_{builder.main.name}")
    try:
        if kind.startswith("jvp"):
            builder.tangent(TangentSpec(names, name, batched=kind == "jvp_batched"))
        else:
            builder.derivative(AdjointSpec(names, kind, name))
    except S2SGradError as exc:
        retry = _arrays_for_guessed_lists(builder) if param_kinds is None and inner is None else None
        if retry is None:
            raise
        try:
            return _generate_now(f, names, kind, retry, target, param_types)
        except S2SGradError:
            raise exc from None
    what = "vector-mode jvp (many tangents at once)" if kind == "jvp_batched" else kind
    shown = f.__qualname__.replace("<lambda>", builder.main.name)
    header = (f"Generated by s2sgrad: {what} of {shown} with respect to {', '.join(names)}.\n\n"
              f"Regenerate rather than edit; it needs only the modules it imports.")
    source, inject = builder.source(header, target)
    used = tuple(builder.argument_kinds[p] for p in params)
    types = tuple(param_types[p] for p in params) if param_types else None
    key = (target, used, types if target != "python" else None)
    # a derivative of a derivative is stale when the code under the inner one is
    deps = dependencies(builder) + (inner.deps if inner is not None else [])
    if target == "python":
        module = loader.load(source, name, inject)
        return _Variant(getattr(module, name), source, key, deps, static=static,
                        ieee=lambda: (*builder.source(header, target, ieee=True), name))
    module = loader.load_file(source, name, inject)
    variant = _Variant(getattr(module, name), source, key, deps, module.__file__, builder.line_positions,
                       static=static)
    if builder.rooms is not None:  # the entry's work, lent the tapes of the call before
        variant.rooms = _Rooms(getattr(module, builder.rooms[0]), builder.rooms[1])
    if kind == "vjp":  # numba types the code by the cotangent's rank: another one is refused first
        main = builder.main.pyfunc
        variant.cotangent_rank = kinds.rank(builder.result_kind(
            main, [builder.param_kinds[p] for p in builder.functions[main].params]))
    return variant


def grad(f, wrt=0, backend: str = "python", *, tape_bound: int | None = None,
         tape_memory: int | None = None) -> Derivative:
    """d f / d wrt as a function: same parameters as f, returns the gradient (a tuple for tuple wrt).

    backend="cuda" takes `tape_bound`, a cap on the room per thread of each tape of a loop (without
    it the call sizes the tapes itself: backends/cuda.py), or `tape_memory`, a budget in bytes for
    all the tapes of a call (a loop is checkpointed to fit: backends/cuda_checkpoints.py)."""
    return _make(f, wrt, "grad", backend, tape_bound, tape_memory)


def value_and_grad(f, wrt=0, backend: str = "python", *, tape_bound: int | None = None,
                   tape_memory: int | None = None) -> Derivative:
    """A function returning (f(...), gradient) from one forward and one reverse sweep."""
    return _make(f, wrt, "value_and_grad", backend, tape_bound, tape_memory)


def jvp(f, wrt=0, backend: str = "python") -> Derivative:
    """A function of f's arguments and one tangent per wrt entry: (f(...), directional derivative).

    Forward mode: the generated code carries a tangent t_x beside every variable x.
    """
    return _make(f, wrt, "jvp", backend)


def vjp(f, wrt=0, backend: str = "python") -> Derivative:
    """A function of f's arguments and a cotangent of f's output: the cotangent pulled back to wrt."""
    return _make(f, wrt, "vjp", backend)


# ---------------------------------------------------------------------- derived transforms
def _unwrap(f):
    """The function under a decorator (or a method's, a partial's: reach.py); a Derivative
    stays itself (its code varies with kinds)."""
    return f if isinstance(f, Derivative) else frontend.as_function(frontend.unwrap(f))


def _batched_tangent(value, t):
    """A list or tuple argument's tangent is a list (tuple) of its elements' tangents, each
    with the directions' leading axis, as the generated code indexes it."""
    if isinstance(value, (list, tuple)):
        return type(value)(t[:, k] for k in range(len(value)))
    return t


class Jacobian:
    """The Jacobian of f with respect to wrt, shaped out.shape + in.shape.

    mode "forward" pushes every input direction through one vector-mode tangent pass;
    "reverse" pulls back one cotangent per output element; "auto" picks the mode with
    fewer passes' worth of work: forward when the inputs have no more elements than the
    output, reverse otherwise.
    """

    def __init__(self, f, wrt, mode: str, backend: str):
        if mode not in ("forward", "reverse", "auto"):
            raise OptionError(f"mode={mode!r}: expected 'forward', 'reverse' or 'auto'")
        self.f, self.mode, self.backend = _unwrap(f), mode, backend
        self.wrt, self.wrt_is_tuple = normalize_wrt(self.f, wrt)
        self.signature = LiveSignature(self.f)
        self._forward = self._reverse = None

    def __call__(self, *args, **kwargs):
        bound = _bind(self, self.signature, args, kwargs)
        # a dict (a dataclass) taken as wrt: one block per entry, gathered in a dict with
        # its keys (out.shape + entry.shape each), as jax.jacrev gives for a dict pytree
        taken = [as_taken(w, bound.arguments[w]) for w in self.wrt]
        inputs = [np.asarray(x, dtype=float) for t in taken for x in leaves(t)]
        mode = self.mode
        if mode == "auto":
            out = np.asarray(self.f(*args, **kwargs))
            mode = "forward" if sum(x.size for x in inputs) <= out.size else "reverse"
        blocks = self._by_forward(bound, inputs, taken) if mode == "forward" else \
            self._by_reverse(bound, inputs)
        blocks = regroup([float(b) if b.ndim == 0 else b for b in blocks], taken)
        return tuple(blocks) if self.wrt_is_tuple else blocks[0]

    def _by_forward(self, bound, inputs, taken):
        if self._forward is None:
            self._forward = _make(self.f, tuple(self.wrt), "jvp_batched", self.backend)
        if sum(x.size for x in inputs) == 0:  # no directions (wrt empty lists): an empty Jacobian
            out = np.asarray(self.f(*bound.args, **bound.kwargs), dtype=float)
            return [np.zeros(out.shape + x.shape) for x in inputs]
        split = [_batched_tangent(v, t) for v, t in
                 zip([v for x in taken for v in leaves(x)], _identity_split(inputs))]
        tangents = regroup(split, taken)  # a dict's tangent is a dict
        _, out_tangent = self._forward(*bound.args, *tangents, **bound.kwargs)
        if isinstance(out_tangent, (tuple, list)):  # a tuple output counts as an array of its items
            out_tangent = np.stack([np.asarray(t, dtype=float) for t in out_tangent], axis=1)
        out_tangent = np.asarray(out_tangent, dtype=float)
        out_shape = out_tangent.shape[1:]
        blocks, start = [], 0
        for x in inputs:
            part = np.moveaxis(out_tangent[start:start + x.size], 0, -1)
            blocks.append(part.reshape(out_shape + x.shape))
            start += x.size
        return blocks

    def _by_reverse(self, bound, inputs):
        if self._reverse is None:
            self._reverse = _make(self.f, tuple(self.wrt), "vjp", self.backend)
        raw = self.f(*bound.args, **bound.kwargs)
        out = np.asarray(raw, dtype=float)
        rows = [[] for _ in inputs]
        for k in range(out.size):  # one cotangent per output element
            cotangent = np.zeros(out.size)
            cotangent[k] = 1.0
            cotangent = cotangent.reshape(out.shape) if out.shape else 1.0
            if isinstance(raw, (tuple, list)):  # a tuple output takes a tuple of cotangents
                cotangent = tuple(float(c) if np.ndim(c) == 0 else c for c in cotangent)
            pulled = [g for per_argument in self._reverse(*bound.args, cotangent, **bound.kwargs)
                      for g in leaves(per_argument)]
            for rows_i, g in zip(rows, pulled):
                rows_i.append(np.asarray(g, dtype=float))
        return [np.array(r).reshape(out.shape + x.shape) for r, x in zip(rows, inputs)]

    def __repr__(self):
        return f"<s2sgrad jacobian of {self.f.__qualname__} wrt {', '.join(self.wrt)} ({self.mode})>"


def jacobian(f, wrt=0, mode: str = "auto", backend: str = "python") -> Jacobian:
    """A function returning d f / d wrt with shape f's output shape + wrt's shape."""
    return Jacobian(f, wrt, mode, backend)


class Hessian:
    """Second derivatives by forward-over-reverse: vector forward mode over grad's code.

    The generated gradient is itself in the subset s2sgrad differentiates, so its
    Jacobian, one vector-mode tangent pass, is the Hessian: shape in.shape + in.shape
    (for a tuple wrt, a tuple of tuples of blocks d2f / dwrt_i dwrt_j).
    """

    def __init__(self, f, wrt, backend: str):
        self.f = _unwrap(f)
        self.wrt, self.wrt_is_tuple = normalize_wrt(self.f, wrt)
        self.backend, self._rows = backend, None

    @property
    def rows(self):
        """The Jacobians of grad's code, made at the first call (after its arguments' checks)."""
        if self._rows is None:
            self._rows = [jacobian(grad(self.f, wrt=w, backend=self.backend), wrt=tuple(self.wrt),
                                   mode="forward", backend=self.backend) for w in self.wrt]
        return self._rows

    def __call__(self, *args, **kwargs):
        if _brings_dicts(self.f, self.wrt, args, kwargs):
            return self._through_flat_code(args, kwargs)
        blocks = [row(*args, **kwargs) for row in self.rows]
        return tuple(blocks) if self.wrt_is_tuple else blocks[0][0]

    def _through_flat_code(self, args, kwargs):
        """With dicts: the Jacobian of grad's generated code, whose parameters are the
        entries one by one, by one vector-mode tangent pass; block (i, j) is d2f / de_i de_j
        for entries e, nested as JAX nests them: {k1: {k2: block}} for a dict wrt."""
        code, passed, positions, taken = grad(self.f, wrt=tuple(self.wrt)).flat_code(args, kwargs)
        inputs = [np.asarray(x, dtype=float) for t in taken for x in leaves(t)]
        tangent = _make(code, tuple(positions), "jvp_batched", self.backend)
        _, out = tangent(*passed, *_identity_split(inputs))
        out = list(out) if len(inputs) > 1 else [out]  # d/dx of each entry's gradient
        sizes = np.cumsum([0] + [x.size for x in inputs])
        rows = []
        for g, x in zip(out, inputs):  # g: (n,) + x.shape, one direction a row
            g = np.asarray(g, dtype=float)
            row = [np.moveaxis(g[a:b], 0, -1).reshape(x.shape + y.shape)
                   for a, b, y in zip(sizes[:-1], sizes[1:], inputs)]
            rows.append(tuple(regroup([float(h) if h.ndim == 0 else h for h in row], taken)))
        # nested as jax.hessian nests them: the wrt structure, each entry's row a tuple over
        # the wrt arguments, H[I][k][J] (one dict wrt: H[k1][k2])
        blocks = regroup(rows, taken)
        if self.wrt_is_tuple:
            return tuple(blocks)
        return {k: row[0] for k, row in blocks[0].items()} if isinstance(blocks[0], dict) else blocks[0][0]

    def __repr__(self):
        return f"<s2sgrad hessian of {self.f.__qualname__} wrt {', '.join(self.wrt)}>"


def _brings_dicts(f, wrt, args, kwargs) -> bool:
    """Whether a call passes a dict, or a dataclass for a wrt parameter: then a second
    derivative differentiates grad's generated code for the call, which takes their
    entries one by one (Derivative.flat_code)."""
    if any(isinstance(v, dict) for v in list(args) + list(kwargs.values())):
        return True
    try:
        bound = inspect.signature(f, follow_wrapped=False).bind(*args, **kwargs)
    except TypeError:
        return False  # the call fails as the derivative's own call would
    return any(is_record(bound.arguments.get(w)) for w in wrt)


def _identity_split(inputs) -> list:
    """The identity over all the inputs' elements, split into one block of directions per
    input: input i's is shaped (n,) + its shape."""
    n = sum(x.size for x in inputs)
    out, start = [], 0
    for x in inputs:
        t = np.zeros((n, x.size))
        t[start:start + x.size] = np.eye(x.size)
        out.append(t.reshape((n,) + x.shape))
        start += x.size
    return out


def hessian(f, wrt=0, backend: str = "python") -> Hessian:
    """A function returning the second derivatives of f, shaped wrt's shape + wrt's shape."""
    return Hessian(f, wrt, backend)


class HessianVectorProduct:
    """H v without forming H: one forward-mode pass over grad's generated code."""

    def __init__(self, f, wrt, backend: str):
        self.f = _unwrap(f)
        self.wrt, self.wrt_is_tuple = normalize_wrt(self.f, wrt)
        self.backend, self._tangent = backend, None
        backends.check(backend)
        if backend == "cuda":
            jvp(self.f, wrt=wrt, backend=backend)  # refused now, as jvp refuses it (grad and value_and_grad only)

    @property
    def tangent(self):
        """jvp of grad's code, made at the first call (after its arguments' checks)."""
        if self._tangent is None:
            self._tangent = jvp(grad(self.f, wrt=tuple(self.wrt), backend=self.backend), wrt=tuple(self.wrt),
                                backend=self.backend)
        return self._tangent

    def __call__(self, *args, **kwargs):
        """hvp(*args, *vectors): one vector per wrt entry, shaped like it (for a dict, a dict
        with its keys; for a dataclass, that or a dataclass of the same class)."""
        n = len(self.wrt)
        if len(args) >= n and _brings_dicts(self.f, self.wrt, args[:len(args) - n], kwargs):
            return self._through_flat_code(list(args[:len(args) - n]), list(args[len(args) - n:]), kwargs)
        _, product = self.tangent(*args, **kwargs)
        if len(self.wrt) > 1:  # the gradient is a tuple, and so is its tangent
            return tuple(product)
        return (product,) if self.wrt_is_tuple else product

    def _through_flat_code(self, args, vectors, kwargs):
        """With dicts: jvp of grad's generated code, which takes their entries one by one,
        with the vectors spread the same way; H v comes back a dict for a dict wrt."""
        code, passed, positions, taken = grad(self.f, wrt=tuple(self.wrt)).flat_code(args, kwargs)
        vectors = flatten_tangents([_promote(_as_float_array(v)) for v in vectors], taken, self.wrt)
        _, out = _make(code, tuple(positions), "jvp", self.backend)(*passed, *vectors)
        product = regroup(list(out) if len(positions) > 1 else [out], taken)
        if len(self.wrt) > 1:
            return tuple(product)
        return (product[0],) if self.wrt_is_tuple else product[0]

    def __repr__(self):
        return f"<s2sgrad hvp of {self.f.__qualname__} wrt {', '.join(self.wrt)}>"


def hvp(f, wrt=0, backend: str = "python") -> HessianVectorProduct:
    """A function of f's arguments and one vector per wrt entry returning H v."""
    return HessianVectorProduct(f, wrt, backend)
