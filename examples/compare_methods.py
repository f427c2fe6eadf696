"""Symbolic, reverse mode, forward mode and finite differences side by side: the lecture
script (examples/compare.ipynb is the same as a notebook).

Run:  python examples/compare_methods.py  [--plot docs/compare_error_vs_h.png]
"""
import math
import sys

import s2sgrad


def f(x, y):
    return x * x * y + math.sin(x)


def main(argv):
    print("symbolic d f / d x:", s2sgrad.symbolic(f))
    report = s2sgrad.compare(f, 1.5, 2.0, wrt=(0, 1))
    print(report)
    print(s2sgrad.graph(f, 1.5, 2.0))
    if "--plot" in argv:
        report.plot("x", path=argv[argv.index("--plot") + 1])


if __name__ == "__main__":
    main(sys.argv[1:])
