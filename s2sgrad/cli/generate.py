"""`s2sgrad grad`: the derivatives of functions of a file read statically (reading.py),
generated with s2sgrad's API, as the pieces writing.py puts into one module.

    request = Request("model.py", ["loss"], wrt=["w"], mode="reverse")
    parts, kept = derivatives(request)   # nothing of model.py has run
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

from .. import api, frontend
from ..analysis import kinds
from ..errors import RankUnknownError, UndefinedNameError
from .reading import Binding, FileReadError, Reader, StaticModule

# --like x=float,y=array2d: the kinds of arguments code is generated for
LIKE_KINDS = {"float": (kinds.SCALAR, "float"), "int": (kinds.SCALAR, "int"), "array": (kinds.ANY_ARRAY, None),
              "list": (kinds.list_of(kinds.SCALAR), None)}
LIKE_PATTERN = re.compile(r"array([0-9])d")


@dataclass
class Request:
    file: str
    functions: list[str]            # empty with every_function: the file's public functions
    wrt: list[str] | None = None    # None: the first parameter
    mode: str = "reverse"
    backend: str = "python"
    like: dict[str, str] = field(default_factory=dict)
    every_function: bool = False


@dataclass
class Part:
    """One generated derivative: its function's name, its text, the kinds it was made for."""

    function: str
    name: str
    source: str
    param_kinds: tuple
    params: list[str]
    wrt: list[str]


def like_kind(text: str):
    """(Kind, number type) of one --like entry."""
    if text in LIKE_KINDS:
        return LIKE_KINDS[text]
    match = LIKE_PATTERN.fullmatch(text)
    if match:
        return kinds.array(int(match.group(1))), ("float" if match.group(1) == "0" else None)
    raise ValueError(f"unknown kind {text!r}: expected float, int, list, array or array1d, array2d, ...")


def derivatives(request: Request) -> tuple[list[Part], list[Binding], Reader]:
    """The generated derivatives, the definitions of the functions they come from, the reader."""
    reader = Reader()
    module = reader.read(request.file)
    names = request.functions or module.public_functions()
    if not names:
        raise FileReadError(f"{module.path} defines no public function to differentiate")
    parts, kept = [], []
    for name in names:
        pyfunc = _function(module, name)
        parts.append(_derivative(reader, request, name, pyfunc))
        for key in frontend.load_program(pyfunc)[1]:
            binding = _definition(reader, key)
            if binding not in kept:
                kept.append(binding)
    return parts, kept, reader


def _function(module: StaticModule, name: str):
    value = module.namespace.get(name)
    binding = module.bindings.get(name)
    if binding is not None and binding.kind in ("def", "alias") and callable(value):
        return value
    if name in module.skipped:
        why, pos = module.skipped[name]
        raise FileReadError(f"`{name}` cannot be read without running {module.path}: {why}", pos,
                            hint="s2sgrad reads the file without running it; write the function as a plain "
                                 "def with constant defaults.")
    defined = module.public_functions()
    raise FileReadError(f"{module.path} defines no function `{name}`",
                        hint=f"its functions: {', '.join(defined)}." if defined else "it defines no function.")


def _derivative(reader: Reader, request: Request, name: str, pyfunc) -> Part:
    wrt = 0 if not request.wrt else request.wrt[0] if len(request.wrt) == 1 else tuple(request.wrt)
    make = api.grad if request.mode == "reverse" else api.jvp
    try:
        d = make(pyfunc, wrt=wrt, backend=request.backend)
        source, param_kinds = _source(d, request.like, request.backend)
    except UndefinedNameError as exc:
        raise _why_undefined(reader, exc) from None
    except RankUnknownError as exc:
        hint = (exc.hint + " " if exc.hint else "") + "On the command line, give the arguments' kinds: " \
            "--like x=array1d,y=float."
        raise RankUnknownError(exc.message, exc.pos, hint) from None
    expected = f"{'grad' if request.mode == 'reverse' else 'jvp'}_{name}"
    if d.__name__ != expected:
        raise FileReadError(f"the file already uses the name `{expected}`, which the written module defines",
                            hint=f"rename it in {request.file}.")
    return Part(name, expected, source, param_kinds, list(d.params), list(d.wrt))


def _source(d, like: dict, backend: str):
    """The generated module's text, for the kinds --like gives (the others guessed from the body)."""
    if not like:
        if d.latest_kinds is None:
            d.latest_variant()  # raises what the guessed kinds left unknown
        return d.source, d.latest_kinds
    unknown = set(like) - set(d.params)
    if unknown:
        raise FileReadError(f"--like names {', '.join(sorted(unknown))}, which are not parameters of "
                            f"{d.f.__name__} ({', '.join(d.params)})")
    guessed = d.latest_kinds or tuple(kinds.SCALAR for _ in d.params)
    given = {p: like_kind(like[p]) for p in like}
    param_kinds = tuple(given[p][0] if p in given else k for p, k in zip(d.params, guessed))
    types = None
    if backend != "python":
        types = tuple(given[p][1] if p in given else ("float" if k == kinds.SCALAR else None)
                      for p, k in zip(d.params, param_kinds))
    return d.variant(param_kinds, types).source, param_kinds


def _definition(reader: Reader, pyfunc) -> Binding:
    code = getattr(pyfunc, "__wrapped__", pyfunc).__code__
    for module in reader.modules.values():
        if code in module.defs:
            return module.defs[code]
    raise FileReadError(f"{pyfunc.__qualname__} was not read from a file")  # not reached: all defs are read


def _why_undefined(reader: Reader, exc: UndefinedNameError) -> UndefinedNameError:
    """The frontend's error, saying why the name has no value when the file was read."""
    match = re.match(r"name `(\w+)` is not defined", exc.message)
    module = reader.modules.get(os.path.abspath(exc.pos.file)) if exc.pos is not None else None
    if match and module is not None and match.group(1) in module.skipped:
        why, where = module.skipped[match.group(1)]
        line = where.render().splitlines()
        hint = (f"{why}: {line[0].strip()[3:]}: `{line[1].strip()}`. s2sgrad reads the file without running "
                f"it; define the name with a constant or a def it can read, or pass it as an argument.")
        return UndefinedNameError(exc.message, exc.pos, hint)
    return exc


def function_of(file: str, name: str):
    """FUNC of FILE read statically: what the compare and graph commands take."""
    return _function(Reader().read(file), name)
