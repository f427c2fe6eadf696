"""The intermediate representation every pass reads and writes: `nodes` (expressions,
statements, functions, each keeping its source position) and `walk` (traversal).

Passes write `from .. import ir` and use `ir.Name`, `ir.walk_stmts`, ... from here.
"""
from .nodes import *  # noqa: F401,F403 - the node classes
from .nodes import __all__ as _nodes
from .walk import *  # noqa: F401,F403 - the traversal functions
from .walk import __all__ as _walk

__all__ = [*_nodes, *_walk]
