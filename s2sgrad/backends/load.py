"""Load generated source as a real module, so inspect, tracebacks and pdb show its lines.

For the python target the text is registered in linecache under a unique file name (as
sympy's lambdify does), then compiled and executed in a fresh namespace.

The compiled targets need a real file: numba's `cache=True` keeps its machine code
beside the module, in `__pycache__`.  Such modules are written to the cache directory
(`cache_dir()`: $S2SGRAD_CACHE_DIR, else $XDG_CACHE_HOME/s2sgrad, else
~/.cache/s2sgrad), in a folder per version of s2sgrad's own source, one file per source
text, named by the text's hash, so a second process loads the same file and numba finds
the code it compiled before.  Deleting the directory clears the cache.
"""
from __future__ import annotations

import functools
import hashlib
import importlib.util
import linecache
import os
import sys
import tempfile
import threading
import types
from pathlib import Path


def load(source: str, name: str, inject: dict | None = None) -> types.ModuleType:
    digest = hashlib.sha1(source.encode()).hexdigest()[:12]
    filename = f"<s2sgrad generated {name} {digest}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    module = types.ModuleType(f"s2sgrad_generated_{name}")
    module.__file__ = filename
    module.__dict__.update(inject or {})
    exec(compile(source, filename, "exec"), module.__dict__)
    return module


def cache_dir() -> Path:
    """Where compiled backends keep their generated modules and numba's machine code."""
    given = os.environ.get("S2SGRAD_CACHE_DIR")
    if given:
        return Path(given)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "s2sgrad"


@functools.lru_cache(maxsize=None)
def package_digest() -> str:
    """A digest of s2sgrad's own source.  numba's cached code refers to the runtime
    helpers' modules by name, so code compiled by another version of s2sgrad (or another
    layout of its package) must not be found: each version has a folder of its own."""
    root = Path(__file__).resolve().parent.parent
    h = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        h.update(str(path.relative_to(root)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:12]


# threads making the first call of one derivative at once load one module: one at a time,
# so that none writes another's temporary file or finds its module half run
_LOADING = threading.Lock()


def load_file(source: str, name: str, inject: dict | None = None) -> types.ModuleType:
    """Write the source to the cache directory (once per text) and import it from there."""
    with _LOADING:
        return _load_file(source, name, inject)


def _load_file(source: str, name: str, inject: dict | None) -> types.ModuleType:
    digest = hashlib.sha256(source.encode()).hexdigest()[:16]
    folder = cache_dir() / package_digest()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:  # a read-only home: the temporary directory still works, uncached across boots
        user = os.getuid() if hasattr(os, "getuid") else "user"
        folder = Path(tempfile.gettempdir()) / f"s2sgrad-{user}" / package_digest()
        folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}_{digest}.py"
    if not path.exists() or path.read_text() != source:
        # written whole, then renamed: another process never imports half a file, and an
        # unchanged file keeps its time stamp, which numba's cache index checks
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text(source)
        os.replace(partial, path)
    modname = f"s2sgrad_cache_{name}_{digest}"
    if modname in sys.modules and not inject:
        return sys.modules[modname]
    spec = importlib.util.spec_from_file_location(modname, path)
    module = importlib.util.module_from_spec(spec)
    module.__dict__.update(inject or {})
    # numba's cache finds a function's globals again by importing its module by name
    sys.modules[modname] = module
    spec.loader.exec_module(module)
    return module
