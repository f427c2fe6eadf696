"""`s2sgrad grad ... --check`: load the written module and compare each derivative with
central finite differences of the function as written, at random points.  This runs code:
the written module (the file's functions and constants) and the derivatives."""
from __future__ import annotations

import importlib.util
import sys
import tempfile
import os

import numpy as np

from ..analysis import kinds

EPS = 1e-6
RTOL, ATOL = 1e-5, 1e-7


def check(text: str, output: str | None, parts, request) -> int:
    print("--check: running the written module (the file's functions and the derivatives)", file=sys.stderr)
    module = _load(text, output)
    failed = 0
    rng = np.random.default_rng(0)
    for part in parts:
        f, d = getattr(module, part.function), getattr(module, part.name)
        worst = 0.0
        for _ in range(3):
            args = [_random(k, rng) for k in part.param_kinds]
            try:
                error = _error(f, d, args, part, request.mode, rng)
            except Exception as exc:  # noqa: BLE001 - the user's function at a random point
                print(f"{part.name}: could not evaluate at a random point: {type(exc).__name__}: {exc}",
                      file=sys.stderr)
                failed += 1
                break
            worst = max(worst, error)
        else:
            ok = worst <= 1.0
            failed += not ok
            print(f"{part.name}: {'ok' if ok else 'MISMATCH'} against central differences at 3 random points "
                  f"(worst error {worst:.2g} of the tolerance)", file=sys.stderr)
    return 1 if failed else 0


def _load(text: str, output: str | None):
    path = output
    if path is None:
        handle, path = tempfile.mkstemp(suffix=".py")
        with os.fdopen(handle, "w") as fh:
            fh.write(text)
    spec = importlib.util.spec_from_file_location("s2sgrad_checked_module", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _random(kind, rng):
    if kind == kinds.SCALAR:
        return float(rng.uniform(0.5, 1.5))
    if kinds.is_list(kind):
        return [float(v) for v in rng.uniform(0.5, 1.5, 3)]
    ndim = kinds.rank(kind) or 1
    return rng.uniform(0.5, 1.5, (3,) * ndim)


def _error(f, d, args, part, mode, rng) -> float:
    """|derivative . v - central difference| over its tolerance, along one random direction."""
    index = [part.params.index(w) for w in part.wrt]
    directions = [_random(kinds.of_value(args[i]), rng) - 1.0 for i in index]

    def at(step):
        moved = list(args)
        for i, v in zip(index, directions):
            moved[i] = (np.asarray(args[i]) + step * np.asarray(v)).tolist() if isinstance(args[i], list) \
                else args[i] + step * v
        return float(f(*moved))

    difference = (at(EPS) - at(-EPS)) / (2 * EPS)
    if mode == "reverse":
        g = d(*args)
        g = g if len(index) > 1 else (g,)
        derivative = sum(float(np.sum(np.asarray(gi) * np.asarray(v))) for gi, v in zip(g, directions))
    else:
        derivative = float(d(*args, *directions)[1])
    return abs(derivative - difference) / (ATOL + RTOL * max(abs(derivative), abs(difference)))
