"""backend="cuda": gradients per second at 10^6 and 10^7 points, and the fraction of the
GPU's memory bandwidth that reaches.

Run: python benchmarks/cuda.py   (writes benchmarks/results/cuda.txt)

The function is a Black-Scholes call price; value_and_grad with respect to spot and vol
(delta and vega) at every point, strike, maturity and rate the same at every point.  Per
point the kernel reads two float64 (spot, vol) and writes three (value, delta, vega):
40 bytes.  Timings are of calls on device arrays (best of several after a warm-up call,
which also compiles; a call allocates its output arrays, which is counted), and
separately of a call with NumPy arrays, which adds the copies to and from the GPU.  The
peak bandwidth comes from the device's memory clock rate and bus width (2 transfers a
clock); where numba does not report them, a nominal figure named in the output.

Without a GPU (numba.cuda.is_available() false, or NUMBA_ENABLE_CUDASIM set) the results
file says so and nothing is timed.
"""
import math
import os
import platform
import sys
import time

# this file is called cuda.py: its folder must not shadow the `cuda` package (NVIDIA's
# Python bindings) that numba.cuda imports
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != HERE]

import numpy as np  # noqa: E402

import s2sgrad  # noqa: E402

RESULTS = os.path.join(HERE, "results", "cuda.txt")
SIZES = (10 ** 6, 10 ** 7)
BYTES_PER_POINT = 5 * 8
NOMINAL_GBPS = {"H200": 4800.0, "H100": 3350.0, "A100": 2039.0, "V100": 900.0, "L4": 300.0,
                "T4": 320.0, "A10": 600.0, "RTX 4090": 1008.0}


def norm_cdf(z):
    return 0.5 * (1.0 + math.erf(z / math.sqrt(2.0)))


def black_scholes(spot, vol, strike, t, rate):
    sqrt_t = math.sqrt(t)
    d1 = (math.log(spot / strike) + (rate + 0.5 * vol * vol) * t) / (vol * sqrt_t)
    d2 = d1 - vol * sqrt_t
    return spot * norm_cdf(d1) - strike * math.exp(-rate * t) * norm_cdf(d2)


def machine() -> str:
    return f"{platform.node()}: {platform.machine()}, {os.cpu_count()} CPU core(s), {platform.platform()}"


def write(lines):
    os.makedirs(os.path.dirname(RESULTS), exist_ok=True)
    with open(RESULTS, "w") as out:
        out.write("\n".join(lines) + "\n")
    print("\n".join(lines))


def device_name(dev) -> str:
    name = getattr(dev, "name", "unknown device")
    return name.decode() if isinstance(name, bytes) else str(name)


def peak_bandwidth(dev):
    """(bytes per second, how it was found)."""
    try:
        clock_khz = dev.MEMORY_CLOCK_RATE
        bus_bits = dev.GLOBAL_MEMORY_BUS_WIDTH
        if not clock_khz or not bus_bits:  # some drivers report 0 for these
            raise ValueError("not reported")
        return 2 * clock_khz * 1e3 * bus_bits / 8, \
            (f"from the device: memory clock {clock_khz / 1e6:.3f} GHz, {bus_bits}-bit bus, "
             f"2 transfers a clock")
    except Exception:  # noqa: BLE001 - attribute not reported by this numba/driver
        name = device_name(dev)
        for key, gbps in NOMINAL_GBPS.items():
            if key in name:
                return gbps * 1e9, f"nominal figure for {key}: {gbps:.0f} GB/s (not reported by the device)"
        return None, "unknown (the device reports no memory clock and the name is not in the table)"


def best(fn, repeats=7):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main():
    header = ["backend='cuda' benchmark: value_and_grad of a Black-Scholes call price wrt (spot, vol)",
              f"machine: {machine()}"]
    if os.environ.get("NUMBA_ENABLE_CUDASIM", "0") not in ("", "0"):
        write(header + ["no GPU measured: NUMBA_ENABLE_CUDASIM is set (numba's CPU simulator); "
                        "nothing timed"])
        return 0
    from numba import cuda
    if not cuda.is_available():
        write(header + [f"no GPU reachable on this machine ({os.cpu_count()}-core CPU, no GPU: "
                        f"numba.cuda.is_available() is false); nothing timed"])
        return 0

    dev = cuda.get_current_device()
    name = device_name(dev)
    peak, how = peak_bandwidth(dev)
    lines = header + [f"device: {name}, compute capability {getattr(dev, 'compute_capability', '?')}",
                      f"peak memory bandwidth: {peak / 1e9:.0f} GB/s, {how}" if peak else
                      f"peak memory bandwidth: {how}",
                      f"bytes moved per point: {BYTES_PER_POINT} (read spot, vol; write value, delta, vega)",
                      ""]
    vg = s2sgrad.value_and_grad(black_scholes, wrt=(0, 1), backend="cuda")
    rng = np.random.default_rng(0)
    strike, t, rate = 100.0, 1.0, 0.02
    check = None
    for n in SIZES:
        spot_h, vol_h = rng.uniform(50, 150, n), rng.uniform(0.1, 0.6, n)
        spot, vol = cuda.to_device(spot_h), cuda.to_device(vol_h)

        def run():
            vg(spot, vol, strike, t, rate)
            cuda.synchronize()

        run()  # compiles
        kernel = best(run)
        host = best(lambda: vg(spot_h, vol_h, strike, t, rate), repeats=3)
        rate_pts = n / kernel
        bandwidth = n * BYTES_PER_POINT / kernel
        frac = f", {100 * bandwidth / peak:.1f}% of peak" if peak else ""
        lines.append(f"n = {n:>10,}: device arrays {kernel * 1e3:8.3f} ms = "
                     f"{rate_pts / 1e9:6.3f} G gradients/s, {bandwidth / 1e9:7.1f} GB/s{frac}; "
                     f"NumPy arrays in/out (with copies) "
                     f"{host * 1e3:8.2f} ms = {n / host / 1e6:7.1f} M gradients/s")
        if check is None:  # a few points against the python backend
            value, (delta, vega) = vg(spot_h[:64], vol_h[:64], strike, t, rate)
            g = s2sgrad.value_and_grad(black_scholes, wrt=(0, 1))
            check = 0.0
            for k in range(64):
                v, (d, w) = g(spot_h[k], vol_h[k], strike, t, rate)
                check = max(check, abs(value[k] - v), abs(delta[k] - d), abs(vega[k] - w))
    lines += ["", f"largest difference from the python backend at 64 points: {check:.1e}"]
    write(lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
