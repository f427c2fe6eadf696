"""`s2sgrad grad`: read the file statically, generate, write the module; `--check` then
runs it (numeric.py).  `written()` is what `s2sgrad check` calls again."""
from __future__ import annotations

import os
import sys

from .options import quote, split_target
from .generate import Request, derivatives
from .writing import compose, header


def request_of(args) -> Request:
    files, functions = set(), []
    for target in args.targets:
        file, funcs = split_target(target)
        files.add(file)
        functions += [f for f in funcs if f not in functions]
    if len(files) != 1:
        raise SystemExit(_usage(f"give functions of one file, not {', '.join(sorted(files))}"))
    if args.all == bool(functions):
        raise SystemExit(_usage("name the function as FILE.py::FUNC, or give --all (not both)"))
    return Request(files.pop(), functions, args.wrt, args.mode, args.backend, args.like, args.all)


def _usage(message: str) -> int:
    print(f"usage error: {message}", file=sys.stderr)
    return 2


def recorded_command(request: Request, shown_file: str) -> str:
    """The command that writes this module again, with the file as the module names it."""
    words = ["s2sgrad", "grad", shown_file + ("" if request.every_function else "::" + ",".join(request.functions))]
    if request.every_function:
        words.append("--all")
    if request.wrt:
        words += ["--wrt", ",".join(request.wrt)]
    words += ["--mode", request.mode, "--backend", request.backend]
    if request.like:
        words += ["--like", ",".join(f"{k}={v}" for k, v in request.like.items())]
    return quote(words)


def written(request: Request, output: str | None):
    """(the module's text, the derivatives generated); paths in it are relative to the output's folder."""
    def shown(path):
        if output is None:
            return path
        return os.path.relpath(os.path.abspath(path), os.path.dirname(os.path.abspath(output)))
    parts, kept, reader = derivatives(request)
    files = sorted({shown(b.module.path) for b in kept})
    head = header(parts, files, recorded_command(request, shown(request.file)), request.mode, request.backend)
    return compose(head, parts, kept, reader, request.backend, shown), parts


def grad(args) -> int:
    request = request_of(args)
    text, parts = written(request, args.output)
    if args.output is None:
        sys.stdout.write(text)
    else:
        with open(args.output, "w", encoding="utf-8") as fh:
            fh.write(text)
    if args.check:
        from . import numeric
        return numeric.check(text, args.output, parts, request)
    return 0
