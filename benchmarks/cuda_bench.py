"""backend="cuda" on loops that need a tape, with no tape_bound: the tapes are sized before
the gradient kernel runs (rooms from the trip counts at kernel entry, on the host or per
point, or a counting pass), in global memory.  Times the first call (which compiles),
later calls, a call with tape_bound given (no sizing), and a tape_memory budget of half
the tapes (the loop checkpointed), at 10^5 and 10^6 points.

Run: python benchmarks/cuda_bench.py   (writes benchmarks/results/cuda_bench.txt)

The functions: an Euler loop whose trip count is one number for all points (rooms on the
host) or differs per point (an int array: rooms per point, by a kernel), and a `while`
loop whose trip count depends on the point's values (the counting pass).  Every results
file names the machine and, when one ran it, the GPU (name and compute capability);
without a GPU (numba.cuda.is_available() false, or NUMBA_ENABLE_CUDASIM set) it says so
and nothing is timed.  A few points are compared with the python backend.
"""
import math
import os
import platform
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != HERE]  # benchmarks/cuda.py is no package

import numpy as np  # noqa: E402

import s2sgrad  # noqa: E402

RESULTS = os.path.join(HERE, "results", "cuda_bench.txt")
SIZING = {"host": "rooms at kernel entry, on the host", "points": "rooms at kernel entry, per point",
          "count": "a counting pass", "none": "nothing (no tape)"}
SIZES = (10 ** 5, 10 ** 6)


def damped_euler(k, c, steps):
    """x'' = -k x - c x', `steps` explicit Euler steps of 0.01 (steps: one per point)."""
    x = 1.0
    v = 0.0
    for i in range(steps):
        a = -k * x - c * v
        x = x + 0.01 * v
        v = v + 0.01 * a
    return x * x + v * v


def creep(x, y):
    """A while loop of about 10 (y - x) trips."""
    z = x
    while z < y:
        z = z + 0.05 * math.sin(z) * x + 0.1
    return z * x


def machine() -> str:
    return f"{platform.node()}: {platform.machine()}, {os.cpu_count()} CPU core(s), {platform.platform()}"


def write(lines):
    os.makedirs(os.path.dirname(RESULTS), exist_ok=True)
    with open(RESULTS, "w") as out:
        out.write("\n".join(lines) + "\n")
    print("\n".join(lines))


def timed(fn):
    from numba import cuda
    start = time.perf_counter()
    out = fn()
    cuda.synchronize()
    return time.perf_counter() - start, out


def cases(rng, n):
    """(title, function, wrt, arguments, a tape_bound that holds, whether tape_memory applies)."""
    k, c = rng.uniform(0.5, 2.0, n), rng.uniform(0.0, 0.5, n)
    steps = rng.integers(50, 200, n)
    x, y = rng.uniform(0.5, 1.0, n), rng.uniform(2.0, 5.0, n)
    return [("damped_euler, 150 steps at every point", damped_euler, (0, 1), (k, c, 150), 150, True),
            ("damped_euler, 50-199 steps per point", damped_euler, (0, 1), (k, c, steps), 199, True),
            ("creep, a while loop of ~10-45 trips", creep, (0, 1), (x, y), 64, False)]


def main():
    header = ["backend='cuda' benchmark: loops that need a tape, sized automatically (no tape_bound)",
              f"machine: {machine()}"]
    if os.environ.get("NUMBA_ENABLE_CUDASIM", "0") not in ("", "0"):
        write(header + ["no GPU measured: NUMBA_ENABLE_CUDASIM is set (numba's CPU simulator); nothing timed"])
        return 0
    from numba import cuda
    if not cuda.is_available():
        write(header + [f"no GPU reachable on this machine ({os.cpu_count()}-core CPU, no GPU: "
                        f"numba.cuda.is_available() is false); nothing timed"])
        return 0
    dev = cuda.get_current_device()
    name = getattr(dev, "name", "unknown device")
    name = name.decode() if isinstance(name, bytes) else str(name)
    lines = header + [f"device: {name}, compute capability {getattr(dev, 'compute_capability', '?')}", ""]
    rng = np.random.default_rng(0)
    worst = 0.0
    for n in SIZES:
        for title, f, wrt, args, bound, budgeted in cases(rng, n):
            on_device = [cuda.to_device(a) if isinstance(a, np.ndarray) else a for a in args]
            auto = s2sgrad.grad(f, wrt=wrt, backend="cuda")
            first, _ = timed(lambda: auto(*on_device))
            later = min(timed(lambda: auto(*on_device))[0] for _ in range(5))
            fixed = s2sgrad.grad(f, wrt=wrt, backend="cuda", tape_bound=bound)
            timed(lambda: fixed(*on_device))  # compiles
            given = min(timed(lambda: fixed(*on_device))[0] for _ in range(5))
            line = (f"n = {n:>9,} {title}: sized by {SIZING[auto.sizing]}; first call {first:7.3f} s; "
                    f"later calls {later * 1e3:8.3f} ms ({auto.tape_bytes / 2 ** 20:.1f} MiB of tape); "
                    f"tape_bound={bound} {given * 1e3:8.3f} ms")
            if budgeted:
                half = auto.tape_bytes // 2
                small = s2sgrad.grad(f, wrt=wrt, backend="cuda", tape_memory=half)
                timed(lambda: small(*on_device))  # compiles
                recompute = min(timed(lambda: small(*on_device))[0] for _ in range(5))
                line += (f"; tape_memory={half / 2 ** 20:.1f} MiB {recompute * 1e3:8.3f} ms "
                         f"(checkpointed every {small.checkpoint_every} trips, "
                         f"{small.tape_bytes / 2 ** 20:.1f} MiB)")
            lines.append(line)
            g = s2sgrad.grad(f, wrt=wrt)
            wants = [g(*[a[j] if isinstance(a, np.ndarray) else a for a in args]) for j in range(16)]
            for derivative in (auto, fixed) + ((small,) if budgeted else ()):
                got = [o.copy_to_host()[:16] for o in derivative(*on_device)]
                for j, want in enumerate(wants):
                    worst = max(worst, *(abs(got[i][j] - want[i]) for i in range(len(wrt))))
    lines += ["", f"largest difference from the python backend at 16 points per case (automatic, "
                  f"tape_bound, tape_memory): {worst:.1e}"]
    write(lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
