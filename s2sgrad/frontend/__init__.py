"""The frontend: source -> IR.  source.py reads a live function (its text, positions and
the values of the names it reads), lowering.py lowers it and the functions it calls to
IR, controlflow.py makes break, continue and early return explicit."""
from .lowering import guessed_dicts, load_program
from .source import nonlocal_names, resolve_nonlocal, stop_gradient, unwrap

__all__ = ["guessed_dicts", "load_program", "nonlocal_names", "resolve_nonlocal", "stop_gradient", "unwrap"]
