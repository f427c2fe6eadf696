"""Judge one generated program: s2sgrad's derivatives against each other and against
finite differences.

For a program (tests/fuzz/fuzzgen.py) the judge

1. writes its module to a real file and imports it (s2sgrad reads source with inspect);
2. draws inputs until f runs without a floating-point error, computes no value above
   LARGEST, and stays at least MARGIN away from every kink and threshold: an instrumented
   copy of the module (`instrument`) records, at the drawn point, the distance of every
   comparison between numbers to a tie, of abs/sign arguments to 0, of maximum/minimum
   and clip operands to each other or their bounds, of max/min reductions to a tied
   maximum, and of sqrt/log/variable-power arguments to 0; programs that find no such
   point in DRAWS draws are discarded (counted, not judged);
3. computes central finite differences of f at two steps (1e-4 and 1e-6), a full
   Jacobian over the wrt inputs; where the two steps disagree the point is not smooth
   enough to judge against them (`fd_skipped`), and only the cross-checks remain;
4. runs reverse mode (grad, value_and_grad, or vjp with a random cotangent: always vjp
   for array and tuple outputs), forward mode (jvp along random tangents) and, for the
   programs chosen for it, both again with backend="numba";
5. judges each: an S2SGradError when the derivative is made or first called is a refusal
   (its class and first line recorded; numba's CompileError is a refusal too, tagged with
   whether numba.njit compiles f itself); any other exception, where f itself ran, is a
   crash; a derivative of the wrong structure (shape, type, tuple length), a value or
   derivative that disagrees with f, with the finite differences or with the other mode
   or backend is wrong; a derivative call that changes the caller's arrays where f leaves
   them alone (or changes its tangents or cotangents at all) mutated them.

A dict argument in wrt is judged key by key: its gradient must be a dict with the same
keys in the same order (each entry of its entry's structure), its jvp tangent is a dict,
and finite differences move one of its numbers at a time.  An object argument (never in
wrt) is held as its fields and built by the module's own class at every call, and a
method target (`Program.method`) is f bound to a new object of its class.
"""
from __future__ import annotations

import ast
import contextlib
import copy
import dataclasses
import importlib.util
import itertools
import math
import os
import re
import signal
import sys
import threading
import tempfile
import traceback
import types
import warnings

import numpy as np

import s2sgrad
from s2sgrad import S2SGradError

MARGIN = 1e-3       # smallest distance from a kink or threshold accepted at a drawn point
LARGEST = 1e4       # largest magnitude a program may compute at a drawn point
DRAWS = 8           # input draws tried before a program is discarded
F_SECONDS = 5       # f itself running longer than this at a draw is discarded (a loop that never ends)
STEPS = (1e-4, 1e-6)  # finite-difference steps; they must agree for the point to be judged
RTOL, ATOL = 1e-5, 1e-6       # derivative against finite differences (ATOL times 1 + scale)
SMOOTH_RTOL, SMOOTH_ATOL = 1e-5, 1e-6  # the two steps against each other
AD_RTOL, AD_ATOL = 1e-8, 1e-10         # one derivative against another (mode, backend)

OUTCOMES = ("ok", "refused", "wrong", "crashed", "mutated")
FAILURES = ("wrong", "crashed", "mutated")


class Timeout(BaseException):
    """Raised by `time_limit`'s alarm; a BaseException so that no `except Exception` eats it."""


@contextlib.contextmanager
def time_limit(seconds, what="judging"):
    """Raise Timeout in the main thread after `seconds` (no limit where signals are
    missing).  Limits nest: an inner one never outlasts the outer, whose alarm is set
    again (less the time spent) when the inner ends."""
    if not seconds or not hasattr(signal, "setitimer") or \
            threading.current_thread() is not threading.main_thread():
        yield
        return
    import time
    outer_left, _ = signal.getitimer(signal.ITIMER_REAL)
    began = time.monotonic()

    def alarm(signum, frame):
        raise Timeout(f"{what} took over {seconds} s")
    previous = signal.signal(signal.SIGALRM, alarm)
    if outer_left and outer_left < seconds:
        signal.signal(signal.SIGALRM, previous)  # the outer alarm comes first: let it ring
        signal.setitimer(signal.ITIMER_REAL, outer_left)
        previous = None
    else:
        signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        if previous is not None:
            signal.signal(signal.SIGALRM, previous)
        if outer_left:
            left = outer_left - (time.monotonic() - began)
            signal.setitimer(signal.ITIMER_REAL, max(left, 1e-3))


# ----------------------------------------------------------------------------- loading
_dir = None
_count = itertools.count()


def module_dir() -> str:
    global _dir
    if _dir is None:
        _dir = tempfile.mkdtemp(prefix="s2sgrad_fuzz_")
    return _dir


def load_module(source: str, tag: str) -> types.ModuleType:
    """The module with this source, written to a fresh file (a unique module name)."""
    name = f"fuzz_{tag}_{os.getpid()}_{next(_count)}"
    path = os.path.join(module_dir(), name + ".py")
    with open(path, "w") as fh:
        fh.write(source)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ----------------------------------------------------------------------------- instrumenting
class _Probe:
    """What an instrumented run saw: the closest approach to a kink, the largest value."""

    def __init__(self):
        self.margin = math.inf
        self.where = ""
        self.largest = 0.0

    def near(self, d, what):
        """Record the distance d (a number or an array) to a kink.  Where it is exactly 0
        everywhere, the two sides are the same function of the inputs (`np.maximum(v, v)`,
        a max over copies of one value, |0|): a tie, but no kink, and not recorded."""
        try:
            a = np.asarray(d, dtype=float)
        except (TypeError, ValueError):
            return
        if a.size and not np.any(a):
            return
        d = _min_abs(a[a != 0]) if a.size else math.inf
        if d < self.margin:
            self.margin, self.where = d, what

    def mag(self, value):
        if isinstance(value, tuple):
            for v in value:
                self.mag(v)
            return
        if isinstance(value, (float, np.floating)) or (
                isinstance(value, np.ndarray) and value.dtype.kind == "f"):
            m = float(np.max(np.abs(value))) if np.size(value) else 0.0
            if not np.isfinite(m):
                m = math.inf
            self.largest = max(self.largest, m)


def _min_abs(d):
    try:
        a = np.asarray(d, dtype=float)
    except (TypeError, ValueError):
        return math.inf
    if a.size == 0:
        return math.inf
    return float(np.min(np.abs(a)))


def _is_float(v):
    if isinstance(v, (bool, np.bool_, int, np.integer)):
        return False
    if isinstance(v, np.ndarray):
        return v.dtype.kind == "f"
    return isinstance(v, (float, np.floating))


def _gap(a, axis, kind):
    """How far a max/min reduction is from a tie between its top two elements."""
    a = np.asarray(a, dtype=float)
    if a.size <= 1:
        return math.inf
    if axis is None:
        r = a.reshape(1, -1)
    else:
        axes = tuple(axis) if isinstance(axis, (tuple, list)) else (axis,)
        axes = tuple(k % a.ndim for k in axes)
        moved = np.moveaxis(a, axes, tuple(range(a.ndim - len(axes), a.ndim)))
        r = moved.reshape(moved.shape[:a.ndim - len(axes)] + (-1,))
    if r.shape[-1] <= 1:
        return math.inf
    s = np.sort(r, axis=-1)
    g = s[..., -1] - s[..., -2] if kind == "max" else s[..., 1] - s[..., 0]
    return float(np.min(g))


_KINK_CALLS = {
    "abs": "zero", "np.abs": "zero", "np.absolute": "zero", "np.fabs": "zero",
    "math.fabs": "zero", "np.sign": "zero",
    "np.maximum": "pair", "np.minimum": "pair", "np.fmax": "pair", "np.fmin": "pair",
    "max": "maxmin", "min": "maxmin",
    "np.max": "reduce", "np.min": "reduce", "np.amax": "reduce", "np.amin": "reduce",
    "np.clip": "clip",
    "np.sqrt": "positive", "math.sqrt": "positive", "np.log": "positive", "math.log": "positive",
    "np.log2": "positive", "np.log10": "positive", "np.log1p": "above-1", "math.log1p": "above-1",
    "np.sort": "sort", "np.mod": "mod", "np.remainder": "mod", "np.fmod": "mod",
}


def _dotted(node):
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return f"{base}.{node.attr}" if base else None
    return None


class _Instrument(ast.NodeTransformer):
    def visit_Compare(self, node):
        self.generic_visit(node)
        if len(node.ops) != 1:
            return node
        op = type(node.ops[0]).__name__
        return ast.Call(ast.Name("_fz_cmp", ast.Load()),
                        [node.left, node.comparators[0], ast.Constant(op)], [])

    def visit_BinOp(self, node):
        self.generic_visit(node)
        if isinstance(node.op, ast.Pow) and not (isinstance(node.right, ast.Constant)
                                                 and float(node.right.value).is_integer()):
            return ast.Call(ast.Name("_fz_pow", ast.Load()), [node.left, node.right], [])
        return node

    def visit_Call(self, node):
        self.generic_visit(node)
        name = _dotted(node.func)
        if name in _KINK_CALLS:
            return ast.Call(ast.Name("_fz_call", ast.Load()),
                            [ast.Constant(_KINK_CALLS[name]), ast.Constant(name), node.func] + node.args,
                            node.keywords)
        if isinstance(node.func, ast.Attribute) and node.func.attr in ("max", "min") \
                and _dotted(node.func.value) not in ("np", "math"):
            return ast.Call(ast.Name("_fz_method", ast.Load()),
                            [node.func.value, ast.Constant(node.func.attr)] + node.args, node.keywords)
        return node

    def visit_Assign(self, node):
        self.generic_visit(node)
        node.value = ast.Call(ast.Name("_fz_mag", ast.Load()), [node.value], [])
        return node


_OPS = {"Lt": lambda a, b: a < b, "Gt": lambda a, b: a > b, "LtE": lambda a, b: a <= b,
        "GtE": lambda a, b: a >= b, "Eq": lambda a, b: a == b, "NotEq": lambda a, b: a != b,
        "In": lambda a, b: a in b, "NotIn": lambda a, b: a not in b,
        "Is": lambda a, b: a is b, "IsNot": lambda a, b: a is not b}


def instrument(source: str, probe: _Probe) -> dict:
    """The namespace of the module run with probes around every kink."""
    tree = _Instrument().visit(ast.parse(source))
    ast.fix_missing_locations(tree)

    def cmp(a, b, op):
        if op in ("Lt", "Gt", "LtE", "GtE", "Eq", "NotEq") and (_is_float(a) or _is_float(b)):
            try:
                probe.near(np.asarray(a, float) - np.asarray(b, float), f"comparison {op}")
            except (TypeError, ValueError):
                pass
        return _OPS[op](a, b)

    def pow_(a, b):
        probe.near(np.asarray(a, float) if np.min(np.asarray(a, float)) > 0 else 0.0,
                   "base of a variable power")
        return a ** b

    def call(kind, name, fn, *args, **kw):
        if kind == "zero":
            probe.near(args[0], name)
        elif kind == "pair" or (kind == "maxmin" and len(args) == 2):
            probe.near(np.asarray(args[0], float) - np.asarray(args[1], float), name)
        elif kind == "maxmin":
            probe.near(_gap(np.asarray(list(args[0]), float), None, name), name)
        elif kind == "reduce":
            probe.near(_gap(args[0], kw.get("axis", args[1] if len(args) > 1 else None),
                            "max" if "max" in name else "min"), name)
        elif kind == "clip":
            x = np.asarray(args[0], float)
            lo = kw.get("a_min", args[1] if len(args) > 1 else None)
            hi = kw.get("a_max", args[2] if len(args) > 2 else None)
            for bound in (lo, hi):
                if bound is not None:
                    probe.near(x - np.asarray(bound, float), name)
        elif kind == "positive":
            a = np.asarray(args[0], float)
            probe.near(np.where(a > 0, a, 0.0), name)
        elif kind == "sort":
            axis = kw.get("axis", args[1] if len(args) > 1 else -1)
            a = np.asarray(args[0], float)
            s = np.sort(a, axis=axis)
            probe.near(np.diff(s, axis=-1 if axis is None else axis) if s.size > 1 else math.inf,
                       "np.sort (a tie)")
        elif kind == "mod":
            r = np.mod(np.asarray(args[0], float), np.asarray(args[1], float))
            probe.near(np.minimum(r, np.abs(np.asarray(args[1], float)) - r), f"{name} (a jump)")
        elif kind == "above-1":
            a = np.asarray(args[0], float) + 1.0
            probe.near(np.where(a > 0, a, 0.0), name)
        return fn(*args, **kw)

    def method(obj, attr, *args, **kw):
        if isinstance(obj, np.ndarray):
            probe.near(_gap(obj, kw.get("axis", args[0] if args else None), attr), f".{attr}()")
        return getattr(obj, attr)(*args, **kw)

    def mag(value):
        probe.mag(value)
        return value

    ns = {"_fz_cmp": cmp, "_fz_pow": pow_, "_fz_call": call, "_fz_method": method,
          "_fz_mag": mag, "__name__": "fuzz_instrumented"}
    exec(compile(tree, "<fuzz instrumented>", "exec"), ns)
    return ns


# ----------------------------------------------------------------------------- values
def flat(value) -> np.ndarray:
    if isinstance(value, dict):
        return flat(list(value.values()))
    if isinstance(value, (tuple, list)):
        return np.concatenate([flat(v) for v in value]) if value else np.zeros(0)
    return np.ravel(np.asarray(value, dtype=float))


def structure(value):
    """A value's structure: ("tuple", parts) | ("array", shape) | ("number",)."""
    if isinstance(value, tuple):
        return ("tuple", tuple(structure(v) for v in value))
    if isinstance(value, np.ndarray) and value.ndim > 0:
        return ("array", value.shape)
    if isinstance(value, (float, int, np.number, np.ndarray)):
        return ("number",)
    return ("other", type(value).__name__)


def random_like(value, rng):
    if isinstance(value, dict):
        return {k: random_like(v, rng) for k, v in value.items()}
    if isinstance(value, tuple):
        return tuple(random_like(v, rng) for v in value)
    if isinstance(value, np.ndarray):
        return rng.standard_normal(value.shape)
    return float(rng.standard_normal())


def same_value(a, b) -> bool:
    """Bitwise equal (NaN equal to NaN): for the mutation checks."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        if not (isinstance(a, np.ndarray) and isinstance(b, np.ndarray)):
            return False
        return a.shape == b.shape and a.dtype == b.dtype and bool(np.array_equal(a, b, equal_nan=True))
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(map(same_value, a, b))
    if isinstance(a, dict):
        return isinstance(b, dict) and list(a) == list(b) and all(same_value(a[k], b[k]) for k in a)
    return a == b or (a != a and b != b)


def close(ad, ref, scale, rtol, atol) -> tuple[bool, float]:
    """(all close, worst error over tolerance)."""
    ad, ref = np.asarray(ad, dtype=float), np.asarray(ref, dtype=float)
    if ad.shape != ref.shape:
        return False, math.inf
    if not np.all(np.isfinite(ad)):
        return False, math.inf
    tol = atol * (1.0 + scale) + rtol * np.maximum(np.abs(ad), np.abs(ref))
    err = np.abs(ad - ref)
    worst = float(np.max(err / tol)) if err.size else 0.0
    return bool(np.all(err <= tol)), worst


def fmt(value, digits=6) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k!r}: {fmt(v, digits)}" for k, v in value.items()) + "}"
    if isinstance(value, tuple):
        return "(" + ", ".join(fmt(v, digits) for v in value) + ("," if len(value) == 1 else "") + ")"
    if isinstance(value, np.ndarray):
        return "np.array(" + np.array2string(value, precision=digits, separator=", ",
                                             max_line_width=10_000).replace("\n", "") + ")"
    if isinstance(value, float):
        return repr(round(value, digits + 4))
    return repr(value)


# ----------------------------------------------------------------------------- verdicts
@dataclasses.dataclass
class Failure:
    outcome: str      # wrong | crashed | mutated
    check: str        # e.g. "reverse-vs-fd", "forward:crash", "numba-forward-vs-python"
    detail: str       # what was seen, printable
    exc: str = ""     # crashes: "NameError: name 'h0' is not defined"
    where: str = ""   # crashes: the innermost frame (file:function)

    @property
    def signature(self):
        return (self.outcome, self.check, self.exc.split(":")[0])


@dataclasses.dataclass
class Verdict:
    outcome: str                   # ok | refused | wrong | crashed | mutated | discarded
    failures: list = dataclasses.field(default_factory=list)
    refusals: list = dataclasses.field(default_factory=list)   # (mode, class, first line)
    fd_skipped: bool = False
    numba: str = ""                # "" (not tried) | "ok" | "refused" | "failed" | "f-not-compiled"
    reason: str = ""               # discarded: why
    seconds: float = 0.0

    def summary(self) -> dict:
        return {"outcome": self.outcome, "fd_skipped": self.fd_skipped, "numba": self.numba,
                "reason": self.reason, "seconds": round(self.seconds, 3),
                "refusals": [list(r) for r in self.refusals],
                "failures": [dataclasses.asdict(f) for f in self.failures]}


def _exc_line(exc) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"[:300]


def _where(exc) -> str:
    tb = traceback.extract_tb(exc.__traceback__)
    for frame in reversed(tb):
        if "s2sgrad" in frame.filename and "fuzz" not in os.path.basename(frame.filename):
            name = frame.filename
            short = name[name.rfind("s2sgrad"):] if "/s2sgrad/" in name else os.path.basename(name)
            return f"{short}:{frame.lineno} in {frame.name}"
    if tb:
        return f"{os.path.basename(tb[-1].filename)}:{tb[-1].lineno} in {tb[-1].name}"
    return ""


def refusal_line(exc) -> str:
    first = str(exc).strip().splitlines()
    return first[0] if first else ""


# ----------------------------------------------------------------------------- the judge
class Judge:
    """Everything about one program at one point; `run()` gives the Verdict."""

    def __init__(self, program, modes=("reverse", "forward"), numba=None, fd=True):
        self.p = program
        self.modes = modes
        self.numba = program.numba if numba is None else numba
        self.fd = fd
        self.rng = np.random.default_rng([program.seed, program.index, 17])
        self.verdict = Verdict("ok")

    # ------------------------------------------------------------------ running f
    def bound(self, where, values):
        """(the function to call, the values with objects built): an object argument is
        built from its fields by the module's own class, and a method target is f bound
        to a new object of its class.  The objects hold the values' own arrays."""
        import fuzzgen
        ns = where if isinstance(where, dict) else vars(where)
        values = dict(values)
        for p in self.p.params:
            if p.kind == "object":
                values[p.name] = ns[fuzzgen.OBJECT_CLASS](**values[p.name])
        if self.p.method:
            return ns[fuzzgen.METHOD_CLASS](**values["self"]).f, values
        return ns["f"], values

    def call_f(self, where, values):
        """f (of the module or namespace `where`) called at a copy of values."""
        fn, values = self.bound(where, copy.deepcopy(values))
        pos, kw = self.p.call_parts(values)
        return fn(*pos, **kw)

    def usable(self, values) -> str:
        """'' when f runs cleanly at values and stays away from kinks, else why not."""
        probe = _Probe()
        try:
            with warnings.catch_warnings(), np.errstate(all="raise"), time_limit(F_SECONDS, "f"):
                warnings.simplefilter("error")
                ns = instrument(self.p.source, probe)
                out = self.call_f(ns, values)
        except Timeout as exc:
            if "f took" not in str(exc):
                raise
            return f"f runs over {F_SECONDS} s"
        except Exception as exc:
            return f"f raises {_exc_line(exc)}"
        probe.mag(out)
        if not np.all(np.isfinite(flat(out))):
            return "f is not finite"
        if probe.largest > LARGEST:
            return f"values up to {probe.largest:.3g}"
        if probe.margin < MARGIN:
            return f"within {probe.margin:.2g} of a kink ({probe.where})"
        return ""

    def prepare(self) -> bool:
        """Draw inputs (unless the program has them); False when no draw is usable."""
        import fuzzgen
        if self.p.args is not None:
            why = self.usable(self.p.args)
            self.verdict.reason = why
            return not why
        rng = np.random.default_rng([self.p.seed, self.p.index])
        why = ""
        for _ in range(DRAWS):
            values = fuzzgen.draw_inputs(self.p, rng)
            why = self.usable(values)
            if not why:
                self.p = self.p.replace(args=values)
                return True
        self.verdict.reason = why
        return False

    def run(self) -> Verdict:
        import time
        start = time.perf_counter()
        try:
            self._run()
        finally:
            self.verdict.seconds = time.perf_counter() - start
        return self.verdict

    def _run(self):
        v = self.verdict
        if not self.prepare():
            v.outcome = "discarded"
            return
        try:
            module = load_module(self.p.source, f"s{self.p.seed}_p{self.p.index}")
        except Exception as exc:  # pragma: no cover - the generator writes valid Python
            v.outcome, v.reason = "discarded", f"module does not load: {_exc_line(exc)}"
            return
        self.module = module
        p = self.p
        self.values = p.args
        before = copy.deepcopy(self.values)
        with np.errstate(all="ignore"):
            self.out = self.call_f(module, self.values)
        # what f leaves in its arguments (f may write into a parameter array)
        probe_args = copy.deepcopy(self.values)
        fn, bound = self.bound(module, probe_args)
        pos, kw = p.call_parts(bound)
        fn(*pos, **kw)
        self.f_after = probe_args
        assert all(same_value(before[k], self.values[k]) for k in before)
        self.wrt = list(p.wrt)
        self.xs = [self.values[w] for w in self.wrt]
        self.scalar_out = structure(self.out) == ("number",)

        # finite differences
        self.J = None
        if self.fd:
            self.J = self.jacobian()
            if self.J is None:
                v.fd_skipped = True

        # the random directions every mode uses
        self.tangents = [random_like(x, self.rng) for x in self.xs]
        self.cotangent = random_like(self.out, self.rng)
        # which reverse-mode call: drawn apart from the directions, so that it stays the
        # same while the shrinker changes the program's shapes
        api_rng = np.random.default_rng([self.p.seed, self.p.index, 5])
        self.api = api_rng.choice(["grad", "grad", "value_and_grad", "vjp"]) if self.scalar_out else "vjp"

        results = {}
        for backend in (("python", "numba") if self.numba else ("python",)):
            if backend == "numba":
                self.numba_f_ok, self.numba_f_error = self.numba_compiles_f()
            for mode in self.modes:
                results[(backend, mode)] = getattr(self, mode)(backend)
        self.compare(results)
        if v.failures:
            order = {"wrong": 0, "crashed": 1, "mutated": 2}
            v.outcome = min((f.outcome for f in v.failures), key=order.get)
        elif any(not mode.startswith("numba") for mode, _, _ in v.refusals):
            v.outcome = "refused"  # numba's refusals alone leave it ok (its own tally)
        if self.numba:
            nb = [r for (b, _), r in results.items() if b == "numba"]
            if not self.numba_f_ok:
                v.numba = "f-not-compiled"
            elif any(f.check.startswith("numba") for f in v.failures):
                v.numba = "failed"
            elif any(r is None for r in nb):
                v.numba = "refused"
            else:
                v.numba = "ok"

    # ------------------------------------------------------------------ finite differences
    def jacobian(self):
        """d flat(f) / d flat(wrt inputs) by central differences, or None if the two
        steps disagree (not smooth enough here to judge)."""
        js = []
        for h in STEPS:
            cols = []
            for name in self.wrt:
                x = self.values[name]
                for k in range(_size(x)):
                    plus, minus = dict(self.values), dict(self.values)
                    plus[name], minus[name] = _bump(x, k, h), _bump(x, k, -h)
                    with np.errstate(all="ignore"):
                        d = (flat(self.call_f(self.module, plus)) - flat(self.call_f(self.module, minus))) / (2 * h)
                    cols.append(d)
            js.append(np.stack(cols, axis=1) if cols else np.zeros((flat(self.out).size, 0)))
        coarse, fine = js
        self.fd_scale = float(np.max(np.abs(fine))) if fine.size else 0.0
        ok, _ = close(coarse, fine, self.fd_scale, SMOOTH_RTOL, SMOOTH_ATOL)
        return fine if ok else None

    # ------------------------------------------------------------------ calling s2sgrad
    def attempt(self, backend, mode, make, call):
        """Run make() then call(d); (result, None) or (None, 'refused'|'crashed')."""
        label = mode if backend == "python" else f"numba-{mode}"
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                d = make()
                return call(d), None
        except Timeout:
            raise
        except S2SGradError as exc:
            cls = type(exc).__name__
            if backend == "numba" and cls == "CompileError":
                cls += "[numba compiles f]" if self.numba_f_ok else "[numba cannot compile f]"
            self.verdict.refusals.append((label, cls, refusal_line(exc)))
            return None, "refused"
        except Exception as exc:
            self.fail("crashed", f"{label}:crash", f"{_exc_line(exc)}\n  at {_where(exc)}",
                      exc=_exc_line(exc), where=_where(exc))
            return None, "crashed"

    def fail(self, outcome, check, detail, exc="", where=""):
        self.verdict.failures.append(Failure(outcome, check, detail, exc, where))

    def reverse(self, backend):
        p = self.p
        label = "reverse" if backend == "python" else "numba-reverse"
        api = self.api
        spec = p.wrt_spec()
        args = copy.deepcopy(self.values)
        cot = copy.deepcopy(self.cotangent)
        cot_keep = copy.deepcopy(cot)
        target, bound = self.bound(self.module, args)

        def make():
            fn = {"grad": s2sgrad.grad, "value_and_grad": s2sgrad.value_and_grad,
                  "vjp": s2sgrad.vjp}[api]
            return fn(target, wrt=spec, backend=backend)

        def call(d):
            pos, kw = p.call_parts(bound)
            if api == "vjp":
                return d(*pos, cot, **kw)
            return d(*pos, **kw)
        out, status = self.attempt(backend, "reverse", make, call)
        if status:
            return None
        self.check_mutation(label, args, {"cotangent": (cot_keep, cot)})
        value = None
        if api == "value_and_grad":
            if not (isinstance(out, tuple) and len(out) == 2):
                self.fail("wrong", f"{label}-structure", f"value_and_grad returned {fmt(out)}")
                return None
            value, out = out
            ok, _ = close(flat(value), flat(self.out), float(np.max(np.abs(flat(self.out)))), 1e-9, 1e-12)
            if not ok:
                self.fail("wrong", f"{label}-value", f"value {fmt(value)}, f gives {fmt(self.out)}")
        grads = self.unpack(out, label)
        if grads is None:
            return None
        ct = self.cotangent if api == "vjp" else 1.0
        return {"grads": grads, "ct": ct}

    def unpack(self, out, label):
        """The per-wrt gradients, after checking their structure against the inputs."""
        several = isinstance(self.p.wrt_spec(), tuple)
        if several:
            if not isinstance(out, tuple) or len(out) != len(self.wrt):
                self.fail("wrong", f"{label}-structure",
                          f"expected a tuple of {len(self.wrt)} gradients, got {fmt(out)}")
                return None
            grads = list(out)
        else:
            grads = [out]
        for name, x, g in zip(self.wrt, self.xs, grads):
            bad = _mismatch(x, g)
            if bad:
                self.fail("wrong", f"{label}-structure",
                          f"gradient for {name}: {bad}, got {fmt(g)} ({type(g).__name__})")
                return None
        return grads

    def forward(self, backend):
        p = self.p
        label = "forward" if backend == "python" else "numba-forward"
        spec = p.wrt_spec()
        args = copy.deepcopy(self.values)
        tans = copy.deepcopy(self.tangents)
        tans_keep = copy.deepcopy(tans)
        target, bound = self.bound(self.module, args)

        def make():
            return s2sgrad.jvp(target, wrt=spec, backend=backend)

        def call(d):
            pos, kw = p.call_parts(bound)
            return d(*pos, *tans, **kw)
        out, status = self.attempt(backend, "forward", make, call)
        if status:
            return None
        self.check_mutation(label, args, {f"tangent of {n}": (a, b) for n, a, b in
                                          zip(self.wrt, tans_keep, tans)})
        if not (isinstance(out, tuple) and len(out) == 2):
            self.fail("wrong", f"{label}-structure", f"jvp returned {fmt(out)}, not (value, tangent)")
            return None
        value, tangent = out
        if structure(value) != structure(self.out) or not close(
                flat(value), flat(self.out), float(np.max(np.abs(flat(self.out)))), 1e-9, 1e-12)[0]:
            self.fail("wrong", f"{label}-value", f"value {fmt(value)}, f gives {fmt(self.out)}")
        if structure(tangent) != structure(self.out):
            self.fail("wrong", f"{label}-structure",
                      f"tangent {fmt(tangent)} has structure {structure(tangent)}, the output "
                      f"{structure(self.out)}")
            return None
        return {"tangent": tangent}

    def check_mutation(self, label, args, extra):
        """A derivative leaves the caller's arrays as they were (README: `x += y` is
        generated as `x = x + y`, and what f writes into an argument by index the reverse
        sweep puts back), except that it may write what f writes into an argument by
        index; tangents and cotangents it never changes."""
        indexed = _index_written(self.p.source)
        for name in self.values:
            now, orig, f_after = args[name], self.values[name], self.f_after[name]
            if same_value(now, orig) or (name in indexed and same_value(now, f_after)):
                continue
            note = ""
            if not same_value(orig, f_after):
                note = (" (f changes it too, but not by index: as f leaves it)" if same_value(now, f_after)
                        else f" (f leaves {fmt(f_after)})")
            self.fail("mutated", f"{label}:mutated",
                      f"argument {name} was {fmt(orig)}, is {fmt(now)} after the call{note}")
        for what, (keep, now) in extra.items():
            if not same_value(keep, now):
                self.fail("mutated", f"{label}:mutated",
                          f"the {what} was {fmt(keep)}, is {fmt(now)} after the call")

    # ------------------------------------------------------------------ comparing
    def compare(self, results):
        J = self.J
        v_flat = flat(self.tangents)
        for backend in ("python", "numba"):
            rev, fwd = results.get((backend, "reverse")), results.get((backend, "forward"))
            prefix = "" if backend == "python" else "numba-"
            if J is not None and rev is not None:
                ad = flat(rev["grads"])
                ref = flat(rev["ct"]) @ J
                ok, worst = close(ad, ref, self.fd_scale * max(1.0, float(np.max(np.abs(flat(rev["ct"]))))),
                                  RTOL, ATOL)
                if not ok:
                    self.fail("wrong", f"{prefix}reverse-vs-fd",
                              f"gradient {fmt(tuple(rev['grads']))}\n  finite differences "
                              f"{fmt(tuple(_split(ref, self.xs)))}"
                              + (f"\n  cotangent {fmt(rev['ct'])}" if self.api == "vjp" else ""))
            if J is not None and fwd is not None:
                ad = flat(fwd["tangent"])
                ref = J @ v_flat
                ok, worst = close(ad, ref, self.fd_scale * max(1.0, float(np.max(np.abs(v_flat)))),
                                  RTOL, ATOL)
                if not ok:
                    self.fail("wrong", f"{prefix}forward-vs-fd",
                              f"tangent {fmt(fwd['tangent'])}\n  finite differences {fmt(ref)}\n"
                              f"  along {fmt(tuple(self.tangents))}")
            if rev is not None and fwd is not None:
                # <grad, v> against <cotangent, tangent>
                a = float(flat(rev["grads"]) @ v_flat)
                b = float(flat(rev["ct"]) @ flat(fwd["tangent"]))
                ok, _ = close(a, b, abs(a) + abs(b), 1e-7, 1e-9)
                if not ok and not any(f.check.startswith(prefix + "reverse-vs") or
                                      f.check.startswith(prefix + "forward-vs") for f in self.verdict.failures):
                    self.fail("wrong", f"{prefix}reverse-vs-forward",
                              f"<gradient, tangent> = {a!r} but <cotangent, jvp> = {b!r}")
        for mode in ("reverse", "forward"):
            py, nb = results.get(("python", mode)), results.get(("numba", mode))
            if py is None or nb is None:
                continue
            key = "grads" if mode == "reverse" else "tangent"
            a, b = flat(tuple(nb[key]) if mode == "reverse" else nb[key]), \
                flat(tuple(py[key]) if mode == "reverse" else py[key])
            ok, _ = close(a, b, float(np.max(np.abs(b))) if b.size else 0.0, AD_RTOL, AD_ATOL)
            if not ok:
                self.fail("wrong", f"numba-{mode}-vs-python",
                          f"numba {fmt(nb[key] if mode == 'forward' else tuple(nb[key]))}\n"
                          f"  python {fmt(py[key] if mode == 'forward' else tuple(py[key]))}")

    # ------------------------------------------------------------------ numba itself
    def numba_compiles_f(self):
        """Does numba.njit compile f itself (its helpers jitted too) at these arguments?"""
        import numba
        try:
            module = load_module(self.p.source, f"njit_s{self.p.seed}_p{self.p.index}")
            for name, obj in list(vars(module).items()):
                if isinstance(obj, types.FunctionType) and obj.__module__ == module.__name__:
                    setattr(module, name, numba.njit(obj))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self.call_f(module, self.values)
            return True, ""
        except Timeout:
            raise
        except Exception as exc:
            return False, _exc_line(exc)


def _index_written(source) -> set:
    """Names f writes into by index (`x[i] = ...`, `x[m] += ...`)."""
    out = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef) and node.name == "f":
            for n in ast.walk(node):
                if isinstance(n, ast.Subscript) and isinstance(n.ctx, ast.Store) \
                        and isinstance(n.value, ast.Name):
                    out.add(n.value.id)
    return out


def _mismatch(x, g) -> str:
    """Why g is not a gradient of the structure of x ('' if it is): a dict gives a dict
    with the same keys in the same order, an array an array of its shape and dtype."""
    if isinstance(x, dict):
        if not isinstance(g, dict) or list(g) != list(x):
            return f"expected a dict with keys {list(x)}"
        for k in x:
            bad = _mismatch(x[k], g[k])
            if bad:
                return f"[{k!r}] {bad}"
        return ""
    if isinstance(x, np.ndarray) and x.ndim > 0:
        if not isinstance(g, np.ndarray) or g.shape != x.shape:
            return f"expected an array of shape {x.shape}"
        if g.dtype != x.dtype:
            return f"expected dtype {x.dtype}"
    elif isinstance(x, np.ndarray):  # 0-d
        if np.ndim(g) != 0 or isinstance(g, (list, tuple)):
            return "expected a 0-d value"
    elif not isinstance(g, (float, np.floating)):
        return "expected a float"
    return ""


def _size(x) -> int:
    """How many numbers x holds (a number counts 1; a dict, its entries' together)."""
    if isinstance(x, dict):
        return sum(_size(v) for v in x.values())
    return max(np.size(x), 1)


def _bump(x, k, h):
    """x with its k-th number (in flat's order) moved by h."""
    if isinstance(x, dict):
        out = dict(x)
        for key, v in x.items():
            if k < _size(v):
                out[key] = _bump(v, k, h)
                return out
            k -= _size(v)
        raise IndexError(k)
    if isinstance(x, np.ndarray):
        y = x.copy()
        y.flat[k] += h
        return y
    return x + h


def _split(flat_values, like):
    out, at = [], 0
    for x in like:
        n = _size(x)
        chunk = flat_values[at:at + n]
        at += n
        if isinstance(x, dict):
            out.append(dict(zip(x, _split(chunk, list(x.values())))))
        else:
            out.append(chunk.reshape(np.shape(x)) if isinstance(x, np.ndarray) else float(chunk[0]))
    return out


def judge(program, **options) -> Verdict:
    return Judge(program, **options).run()
