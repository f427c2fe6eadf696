"""The command line: `s2sgrad grad FILE.py::FUNC` writes a module that defines FUNC's
derivative and needs only numpy and math, reading FILE.py without running it.

    s2sgrad grad model.py::loss --wrt w -o grad_model.py
    s2sgrad check grad_model.py          # exit 1 with a diff when it is stale

Exit status: 0 success, 1 an error in the input (shown at file:line with a caret), 2 a
usage error (argparse's own).  argparse is enough here: sub-commands, help, exit 2.
"""
from __future__ import annotations

import os
import sys
import traceback

from ..errors import S2SGradError
from .options import parser


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)  # a usage error exits 2 here
    try:
        if args.command == "grad":
            from . import grad_command
            return grad_command.grad(args)
        if args.command == "check":
            from . import stale
            return stale.check(args.files)
        from . import teaching
        return teaching.run(args)
    except (S2SGradError, OSError) as exc:
        if args.debug:
            traceback.print_exc()
        report(str(exc) if isinstance(exc, S2SGradError) else f"{exc.strerror}: {exc.filename}")
        return 1


def report(message: str):
    """An error on standard error: `error:` in red on a terminal, plain otherwise."""
    colour = sys.stderr.isatty() and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"
    label = "\033[1;31merror:\033[0m" if colour else "error:"
    print(f"{label} {message}", file=sys.stderr)
