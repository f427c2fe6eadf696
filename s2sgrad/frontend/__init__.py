"""The frontend: source -> IR.  source.py reads a live function (its text, positions and
the values of the names it reads), lowering.py lowers it and the functions it calls to
IR, controlflow.py makes break, continue and early return explicit."""
from . import reach
from .lowering import guessed_dicts, load_program
from .reach import as_function, is_static
from .source import nonlocal_names, resolve_nonlocal, stop_gradient, unwrap

__all__ = ["as_function", "guessed_dicts", "is_static", "load_program", "nonlocal_names", "reach",
           "resolve_nonlocal", "stop_gradient", "unwrap"]
