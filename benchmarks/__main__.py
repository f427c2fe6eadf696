"""python -m benchmarks [--quick] [--only NAME] [--out DIR]

Every problem (benchmarks/problems/) on every tool, side by side in one process: objective
time, gradient time, their ratio, and whether the gradient matched the reference to 1e-8
(only a match is timed).  The full run writes benchmarks/RESULTS.md and
benchmarks/results/ratios.png; --quick runs small sizes, few repeats, and writes nothing
unless --out is given.  The exit status is 1 when a gradient is WRONG or a line failed.
"""
import os

# one thread everywhere, before NumPy, torch or XLA start theirs
for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(variable, "1")
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

from benchmarks import harness, report  # noqa: E402
from benchmarks.problems import ba, euler, gmm, lstm, mlp  # noqa: E402

PROBLEMS = {"gmm": gmm, "ba": ba, "lstm": lstm, "euler": euler, "mlp": mlp}
FULL_TIMING = {"rounds": 7, "min_time": 0.05}
QUICK_TIMING = {"rounds": 1, "min_time": 0.0}


def run(quick=False, only=None, log=print):
    """Every Result of the chosen problems, and the seconds the run took."""
    start = time.perf_counter()
    results = []
    for name, module in PROBLEMS.items():
        if only and name not in only:
            continue
        for case in module.cases(quick):
            results += harness.measure(case, QUICK_TIMING if quick else FULL_TIMING, log=log)
    return results, time.perf_counter() - start


def failed(results):
    return [r for r in results if r.status in ("WRONG", "error")]


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[1])
    parser.add_argument("--quick", action="store_true", help="small sizes, one repeat: a correctness smoke test")
    parser.add_argument("--only", action="append", choices=sorted(PROBLEMS), help="run this problem (repeatable)")
    parser.add_argument("--out", help="write RESULTS.md and ratios.png here (default: benchmarks/, full runs only)")
    options = parser.parse_args(argv)
    results, seconds = run(options.quick, options.only)
    out = options.out or (None if options.quick or options.only else os.path.dirname(os.path.abspath(__file__)))
    if out:
        report.write(results, seconds, out, quick=options.quick)
        print(f"wrote {os.path.join(out, 'RESULTS.md')}")
    bad = failed(results)
    for result in bad:
        print(f"{result.status}: {result.problem} / {result.tool}: {result.detail or result.error}", file=sys.stderr)
    print(f"{len(results)} lines in {seconds:.0f} s; {len(bad)} WRONG or failed")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
