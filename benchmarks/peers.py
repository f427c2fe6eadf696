"""The other tools, imported only when asked for: a peer that is not installed raises
Missing, which the table reports as "missing" (pip install '.[bench]' adds them all).

Every peer runs in float64 on one thread, as NumPy and s2sgrad do here (benchmarks/__main__.py
sets OMP_NUM_THREADS and XLA's flags before anything imports them)."""
import importlib
import subprocess
import types


class Missing(Exception):
    """A peer the table reports as missing (not installed)."""


def load(name):
    """The module `name`, configured for the benchmark, or Missing."""
    try:
        module = importlib.import_module(name)
    except ImportError as error:
        raise Missing(f"{name} is not installed ({error})") from None
    if name == "jax":
        module.config.update("jax_enable_x64", True)
    if name == "torch":
        module.set_num_threads(1)
    return module


def version(name):
    try:
        module = importlib.import_module(name)
    except ImportError:
        return "missing"
    if name == "autograd":
        from importlib.metadata import version as installed
        return installed("autograd")
    return module.__version__


def commit():
    """The s2sgrad checkout's commit (with "+changes" when the tree is dirty)."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "s2sgrad"], capture_output=True,
                               text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+changes" if dirty else "")


def with_numpy(fn, numpy_module):
    """fn with its global `np` bound to another NumPy (jax.numpy, autograd.numpy): one
    vectorized definition serves s2sgrad, JAX and autograd alike."""
    env = dict(fn.__globals__, np=numpy_module)
    return types.FunctionType(fn.__code__, env, fn.__name__, fn.__defaults__, fn.__closure__)
