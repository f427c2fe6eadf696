"""Load generated source as a real module, so inspect, tracebacks and pdb show its lines.

The text is registered in linecache under a unique file name (as sympy's lambdify does),
then compiled and executed in a fresh namespace.
"""
from __future__ import annotations

import hashlib
import linecache
import types


def load(source: str, name: str, inject: dict | None = None) -> types.ModuleType:
    digest = hashlib.sha1(source.encode()).hexdigest()[:12]
    filename = f"<s2sgrad generated {name} {digest}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    module = types.ModuleType(f"s2sgrad_generated_{name}")
    module.__file__ = filename
    module.__dict__.update(inject or {})
    exec(compile(source, filename, "exec"), module.__dict__)
    return module
