"""`s2sgrad compare` and `s2sgrad graph`: the teaching views (s2sgrad.compare, s2sgrad.graph),
on a function read statically like `grad` reads it."""
from __future__ import annotations

import inspect
import sys

from .options import split_target
from .generate import function_of


def run(args) -> int:
    import s2sgrad
    view = getattr(s2sgrad, args.command, None)
    if view is None:
        print(f"s2sgrad {args.command}: not available in this version", file=sys.stderr)
        return 2
    file, names = split_target(args.target)
    f = function_of(file, names[0] if names else "")
    if args.command == "graph":
        dot = view(f)
        text = dot if isinstance(dot, str) else str(dot)
        if args.output:
            with open(args.output, "w", encoding="utf-8") as fh:
                fh.write(text)
        else:
            sys.stdout.write(text)
        return 0
    point = dict(item.split("=", 1) for item in args.at)
    params = list(inspect.signature(f).parameters)
    if set(point) != set(params):
        print(f"usage error: --at gives {', '.join(point)}; {f.__name__} takes {', '.join(params)}", file=sys.stderr)
        return 2
    values = [float(point[p]) for p in params]
    wrt = tuple(args.wrt) if args.wrt else 0
    print(view(f, *values, wrt=wrt))
    return 0
