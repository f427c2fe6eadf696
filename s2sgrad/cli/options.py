"""The command line's options: the argument parser (with examples for each command's
--help), and how a FILE.py::FUNC target and a recorded command are spelled."""
from __future__ import annotations

import argparse
import shlex

from .. import __version__

EXAMPLES = {
    "grad": """examples:
  s2sgrad grad model.py::loss                      # print grad_loss (wrt the first parameter)
  s2sgrad grad model.py::loss --wrt w,b -o grad_model.py
  s2sgrad grad model.py::loss --mode forward       # jvp_loss(w, x, t_w) -> (value, tangent)
  s2sgrad grad model.py::energy --like x=array2d   # code for a 2-d array x
  s2sgrad grad model.py --all -o grads.py          # every public function of the file
  s2sgrad grad model.py::loss -o grad_model.py --check   # then check it at random points

model.py is read, never run: its imports of numpy, math, scipy.special and functools,
its defs, its constants and the helpers it imports from modules beside it are read as
source.  Only --check runs code.""",
    "check": """examples:
  s2sgrad check grad_model.py          # exit 0 when current, 1 with a diff when stale
  s2sgrad check grads/*.py""",
    "compare": """examples:
  s2sgrad compare model.py::f --at x=1.5 y=2.0""",
    "graph": """examples:
  s2sgrad graph model.py::f -o graph.dot""",
}


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="s2sgrad", description="Write derivative code for Python functions, as plain Python.",
        epilog="run `s2sgrad COMMAND --help` for a command's options and examples",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    top.add_argument("--version", action="version", version=f"s2sgrad {__version__}")
    commands = top.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(name, help_text):
        sub = commands.add_parser(name, help=help_text, description=help_text, epilog=EXAMPLES[name],
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
        sub.add_argument("--debug", action="store_true", help="show the traceback of an error")
        return sub

    grad = command("grad", "write a module defining the derivative of FUNC (grad_FUNC or jvp_FUNC)")
    grad.add_argument("targets", nargs="+", metavar="FILE.py::FUNC",
                      help="the file and function(s): model.py::f, model.py::f,g, or model.py with --all")
    grad.add_argument("--wrt", type=_names, help="parameters to differentiate with respect to, "
                      "comma-separated (default: the first)")
    grad.add_argument("--mode", choices=("reverse", "forward"), default="reverse",
                      help="reverse: grad_FUNC; forward: jvp_FUNC (default: reverse)")
    grad.add_argument("--backend", choices=("python", "numba"), default="python",
                      help="python (default), or numba: every generated function compiled with numba.njit")
    grad.add_argument("--like", type=_kinds, default={}, metavar="X=KIND,...",
                      help="the kinds of arguments to generate for: float, int, list, array, array1d, array2d, "
                           "... (default: guessed from how the function uses them)")
    grad.add_argument("--all", action="store_true", help="every public function the file defines")
    grad.add_argument("-o", "--output", metavar="OUT.py", help="write here (default: standard output)")
    grad.add_argument("--check", action="store_true", help="after writing, compare the derivatives with "
                      "central finite differences at random points (this runs the file's functions)")

    check = command("check", "exit 1 with a diff when a written derivative file is stale")
    check.add_argument("files", nargs="+", metavar="OUT.py")

    compare = command("compare", "the teaching table: symbolic, forward, reverse and finite differences")
    compare.add_argument("target", metavar="FILE.py::FUNC")
    compare.add_argument("--at", nargs="+", required=True, metavar="X=VALUE", help="the point: x=1.5 y=2.0")
    compare.add_argument("--wrt", type=_names)

    graph = command("graph", "the computational graph of FUNC as Graphviz DOT")
    graph.add_argument("target", metavar="FILE.py::FUNC")
    graph.add_argument("-o", "--output", metavar="graph.dot|graph.svg")
    return top


def _names(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names or not all(n.isidentifier() for n in names):
        raise argparse.ArgumentTypeError(f"expected parameter names separated by commas, got {text!r}")
    return names


def _kinds(text: str) -> dict[str, str]:
    from .generate import like_kind
    out = {}
    for item in text.split(","):
        name, _, kind = item.partition("=")
        try:
            like_kind(kind.strip())
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
        if not name.strip().isidentifier():
            raise argparse.ArgumentTypeError(f"expected NAME=KIND, got {item!r}")
        out[name.strip()] = kind.strip()
    return out


def split_target(target: str) -> tuple[str, list[str]]:
    """model.py::f,g -> ("model.py", ["f", "g"])."""
    file, _, funcs = target.partition("::")
    return file, [f for f in funcs.split(",") if f]


def quote(args: list[str]) -> str:
    return " ".join(shlex.quote(a) for a in args)
