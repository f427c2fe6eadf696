"""What the command line says about bad input (exit 1, a positioned message, no
traceback), bad usage (exit 2), and `s2sgrad check` on fresh and stale files."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def cli(*args, cwd):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "s2sgrad", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def user_error(run):
    assert run.returncode == 1, (run.stdout, run.stderr)
    assert run.stderr.startswith("error: ") and "Traceback" not in run.stderr  # no colour off a terminal
    return run.stderr


def test_missing_file(tmp_path):
    assert "no such file: nothere.py" in user_error(cli("grad", "nothere.py::f", cwd=tmp_path))


def test_missing_function(tmp_path):
    (tmp_path / "m.py").write_text("def f(x):\n    return x * x\n")
    err = user_error(cli("grad", "m.py::g", cwd=tmp_path))
    assert "m.py defines no function `g`" in err and "its functions: f" in err


def test_syntax_error_is_positioned(tmp_path):
    (tmp_path / "m.py").write_text("def f(x):\n    return x +* 2\n")
    err = user_error(cli("grad", "m.py::f", cwd=tmp_path))
    assert "syntax error" in err and "m.py:2:" in err and "return x +* 2" in err and "^" in err


def test_unsupported_construct_is_positioned(tmp_path):
    (tmp_path / "m.py").write_text("import math\n\ndef f(x):\n    return math.gamma(x) * x\n")
    err = user_error(cli("grad", "m.py::f", cwd=tmp_path))
    assert "math.gamma" in err and "m.py:4:12" in err and "^^^^" in err


def test_a_name_bound_by_code_that_is_not_run(tmp_path):
    (tmp_path / "m.py").write_text("import pandas as pd\nimport numpy as np\nW = np.loadtxt('w.txt')\n\n"
                                   "def f(x):\n    return x * W[0]\n")
    err = user_error(cli("grad", "m.py::f", cwd=tmp_path))
    assert "name `W` is not defined" in err and "np.loadtxt" in err and "m.py:3" in err


def test_decorator_and_default_that_would_run_code(tmp_path):
    (tmp_path / "m.py").write_text("def deco(fn):\n    open('ran.txt', 'w')\n    return fn\n\n"
                                   "@deco\ndef f(x):\n    return x * x\n\n"
                                   "def g(x, n=len(open('ran.txt', 'w').name)):\n    return x * n\n")
    err = user_error(cli("grad", "m.py::f", cwd=tmp_path))
    assert "decorator `@deco`" in err and "m.py:5:2" in err
    err = user_error(cli("grad", "m.py::g", cwd=tmp_path))
    assert "m.py:9:" in err
    assert not (tmp_path / "ran.txt").exists()


def test_debug_shows_the_traceback(tmp_path):
    run = cli("grad", "nothere.py::f", "--debug", cwd=tmp_path)
    assert run.returncode == 1 and "Traceback" in run.stderr


@pytest.mark.parametrize("args", [[], ["grad"], ["grad", "m.py::f", "--mode", "sideways"],
                                  ["grad", "m.py::f", "--like", "x=matrix"], ["frobnicate"],
                                  ["grad", "m.py"], ["grad", "m.py::f", "--wrt", "1x"]])
def test_usage_errors_exit_2(tmp_path, args):
    (tmp_path / "m.py").write_text("def f(x):\n    return x * x\n")
    run = cli(*args, cwd=tmp_path)
    assert run.returncode == 2, run.stderr
    assert "Traceback" not in run.stderr


def test_version_and_help(tmp_path):
    assert cli("--version", cwd=tmp_path).stdout.startswith("s2sgrad ")
    for command in ("grad", "check", "compare", "graph"):
        run = cli(command, "--help", cwd=tmp_path)
        assert run.returncode == 0 and "examples:" in run.stdout


def test_check_passes_when_fresh_and_fails_with_a_diff_when_stale(tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "m.py").write_text("C = 2.0\n\ndef f(x):\n    return C * x * x\n")
    (tmp_path / "out").mkdir()
    assert cli("grad", "src/m.py::f", "-o", "out/d_m.py", cwd=tmp_path).returncode == 0
    run = cli("check", "out/d_m.py", cwd=tmp_path)
    assert run.returncode == 0 and run.stdout == "", run.stderr
    assert cli("check", "d_m.py", cwd=tmp_path / "out").returncode == 0  # from another folder too
    (tmp_path / "src" / "m.py").write_text("C = 3.0\n\ndef f(x):\n    return C * x * x\n")
    run = cli("check", "out/d_m.py", cwd=tmp_path)
    assert run.returncode == 1
    assert "-C = 2.0" in run.stdout and "+C = 3.0" in run.stdout and "is stale" in run.stderr


def test_check_of_a_file_not_written_by_s2sgrad(tmp_path):
    (tmp_path / "x.py").write_text("x = 1\n")
    assert "no `Command: s2sgrad grad" in user_error(cli("check", "x.py", cwd=tmp_path))


def test_compare_and_graph_are_wired(tmp_path):
    import s2sgrad
    (tmp_path / "m.py").write_text("def f(x):\n    return x * x\n")
    run = cli("graph", "m.py::f", cwd=tmp_path)
    if hasattr(s2sgrad, "graph"):
        assert run.returncode == 0 and "digraph" in run.stdout
    else:
        assert run.returncode == 2 and "not available in this version" in run.stderr
