"""The differential fuzzer's long profile (issue #12): 10,000 random programs through
s2sgrad's reverse and forward modes (every 40th on backend="numba" too), judged against
each other and against finite differences, failures shrunk to minimal reproductions.

    python -m benchmarks.fuzz --programs 10000 --seed 0          # writes benchmarks/results/fuzz.txt
    python -m benchmarks.fuzz --seed 0 --only 123                # one program, its verdict, shrunk

Run from the repository root (the checkout's s2sgrad is the one judged).  --workers
(default 2) judges in that many processes; --numba-every, --shrink-per-class,
--shrink-budget, --config (generator weights, e.g. "statements.while=0") and --out are
described by --help.  The generator, judge and shrinker live in tests/fuzz/ (the CI
profile is tests/fuzz/test_fuzz.py).
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests", "fuzz"))

import fuzzrun  # noqa: E402

if __name__ == "__main__":
    fuzzrun.main()
