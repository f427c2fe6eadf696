"""s2sgrad quickstart: print a function's generated gradient code and evaluate it.

Run:  python examples/quickstart.py
"""
import math

import s2sgrad


def f(x):
    return x * x + math.sin(x)


def newton_sqrt(a):
    """sqrt(a) by Newton's method: a loop whose trip count depends on the data."""
    x = a if a > 1.0 else 1.0
    while abs(x * x - a) > 1e-12 * a:
        x = 0.5 * (x + a / x)
    return x


def main():
    g = s2sgrad.grad(f)
    print(g.source)
    x = 1.5
    print(f"grad(f)({x}) = {g(x):.15f}")
    print(f"by hand 2x + cos(x) = {2 * x + math.cos(x):.15f}")

    g_sqrt = s2sgrad.grad(newton_sqrt)
    print()
    print(g_sqrt.source)
    a = 2.0
    print(f"grad(newton_sqrt)({a}) = {g_sqrt(a):.15f}")
    print(f"by hand 1 / (2 sqrt(a)) = {0.5 / math.sqrt(a):.15f}")


if __name__ == "__main__":
    main()
