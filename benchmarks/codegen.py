"""Code generation time against the length of the function: straight-line code, the case
where anything quadratic in the optimizer or the differentiator shows (issue 17's target:
3,000 statements in under 10 s).

Run: python -m benchmarks.codegen   (writes benchmarks/results/codegen.txt)

Each row generates grad of a fresh function of n statements (so no cache helps) in a new
module file, and times `s2sgrad.grad(f)` plus its first call: with number arguments, one
generation (the kinds guessed from the source are the call's); with array arguments, two
(the call's ranks differ from the guess, so the code is generated again for them).
Times are wall clock and CPU time of this process, in one run.
"""
import importlib.util
import os
import sys
import tempfile
import time

import numpy as np

from benchmarks import report

SIZES = (500, 1000, 2000, 3000)
# one statement shape after another, each reading the two before it
SHAPES = ("{a} * {b}", "np.sin({a}) + {b}", "{a} - np.exp({b} * 0.01)", "np.tanh({a}) * {b}",
          "{a} / (1.0 + {b} * {b})")


def straight_line_source(n: int, name: str = "f") -> str:
    """`def f(x, y)` of n assignments, each an element-wise function of the two before."""
    lines = ["import numpy as np", "", "", f"def {name}(x, y):", "    v0 = x", "    v1 = y"]
    for i in range(2, n):
        lines.append(f"    v{i} = " + SHAPES[i % len(SHAPES)].format(a=f"v{i - 1}", b=f"v{i - 2}"))
    lines.append(f"    return np.sum(v{n - 1})")
    return "\n".join(lines) + "\n"


def load(source: str, folder: str, module: str):
    path = os.path.join(folder, module + ".py")
    with open(path, "w") as f:
        f.write(source)
    spec = importlib.util.spec_from_file_location(module, path)
    m = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(m)
    return m


def measure(n: int, args, folder: str, tag: str):
    import s2sgrad
    f = load(straight_line_source(n), folder, f"straight_{tag}_{n}").f
    wall, cpu = time.perf_counter(), time.process_time()
    s2sgrad.grad(f, wrt=(0, 1))(*args)
    return time.perf_counter() - wall, time.process_time() - cpu


def main():
    start = time.perf_counter()
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        sys.path.insert(0, folder)
        for n in SIZES:
            for tag, args, generations in (("numbers", (1.0, 0.5), 1),
                                           ("arrays", (np.ones(3), np.ones(3)), 2)):
                wall, cpu = measure(n, args, folder, tag)
                rows.append((n, tag, generations, wall, cpu))
                print(f"{n:5d} statements, {tag:7s}: {wall:6.2f} s wall, {cpu:6.2f} s cpu", flush=True)
    lines = ["s2sgrad code generation time (python -m benchmarks.codegen, issue 17)", "",
             report.machine(time.perf_counter() - start, os.getloadavg()), "",
             "grad(f, wrt=(0, 1)) of straight-line code, plus its first call (which generates",
             "the code again when the call's ranks are not the guessed ones):", "",
             "| statements | arguments | generations | wall s | cpu s | cpu s per 1,000 statements and generation |",
             "| ---: | --- | ---: | ---: | ---: | ---: |"]
    for n, tag, generations, wall, cpu in rows:
        lines.append(f"| {n:,} | {tag} | {generations} | {wall:.2f} | {cpu:.2f} | "
                     f"{1000 * cpu / n / generations:.2f} |")
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", "codegen.txt")
    with open(out, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("wrote", out)


if __name__ == "__main__":
    main()
