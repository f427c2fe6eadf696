"""The command line end to end: `python -m s2sgrad` as a subprocess on files written into
tmp_path; the written module imported in a fresh interpreter where s2sgrad cannot be
imported, its numbers compared with s2sgrad's API and with central differences."""
import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import s2sgrad

ROOT = Path(__file__).resolve().parents[2]

SCALAR = '''
import math

def f(x, y):
    # a comment that stays
    return x * math.sin(y) + x ** 2 / y
'''

NUMPY = '''
import numpy as np
from helpers import smooth

W = np.array([0.5, -1.0, 2.0])  # a module constant, evaluated without running the file

def loss(w, b):
    z = smooth(w * W) + b
    return np.sum(z ** 2)
'''

HELPERS = '''
import numpy as np

def smooth(u):
    return np.tanh(u)
'''

LOOPS = '''
N_STEPS = 4

def newton(a, x):
    """Several loops, a branch, a while with a run-time trip count."""
    s = 0.0
    for i in range(N_STEPS):
        if i % 2 == 0:
            s += x * a
        else:
            s -= a / (x + i)
    while abs(x * x - a) > 1e-12 * a:
        x = 0.5 * (x + a / x)
    return s + x
'''


def cli(*args, cwd):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "s2sgrad", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def standalone(folder, module, call):
    """Run `call` (an expression of the imported `module`) where s2sgrad cannot be imported."""
    code = textwrap.dedent(f"""
        import json, sys
        sys.modules["s2sgrad"] = None          # any import of s2sgrad fails here
        sys.path.insert(0, {str(folder)!r})
        try:
            import s2sgrad
        except ImportError:
            pass
        else:
            raise SystemExit("s2sgrad is importable")
        import numpy as np
        import {module} as m
        out = {call}
        print(json.dumps(np.asarray(out, dtype=float).tolist() if not isinstance(out, tuple) else
                         [np.asarray(o, dtype=float).tolist() for o in out]))
    """)
    run = subprocess.run([sys.executable, "-I", "-c", code], cwd=folder, capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


def load(path):
    spec = importlib.util.spec_from_file_location(path.stem + "_under_test", path)
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(path.parent))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(path.parent))
    return module


def central(f, args, i, v, eps=1e-6):
    up, down = list(args), list(args)
    up[i] = args[i] + eps * v
    down[i] = args[i] - eps * v
    return (f(*up) - f(*down)) / (2 * eps)


def write(tmp_path, **files):
    for name, text in files.items():
        (tmp_path / f"{name}.py").write_text(text)


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_scalar_function_both_modes(tmp_path, mode):
    write(tmp_path, model=SCALAR)
    run = cli("grad", "model.py::f", "--wrt", "x,y", "--mode", mode, "-o", "d_model.py", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert run.stdout == "" and run.stderr == ""  # quiet by default
    text = (tmp_path / "d_model.py").read_text()
    assert "# a comment that stays" in text and "s2sgrad grad model.py::f" in text
    assert "import s2sgrad" not in text
    f = load(tmp_path / "model.py").f
    x, y = 1.3, 0.7
    by_hand = (np.sin(y) + 2 * x / y, x * np.cos(y) - x ** 2 / y ** 2)
    if mode == "reverse":
        got = standalone(tmp_path, "d_model", "m.grad_f(1.3, 0.7)")
        api = s2sgrad.grad(f, wrt=("x", "y"))(x, y)
        np.testing.assert_allclose(got, api, rtol=1e-12)
        np.testing.assert_allclose(got, by_hand, rtol=1e-10)
    else:
        got = standalone(tmp_path, "d_model", "m.jvp_f(1.3, 0.7, 0.25, -2.0)")
        api = s2sgrad.jvp(f, wrt=("x", "y"))(x, y, 0.25, -2.0)
        np.testing.assert_allclose(got, api, rtol=1e-12)
        np.testing.assert_allclose(got[1], 0.25 * by_hand[0] - 2.0 * by_hand[1], rtol=1e-10)


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_numpy_function_with_a_sibling_helper(tmp_path, mode):
    write(tmp_path, model=NUMPY, helpers=HELPERS)
    run = cli("grad", "model.py::loss", "--mode", mode, "--like", "w=array1d", "-o", "d_loss.py", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    text = (tmp_path / "d_loss.py").read_text()
    assert "def smooth(u):" in text and "from helpers import" not in text  # the helper copied as written
    loss = load(tmp_path / "model.py").loss
    w, b, v = np.array([0.3, -0.2, 1.1]), 0.4, np.array([1.0, -0.5, 2.0])
    if mode == "reverse":
        got = standalone(tmp_path, "d_loss", "m.grad_loss(np.array([0.3, -0.2, 1.1]), 0.4)")
        np.testing.assert_allclose(got, s2sgrad.grad(loss)(w, b), rtol=1e-12)
        np.testing.assert_allclose(np.dot(got, v), central(loss, [w, b], 0, v), rtol=1e-6)
    else:
        got = standalone(tmp_path, "d_loss",
                         "m.jvp_loss(np.array([0.3, -0.2, 1.1]), 0.4, np.array([1.0, -0.5, 2.0]))")
        np.testing.assert_allclose(got, s2sgrad.jvp(loss)(w, b, v), rtol=1e-12)
        np.testing.assert_allclose(got[1], central(loss, [w, b], 0, v), rtol=1e-6)


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_loop_heavy_function(tmp_path, mode):
    write(tmp_path, model=LOOPS)
    run = cli("grad", "model.py::newton", "--wrt", "a", "--mode", mode, "-o", "d_newton.py", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    newton = load(tmp_path / "model.py").newton
    call = "m.grad_newton(2.0, 1.0)" if mode == "reverse" else "m.jvp_newton(2.0, 1.0, 1.0)"
    got = standalone(tmp_path, "d_newton", call)
    api = s2sgrad.grad(newton, wrt="a")(2.0, 1.0) if mode == "reverse" else s2sgrad.jvp(newton, wrt="a")(2.0, 1.0, 1.0)
    np.testing.assert_allclose(got, api, rtol=1e-12)
    derivative = got if mode == "reverse" else got[1]
    # by hand: s = 2 (x a) - a/(x+1) - a/(x+3); the loop ends at sqrt(a)
    np.testing.assert_allclose(derivative, 2 * 1.0 - 1 / 2.0 - 1 / 4.0 + 0.5 / np.sqrt(2.0), rtol=1e-8)


def test_several_functions_and_stdout(tmp_path):
    write(tmp_path, model=SCALAR + "\n\ndef g(x, y):\n    return f(x, y) * y\n")
    run = cli("grad", "model.py", "--all", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert "def grad_f(x, y):" in run.stdout and "def grad_g(x, y):" in run.stdout
    (tmp_path / "both.py").write_text(run.stdout)
    got = standalone(tmp_path, "both", "(m.grad_f(1.3, 0.7), m.grad_g(1.3, 0.7))")
    np.testing.assert_allclose(got[0], np.sin(0.7) + 2 * 1.3 / 0.7, rtol=1e-10)
    np.testing.assert_allclose(got[1], (np.sin(0.7) + 2 * 1.3 / 0.7) * 0.7, rtol=1e-10)


def test_generating_never_runs_the_file(tmp_path):
    write(tmp_path, model=textwrap.dedent('''
        import numpy as np
        import os
        open("ran.txt", "w").write("the module level ran")
        C = 3.0

        def setup():
            open("ran_too.txt", "w").write("called")

        def f(x):
            return C * np.sin(x)

        setup()
        raise RuntimeError("executing this file fails")
    '''))
    run = cli("grad", "model.py::f", "-o", "d_f.py", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert not (tmp_path / "ran.txt").exists() and not (tmp_path / "ran_too.txt").exists()
    np.testing.assert_allclose(standalone(tmp_path, "d_f", "m.grad_f(0.4)"), 3.0 * np.cos(0.4), rtol=1e-12)


def test_check_option_runs_finite_differences_and_says_so(tmp_path):
    write(tmp_path, model=LOOPS)
    run = cli("grad", "model.py::newton", "--wrt", "a", "-o", "d.py", "--check", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert "running the written module" in run.stderr and "grad_newton: ok" in run.stderr


def test_numba_backend_writes_compiled_code(tmp_path):
    write(tmp_path, model=SCALAR)
    run = cli("grad", "model.py::f", "--backend", "numba", "-o", "d_numba.py", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    text = (tmp_path / "d_numba.py").read_text()
    assert "import numba" in text and "@numba.njit" in text
    got = standalone(tmp_path, "d_numba", "m.grad_f(1.3, 0.7)")
    np.testing.assert_allclose(got, np.sin(0.7) + 2 * 1.3 / 0.7, rtol=1e-10)


def test_code_for_guessed_kinds_refuses_other_kinds(tmp_path):
    """w * W guesses a number w; called with an array, the written code raises, never a wrong number."""
    write(tmp_path, model=NUMPY, helpers=HELPERS)
    assert cli("grad", "model.py::loss", "-o", "d_guess.py", cwd=tmp_path).returncode == 0
    assert "w a number" in (tmp_path / "d_guess.py").read_text()
    code = ("import sys; sys.path.insert(0, '.'); import numpy as np, d_guess\n"
            "try:\n    d_guess.grad_loss(np.ones(3), 0.4)\nexcept TypeError as e:\n    print(e)")
    run = subprocess.run([sys.executable, "-I", "-c", code], cwd=tmp_path, capture_output=True, text=True)
    assert "generated for w a number" in run.stdout and "--like w=KIND" in run.stdout
