"""Reading a file statically (cli/reading.py) and its constant evaluator (cli/evaluate.py)."""
import ast

import numpy as np
import pytest

from s2sgrad.cli.evaluate import NotStatic, evaluate
from s2sgrad.cli.reading import Reader


def value(expr, **names):
    return evaluate(ast.parse(expr, mode="eval").body, {"np": np, **names})


def test_constants_are_evaluated():
    np.testing.assert_allclose(value("np.array([1.0, 2.0]) / 4 + N", N=1), [1.25, 1.5])
    assert value("np.linspace(0, 1, 3)[1]") == 0.5
    assert value("(2, -3.5)") == (2, -3.5)


@pytest.mark.parametrize("expr", ["np.loadtxt('w.txt')", "open('x', 'w')", "np.save('x', 1)",
                                  "[0.0] * 10 ** 9", "np.ones((10**4, 10**4))", "np.arange(0, 1, 1e-9)",
                                  "2 ** 10 ** 10", "__import__('os')", "(lambda: 1)()", "np.random.rand(3)",
                                  "UNDEFINED + 1"])
def test_what_is_not_evaluated(expr):
    with pytest.raises(NotStatic):
        value(expr)


def test_statements_that_are_not_run_unbind_what_they_may_change(tmp_path):
    (tmp_path / "m.py").write_text(
        "import numpy as np\nW = np.ones(3)\nV = np.ones(2)\nK = 2.0\nN = 3\n"
        "def f(x):\n    return x * W[0]\n"
        "W[0] = 5.0\n"          # would change W
        "setup(V)\n"            # might change V (any array, through a call)
        "N = compute()\n"       # rebinds N
        "if __name__ == '__main__':\n    K = 7.0\n")
    module = Reader().read(str(tmp_path / "m.py"))
    assert "W" not in module.namespace and "V" not in module.namespace and "N" not in module.namespace
    assert module.namespace["K"] == 2.0 and callable(module.namespace["f"])
    assert "line 8" in module.skipped["W"][0]


def test_a_global_statement_keeps_a_name_from_being_a_constant(tmp_path):
    (tmp_path / "m.py").write_text("C = 1.0\ndef bump():\n    global C\n    C = 2.0\n")
    assert "C" not in Reader().read(str(tmp_path / "m.py")).namespace


def test_sibling_helpers_are_read_as_source(tmp_path):
    (tmp_path / "helpers.py").write_text("import math\nopen('ran.txt', 'w')\ndef h(u):\n    return math.exp(u)\n")
    (tmp_path / "m.py").write_text("from helpers import h as hh\nfrom os import path\n")
    module = Reader().read(str(tmp_path / "m.py"))
    assert module.namespace["hh"](0.0) == 1.0 and module.bindings["hh"].text == "hh = h"
    assert "path" not in module.namespace and not (tmp_path / "ran.txt").exists()


def test_what_a_statement_does_not_run_changes_nothing(tmp_path):
    """A def's body does not run when it is defined; a call of a function does not change it."""
    (tmp_path / "m.py").write_text(
        "import numpy as np\nimport jax\nW = np.ones(2)\n"
        "def f(x):\n    return x * W[0]\n"
        "@jax.jit\ndef g(x):\n    W[0] = 3.0\n    return f(x)\n"   # not run: its decorator is unknown
        "print(f(1.0))\n"                                          # calls f: W may change, f does not
        "f.__defaults__ = (2.0,)\n")
    module = Reader().read(str(tmp_path / "m.py"))
    assert "g" not in module.namespace and "decorator" in module.skipped["g"][0]
    assert "W" not in module.namespace and "line 7" in module.skipped["W"][0]
    assert "f" not in module.namespace and "line 11" in module.skipped["f"][0]
    (tmp_path / "n.py").write_text("import numpy as np\nW = np.ones(2)\ndef f(x):\n    return x * W[0]\n"
                                   "@jax.jit\ndef g(x):\n    W[0] = 3.0\n    return f(x)\n")
    module = Reader().read(str(tmp_path / "n.py"))
    # applying the unknown decorator is a call that might change W; g's body (which writes W
    # and reads f) does not run, so f keeps its value
    assert "W" not in module.namespace and "f" in module.namespace
