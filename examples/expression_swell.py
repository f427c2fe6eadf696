"""Expression swell: the logistic map x <- r x (1 - x), iterated n times.

sympy's closed form of d x_n / d x_0 roughly doubles with every step (each step uses x
twice), while the adjoint s2sgrad writes is the same code for every n: a loop whose body
costs a few operations a step.  That is why automatic differentiation exists.

Run:  python examples/expression_swell.py  [--plot docs/expression_swell.png]
"""
import ast
import sys

import sympy as sp

import s2sgrad
from s2sgrad.teaching.symbolic import closed_form, derivative


def logistic(x, r, n):
    for i in range(n):
        x = r * x * (1 - x)
    return x


def adjoint_statements(source: str, name: str):
    """(statements of the adjoint, statements inside its loops: the cost of one step)."""
    fn = next(n for n in ast.walk(ast.parse(source)) if isinstance(n, ast.FunctionDef) and n.name == name)
    body = fn.body[1:]
    total = sum(1 for top in body for n in ast.walk(top) if isinstance(n, ast.stmt))
    loops = [n for top in body for n in ast.walk(top) if isinstance(n, ast.For)]
    per_step = sum(1 for loop in loops for s in loop.body for n in ast.walk(s) if isinstance(n, ast.stmt))
    return total, per_step


def sizes(steps=range(1, 9)):
    """Rows (n, count_ops of d x_n / d x as diff gives it, after cse) for each n."""
    rows = []
    for n in steps:
        form = closed_form(logistic, fixed={"n": n}, max_size=10 ** 6)
        d = derivative(form, "x", simplify=False, max_size=10 ** 6)
        replacements, reduced = sp.cse(d)
        rows.append((n, sp.count_ops(d), sum(sp.count_ops(e) for _, e in replacements) + sp.count_ops(reduced)))
    return rows


def main(argv):
    g = s2sgrad.grad(logistic)
    total, per_step = adjoint_statements(g.source, "grad_logistic")
    rows = sizes()
    print(" n   closed form (count_ops)   after cse   adjoint statements")
    for n, ops, shared in rows:
        print(f"{n:2d}   {ops:23d}   {shared:9d}   {total} ({per_step} a step, any n)")
    print(f"\nd x_3 / d x = {sp.factor(derivative(closed_form(logistic, fixed={'n': 3}), 'x'))}")
    print(f"grad(logistic)(0.3, 3.7, 8) = {g(0.3, 3.7, 8)!r}")
    if "--plot" in argv:
        plot(rows, total, argv[argv.index("--plot") + 1])


def plot(rows, total, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    ns = [n for n, _, _ in rows]
    ax.semilogy(ns, [ops for _, ops, _ in rows], "o-", label="closed form d x_n / d x (count_ops)")
    ax.semilogy(ns, [shared for _, _, shared in rows], "s-", label="closed form after cse")
    ax.semilogy(ns, [total] * len(ns), "k--", label="adjoint s2sgrad writes (statements)")
    ax.set_xlabel("steps n of x <- r x (1 - x)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    print(f"plot saved to {path}")


if __name__ == "__main__":
    main(sys.argv[1:])
