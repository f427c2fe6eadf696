"""backend="numba" gradients of rows of tests/numpy_ops.py, computed in worker processes.

Compiling a row's gradient takes numba seconds (most of test_numba_numpy.py's time),
and each row compiles a module of its own, so the rows are shared among WORKERS
processes (the CI machine's two cores) the way the fuzzer shares its programs:

    python tests/backends/numba_rows.py OUT_DIR K W NAME...

computes rows NAME[K::W] and writes, per row, OUT_DIR/NAME.pickle: ("gradient", value)
or ("raised", exception class name, message).  test_numba_numpy.py then checks each row
against the python backend in its own process.
"""
import os
import pickle
import subprocess
import sys
import zlib

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.dirname(HERE)
ROOT = os.path.dirname(TESTS)
WORKERS = int(os.environ.get("S2SGRAD_TEST_WORKERS", "2"))


def point(c):
    return c.sample(np.random.default_rng(zlib.crc32(c.name.encode())))


def numba_gradient(c):
    """("gradient", value) or ("raised", class name, message) for one row."""
    import s2sgrad
    try:
        return ("gradient", s2sgrad.grad(c.func, wrt=c.wrt, backend="numba")(*point(c)))
    except Exception as exc:  # the test decides whether this row may raise, and what
        return ("raised", type(exc).__name__, str(exc))


def compute(cases, out_dir: str, workers: int = WORKERS) -> dict:
    """{row name: outcome} for these rows, in `workers` processes (1: this one)."""
    if workers <= 1:
        return {c.name: numba_gradient(c) for c in cases}
    names = [c.name for c in cases]
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    env["PYTHONPATH"] = os.pathsep.join([ROOT, TESTS] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    procs = [subprocess.Popen([sys.executable, __file__, out_dir, str(k), str(workers), *names], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for k in range(workers)]
    logs = [p.communicate()[0] for p in procs]
    out = {}
    for name in names:
        path = os.path.join(out_dir, name + ".pickle")
        if os.path.exists(path):
            with open(path, "rb") as f:
                out[name] = pickle.load(f)
        else:  # its worker died first: what it printed is the clue
            out[name] = ("raised", "WorkerDied", "\n".join(log[-3000:] for log in logs))
    return out


def _work(out_dir: str, k: int, workers: int, names: list[str]) -> None:
    import numpy_ops
    by_name = {c.name: c for c in numpy_ops.CASES}
    for name in names[k::workers]:
        outcome = numba_gradient(by_name[name])
        with open(os.path.join(out_dir, name + ".pickle.part"), "wb") as f:
            pickle.dump(outcome, f)
        os.replace(os.path.join(out_dir, name + ".pickle.part"), os.path.join(out_dir, name + ".pickle"))


if __name__ == "__main__":
    _work(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4:])
