"""Every name the generated code introduces comes from here.

One Namer per generated module.  It knows every name the user's code uses, so an
adjoint `d_x`, a tape `tape_x` or a temporary never shadows a user variable: a user
variable called `d_x`, `d`, `grad` or `tape_y` just pushes ours to `d_x_1` and so on.

The other way round, the generated code needs some names of its own: the modules it
imports (np, math, numba), the builtins its printers write (range, len, float, ...) and
the runtime helpers it defines (unbroadcast, add_at, ...).  A user variable, parameter,
function or global under one of those names is printed under a fresh one instead
(`float` becomes `float_1`), so it never hides what the generated code calls.
"""
from __future__ import annotations

import builtins
import copy
import keyword

from .. import ir
from ..errors import UnsupportedSyntaxError
from ..runtime import MODULE_LEVEL_NAMES

ADJOINT_PREFIX = "d_"
# what generated code may refer to by name: imported modules, printed builtins, helpers
GENERATED_CODE_NAMES = frozenset({"np", "math", "numba", "cuda", "builtins"}) | frozenset({
    "float", "int", "bool", "len", "list", "tuple", "range", "reversed", "abs", "min", "max",
    "sum", "zip", "enumerate", "isinstance", "ValueError", "TypeError", "print"}) | MODULE_LEVEL_NAMES


class Namer:
    def __init__(self, taken: set[str] = ()):
        self.taken: set[str] = set(taken) | set(keyword.kwlist) | GENERATED_CODE_NAMES
        self._adjoints: dict[str, str] = {}
        self._avoiding: dict[str, str] = {}

    def reserve(self, names) -> None:
        self.taken |= set(names)

    def fresh(self, base: str) -> str:
        """A new name starting with `base`, unused so far, then reserved."""
        base = base if base.isidentifier() else "tmp"
        name, k = base, 1
        while name in self.taken or name in dir(builtins):
            name, k = f"{base}_{k}", k + 1
        self.taken.add(name)
        return name

    def instead_of(self, reserved: str) -> str:
        """The name a user's `reserved` (one of GENERATED_CODE_NAMES) is printed under: a
        fresh one, the same every time it is asked."""
        if reserved not in self._avoiding:
            self._avoiding[reserved] = self.fresh(reserved)
        return self._avoiding[reserved]

    def adjoint(self, var: str) -> str:
        """The adjoint variable of `var`: d_var, the same one every time it is asked."""
        if var not in self._adjoints:
            self._adjoints[var] = self.fresh(ADJOINT_PREFIX + var)
        return self._adjoints[var]

    def tape(self, var: str) -> str:
        return self.fresh(f"tape_{var}")

    def saved(self, var: str) -> str:
        return self.fresh(f"{var}_saved")


def rename_reserved(fn: ir.Function, namer: Namer) -> ir.Function:
    """fn with its parameters, variables, globals and imported callables named like
    something generated code refers to (GENERATED_CODE_NAMES) renamed, in place."""
    used = {fn.result, *fn.params} | ir.assigned_names(fn.body)
    renames = {v: namer.instead_of(v) for v in sorted(used & GENERATED_CODE_NAMES) if v}
    if not renames and not _reserved_globals(fn):
        return fn
    fn = copy.deepcopy(fn)  # the frontend's IR stays as the user wrote it
    for s in ir.walk_stmts(fn.body):
        for e in _names_of(s):
            if isinstance(e, ir.Raw) and e.reads & set(renames):
                raise UnsupportedSyntaxError(
                    f"a variable named `{sorted(e.reads & set(renames))[0]}` read in a formatted string",
                    e.pos, "rename the variable: generated code needs that name for itself.")
            if isinstance(e, ir.Name) and e.id in renames:
                e.id = renames[e.id]
            elif isinstance(e, (ir.Global, ir.Foreign)) and e.name in GENERATED_CODE_NAMES:
                e.name = namer.instead_of(e.name)
    fn.params = [renames.get(p, p) for p in fn.params]
    fn.defaults = {renames.get(p, p): v for p, v in fn.defaults.items()}
    fn.result = renames.get(fn.result, fn.result)
    return fn


def _reserved_globals(fn: ir.Function) -> bool:
    return any(isinstance(e, (ir.Global, ir.Foreign)) and e.name in GENERATED_CODE_NAMES
               for s in ir.walk_stmts(fn.body) for e in _names_of(s))


def _names_of(s: ir.Stmt):
    """Every expression node of a statement, loop and list targets included."""
    roots = list(ir.stmt_exprs(s))
    for attr in ("target", "seq", "into"):
        if isinstance(getattr(s, attr, None), ir.Expr):
            roots.append(getattr(s, attr))
    if isinstance(s, ir.CallAssign):
        roots += s.targets
    for root in roots:
        yield from ir.subexprs(root)
