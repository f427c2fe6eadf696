"""A problem's lines (tools), how each is built, checked and timed.

A Case is one problem instance (say GMM 1k, D=2, K=5) with the reference gradient and
the tools to measure.  A tool's build() returns two calls without arguments, objective()
and gradient(); gradient() returns the derivative as a tuple of arrays (tensors and JAX
arrays are converted before the comparison, outside the timing).  The gradient is
compared with the reference first; only a match within 1e-8 (relative to the largest
reference entry) is timed, objective and gradient alternately (`interleaved`) with
benchmarks/derivatives.py's timer `best`.
"""
import math
import time
import traceback
from dataclasses import dataclass, field

import numpy as np

from benchmarks.derivatives import best
from benchmarks.peers import Missing

TOLERANCE = 1e-8
SLOW = 0.5  # seconds: a gradient this slow is timed once, not best of several


@dataclass
class Tool:
    name: str                     # the table's column: "s2sgrad numba", "JAX", ...
    build: object                 # () -> (objective, gradient), each a call without arguments
    note: str = ""                # e.g. "2,000 of 31,843 observations"


@dataclass
class Case:
    problem: str                  # "GMM 1k D=2 K=5"
    reference: object             # () -> tuple of arrays: the gradient every tool must match
    reference_name: str           # "PyTorch autograd"
    tools: list = field(default_factory=list)


@dataclass
class Result:
    problem: str
    tool: str
    status: str                   # "ok", "WRONG", "missing", "refused", "error"
    objective_s: float = math.nan
    gradient_s: float = math.nan
    error: float = math.nan       # max |gradient - reference| / max |reference|
    note: str = ""
    detail: str = ""              # the refusal's or error's message

    @property
    def ratio(self):
        return self.gradient_s / self.objective_s


def as_arrays(gradient):
    """A gradient (array, tensor, JAX array, number or tuple of them) as one flat float64 array."""
    if not isinstance(gradient, (tuple, list)):
        gradient = (gradient,)
    flat = []
    for part in gradient:
        if hasattr(part, "detach"):
            part = part.detach().numpy()
        flat.append(np.ravel(np.asarray(part, dtype=float)))
    return np.concatenate(flat)


def relative_error(got, want):
    if got.shape != want.shape:
        return math.inf
    scale = np.max(np.abs(want)) or 1.0
    return float(np.max(np.abs(got - want)) / scale)


def measure(case, timing, log=print):
    """One Result per tool of the case, in order; the reference is computed once."""
    want = as_arrays(case.reference())
    results = []
    for tool in case.tools:
        result = measure_tool(case.problem, tool, want, timing)
        log(f"  {case.problem:28s} {tool.name:26s} {describe(result)}")
        results.append(result)
    return results


def measure_tool(problem, tool, want, timing):
    from s2sgrad import S2SGradError
    result = Result(problem, tool.name, "ok", note=tool.note)
    try:
        objective, gradient = tool.build()
        objective()  # compiles, where the tool compiles: never timed
        gradient()
        start = time.perf_counter()
        result.error = relative_error(as_arrays(gradient()), want)
        if time.perf_counter() - start > SLOW:  # seconds a call: one timed call is enough
            timing = {"rounds": 1, "min_time": 0.0}
        if result.error <= TOLERANCE:
            result.objective_s, result.gradient_s = interleaved(objective, gradient, **timing)
        else:
            result.status = "WRONG"
    except Missing as missing:
        result.status, result.detail = "missing", str(missing)
        return result
    except S2SGradError as refusal:
        result.status, result.detail = "refused", f"{type(refusal).__name__}: {refusal}"
        return result
    except Exception as error:  # a peer's or our own failure: reported, the run goes on
        result.status = "error"
        result.detail = f"{type(error).__name__}: {error}\n{traceback.format_exc(limit=3)}"
        return result
    return result


def interleaved(objective, gradient, rounds, min_time):
    """The best objective and gradient times over `rounds` alternations of the two (each a
    `best` of one repeat): on a loaded machine both see the same load, and the ratio holds."""
    objective_s = gradient_s = math.inf
    for _ in range(rounds):
        objective_s = min(objective_s, best(objective, repeat=1, min_time=min_time))
        gradient_s = min(gradient_s, best(gradient, repeat=1, min_time=min_time))
    return objective_s, gradient_s


def describe(result):
    if result.status != "ok":
        return f"{result.status}  {result.detail.splitlines()[0] if result.detail else ''}"[:160]
    return (f"objective {result.objective_s * 1e3:10.3f} ms  gradient {result.gradient_s * 1e3:10.3f} ms  "
            f"ratio {result.ratio:6.2f}  (error {result.error:.1e})")


def data_path(*parts):
    """A file of the ADBench inputs copied into benchmarks/data/adbench ($ADBENCH_DATA overrides)."""
    import os
    here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "adbench")
    return os.path.join(os.environ.get("ADBENCH_DATA", here), *parts)
