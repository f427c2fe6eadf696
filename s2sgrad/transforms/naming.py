"""Every name the generated code introduces comes from here.

One Namer per generated module.  It knows every name the user's code uses, so an
adjoint `d_x`, a tape `tape_x` or a temporary never shadows a user variable: a user
variable called `d_x`, `d`, `grad` or `tape_y` just pushes ours to `d_x_1` and so on.
"""
from __future__ import annotations

import builtins
import keyword

ADJOINT_PREFIX = "d_"


class Namer:
    def __init__(self, taken: set[str] = ()):
        self.taken: set[str] = set(taken) | set(keyword.kwlist)
        self._adjoints: dict[str, str] = {}

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

    def adjoint(self, var: str) -> str:
        """The adjoint variable of `var`: d_var, the same one every time it is asked."""
        if var not in self._adjoints:
            self._adjoints[var] = self.fresh(ADJOINT_PREFIX + var)
        return self._adjoints[var]

    def tape(self, var: str) -> str:
        return self.fresh(f"tape_{var}")

    def saved(self, var: str) -> str:
        return self.fresh(f"{var}_saved")
