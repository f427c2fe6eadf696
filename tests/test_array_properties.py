"""Property tests for NumPy code: random array programs against finite differences.

The array counterpart of tests/test_properties.py.  Hypothesis writes small NumPy
functions from a grammar that tracks the shape of every variable, so every program is
valid by construction: element-wise arithmetic and functions with broadcasting on
purpose (scalars, (n,) with (m, n), (m, 1) with (1, n)), reductions with and without
axis and keepdims (functions and methods), matmul, transposes, reshapes, slices and
integer indices, reassignment and augmented assignment, `if` on a value computed from
the data, `for` loops carrying array state, element writes inside loops and lists of
arrays built by append.  Each program is saved as a real module (s2sgrad reads source
with inspect), and s2sgrad's gradient is checked against central finite differences.

Domains are kept by construction (`np.log(1.5 + v ** 2)`, `v / (1.5 + w ** 2)`,
`(1.5 + np.sin(v)) ** np.tanh(w)`, `np.exp(0.3 * v)`).  The rest is checked at the drawn
point by running an instrumented copy of the program first (`usable`): every comparison,
np.maximum/np.minimum and max reduction records how close it comes to a tie (a program
within 1e-3 of a kink is rejected), every assigned value is tracked (a program computing
values above 100 is rejected: there a step of 1e-6 is no longer small, and the finite
differences, not s2sgrad, would be wrong), and every in-place update (`v += ...`,
`y[i] = ...`) checks that no other variable or list shares the array (the grammar avoids
such aliasing, and the check makes sure).  s2sgrad refuses an in-place update of an array
that another name may refer to (an alias, a view bound to a name, an array appended to a
list), a documented limit; in a program that updates a variable in place, the grammar
turns the aliases and views of that variable into copies (`Program.separate`).

S2SGRAD_ARRAY_EXAMPLES=N overrides the number of examples (for long local runs).
"""
import ast
import copy
import itertools
import math
import os
import sys

import numpy as np
from hypothesis import HealthCheck, assume, given, note, settings
from hypothesis import strategies as st

from s2sgrad.testing import check_grads

sys.path.insert(0, os.path.dirname(__file__))
from sourcefiles import load  # noqa: E402  (tests/sourcefiles.py)

MAX_EXAMPLES = int(os.environ.get("S2SGRAD_ARRAY_EXAMPLES", "60"))
MARGIN = 1e-3   # smallest distance from a tie or kink accepted at the drawn point
LARGEST = 100.0  # largest value a program may compute at the drawn point


def broadcast(*shapes):
    return tuple(np.broadcast_shapes(*shapes))


def fmt_shape(shape):
    return f"({shape[0]},)" if len(shape) == 1 else "(" + ", ".join(map(str, shape)) + ")"


def paren(src):
    """src, in parentheses unless it is a name (so that `.T`, `[...]` bind to all of it)."""
    return src if src.isidentifier() else f"({src})"


VIEW_CALLS = ("reshape", "transpose", "ravel")


def view_base(node):
    """The variable an expression may share memory with (x for x, x[1:], x.T[0],
    x.reshape(...), np.transpose(x)), or None: what s2sgrad treats as a second name."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Subscript) or isinstance(node, ast.Attribute) and node.attr == "T":
        return view_base(node.value)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
            and node.func.attr in VIEW_CALLS:
        receiver = node.func.value
        if isinstance(receiver, ast.Name) and receiver.id == "np":
            return view_base(node.args[0]) if node.args else None
        return view_base(receiver)
    return None


def is_view(src):
    """Whether assigning src may make a second name for an existing array (or part of it)."""
    node = ast.parse(src, mode="eval").body
    if isinstance(node, (ast.Name, ast.Subscript, ast.Attribute)):
        return True
    if isinstance(node, ast.Call):
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        return name in ("reshape", "transpose", "ravel")
    return False


class Program:
    """Draws one program, statement by statement, tracking each variable's shape."""

    def __init__(self, draw):
        self.draw = draw
        self.m = draw(st.integers(1, 4))
        self.n = draw(st.integers(1, 4))
        m, n = self.m, self.n
        self.dims = sorted({m, n})
        self.universe = list(dict.fromkeys([(m, n), (n,), (m,), (m, 1), (1, n), (n, m), ()]))
        self.env = {}       # variable -> shape
        self.owned = set()  # variables whose array no other name (or list) shares: += is safe
        self.loops = []     # (index name, trip count) of the enclosing loops
        self.names = itertools.count()
        self.lines = []
        self.last = None    # the variable assigned last
        self.assigned = set()  # the variables the body assigns
        # for second names, see `separate`
        self.in_place = set()  # variables updated in place somewhere (v += ..., y[i] = ...)
        self.aliases = []      # (line, name, value, variable it may share, shape)
        self.appends = []      # (line, list, variable appended)

    # --- drawing helpers -----------------------------------------------------------------

    def choice(self, options):
        return self.draw(st.sampled_from(options))

    def chance(self, p):
        return self.draw(st.integers(0, 999)) < 1000 * p

    def fresh(self, base="v"):
        return f"{base}{next(self.names)}"

    # --- expressions ---------------------------------------------------------------------

    def subshapes(self, shape):
        """Shapes that broadcast to shape without changing it."""
        out = [shape, ()]
        if len(shape) >= 1:
            out += [shape[1:], (1,) * len(shape)]
        if len(shape) == 2:
            out += [(1, shape[1]), (shape[0], 1)]
        return list(dict.fromkeys(out))

    def broadcast_pair(self, shape):
        """Two operand shapes whose broadcast is exactly shape."""
        if len(shape) == 2 and self.chance(0.25):
            pair = [(shape[0], 1), (1, shape[1])]  # (m, 1) with (1, n): an outer operation
            return pair if self.chance(0.5) else pair[::-1]
        a = self.choice(self.subshapes(shape))
        b = self.choice(self.subshapes(shape))
        if broadcast(a, b) != shape:
            a, b = (shape, b) if self.chance(0.5) else (a, shape)
        return a, b

    def reductions(self, src, shape):
        """(expression, result shape) for each reduction of src (of this shape)."""
        out = []
        nd = len(shape)
        if nd == 0:
            return out
        for fn in ("sum", "mean", "max", "var"):
            out.append((f"np.{fn}({src})", ()))
            out.append((f"{paren(src)}.{fn}()", ()))
            out.append((f"np.{fn}({src}, keepdims=True)", (1,) * nd))
            for ax in range(nd):
                kept = shape[:ax] + (1,) + shape[ax + 1:]
                dropped = shape[:ax] + shape[ax + 1:]
                for a in (ax, ax - nd):
                    out.append((f"np.{fn}({src}, axis={a})", dropped))
                    out.append((f"{paren(src)}.{fn}(axis={a})", dropped))
                    out.append((f"np.{fn}({src}, axis={a}, keepdims=True)", kept))
                    out.append((f"{paren(src)}.{fn}(axis={a}, keepdims=True)", kept))
                if fn == "sum":
                    out.append((f"np.sum({src}, {ax})", dropped))  # positional axis
        return out

    def views(self, src, shape):
        """(expression, shape) for the cheap reshapes, slices and indices of src."""
        s = paren(src)
        out = []
        nd = len(shape)
        if nd >= 1:
            out.append((f"{s}[::-1]", shape))
            out.append((f"{s}[0]", shape[1:]))
            out.append((f"{s}[-1]", shape[1:]))
            if shape[0] > 1:
                out.append((f"{s}[1:]", (shape[0] - 1,) + shape[1:]))
                out.append((f"{s}[:-1]", (shape[0] - 1,) + shape[1:]))
            for i, k in self.loops:
                if shape[0] >= k:
                    out.append((f"{s}[{i}]", shape[1:]))
                    out.append((f"{s}[{i} - 1]", shape[1:]))
        if nd == 1:
            k = shape[0]
            out += [(f"{s}[:, None]", (k, 1)), (f"{s}[None, :]", (1, k)),
                    (f"{s}.reshape({k}, 1)", (k, 1)), (f"np.reshape({src}, (1, {k}))", (1, k))]
        if nd == 2:
            a, b = shape
            out += [(f"{s}.T", (b, a)), (f"np.transpose({src})", (b, a)),
                    (f"{s}[:, 0]", (a,)), (f"{s}[:, -1]", (a,)), (f"{s}[:, ::-1]", shape),
                    (f"{s}.reshape(-1)", (a * b,)), (f"{s}.reshape({b}, {a})", (b, a)),
                    (f"np.reshape({src}, ({a * b},))", (a * b,)), (f"{s}[0, -1]", ()),
                    (f"{s}[:, None, 0]", (a, 1))]
            if b > 1:
                out.append((f"{s}[:, 1:]", (a, b - 1)))
            for i, k in self.loops:
                if b >= k:
                    out.append((f"{s}[:, {i}]", (a,)))
                if a >= k:
                    out.append((f"{s}[{i}, 0]", ()))
        return out

    def candidates(self, shape):
        """Variables and constants of this shape; views and reductions of variables."""
        direct = [v for v, s in self.env.items() if s == shape]
        if shape == () and (not direct or self.chance(0.3)):
            direct += ["0.5", "1.3", "-0.7"] + [f"({i} + 1.0)" for i, _ in self.loops]
        derived = []
        for v, s in self.env.items():
            derived += [e for e, t in self.views(v, s) + self.reductions(v, s) if t == shape]
        return direct, derived

    def leaf(self, shape):
        """A variable, a constant, or a view or reduction of a variable, of this shape."""
        direct, derived = self.candidates(shape)
        if direct and (not derived or self.chance(0.6)):
            return self.choice(direct)
        if derived:
            return self.choice(derived)
        # nothing has this shape: an outer operation, else a broadcast number
        if len(shape) == 2:
            column, row = (shape[0], 1), (1, shape[1])
            if any(self.candidates(column)) and any(self.candidates(row)):
                return f"({self.leaf(column)} * {self.leaf(row)})"
        return f"({self.leaf(())} * np.ones({fmt_shape(shape)}))"

    def expr(self, shape, depth=2):
        if depth <= 0 or self.chance(0.3):
            return self.leaf(shape)
        d = depth - 1
        form = self.choice(["arith", "arith", "unary", "unary", "div", "pow", "maximum", "where",
                            "reduce", "reduce", "matmul", "transpose", "reshape", "index"])
        if form == "arith":
            a, b = self.broadcast_pair(shape)
            return f"({self.expr(a, d)} {self.choice(['+', '-', '*'])} {self.expr(b, d)})"
        if form == "div":
            a, b = self.broadcast_pair(shape)
            return f"({self.expr(a, d)} / (1.5 + {paren(self.expr(b, d))} ** 2))"
        if form == "unary":
            a = self.expr(shape, d)
            return self.choice([f"np.sin({a})", f"np.cos({a})", f"np.tanh({a})",
                                f"np.exp(0.3 * {paren(a)})", f"np.log(1.5 + {paren(a)} ** 2)",
                                f"np.sqrt(1.5 + {paren(a)} ** 2)", f"(-{paren(a)})",
                                f"{paren(a)} ** 2", f"{paren(a)} ** 3"])
        if form == "pow":
            a, b = self.broadcast_pair(shape)
            if self.chance(0.5):
                return f"(1.5 + np.sin({self.expr(a, d)})) ** np.tanh({self.expr(b, d)})"
            return f"(1.5 + {paren(self.expr(shape, d))} ** 2) ** {self.choice(['0.5', '-1.5'])}"
        if form == "maximum":
            a, b = self.broadcast_pair(shape)
            fn = self.choice(["maximum", "maximum", "minimum"])
            return f"np.{fn}({self.expr(a, d)}, {self.expr(b, d)})"
        if form == "where":
            a, b = self.broadcast_pair(shape)
            c1, c2 = self.choice(self.subshapes(shape)), self.choice(self.subshapes(shape))
            op = self.choice([">", "<"])
            return (f"np.where({self.expr(c1, d)} {op} {self.expr(c2, d)}, "
                    f"{self.expr(a, d)}, {self.expr(b, d)})")
        if form == "reduce":
            sources = list(dict.fromkeys(list(self.env.values()) + self.universe))
            options = [(j, s) for s in sources if s != ()
                       for j, (_, t) in enumerate(self.reductions("z", s)) if t == shape]
            if not options:
                return self.leaf(shape)
            j, source = self.choice(options)
            return self.reductions(self.expr(source, d), source)[j][0]
        if form == "matmul" and len(shape) <= 2:
            k = self.choice(self.dims)
            if len(shape) == 0:
                a, b = (k,), (k,)
            elif len(shape) == 1:
                a, b = self.choice([((shape[0], k), (k,)), ((k,), (k, shape[0]))])
            else:
                a, b = (shape[0], k), (k, shape[1])
            return f"({self.expr(a, d)} @ {self.expr(b, d)})"
        if form == "transpose" and len(shape) == 2:
            return f"{paren(self.expr(shape[::-1], d))}.T"
        if form == "reshape" and shape != ():
            size = math.prod(shape)
            sources = [s for s in dict.fromkeys(list(self.env.values()) + self.universe)
                       if s != () and s != shape and math.prod(s) == size]
            if sources:
                src = self.expr(self.choice(sources), d)
                target = ", ".join(map(str, shape))
                return self.choice([f"{paren(src)}.reshape({target})",
                                    f"np.reshape({src}, {fmt_shape(shape)})"]
                                   + ([f"{paren(src)}.reshape(-1)"] if len(shape) == 1 else []))
        if form == "index":
            sources = list(dict.fromkeys(list(self.env.values()) + self.universe))
            options = [(j, s) for s in sources
                       for j, (_, t) in enumerate(self.views("z", s)) if t == shape]
            if options:
                j, source = self.choice(options)
                return self.views(self.expr(source, d), source)[j][0]
        return self.leaf(shape)

    # --- statements ----------------------------------------------------------------------

    def emit(self, indent, line):
        self.lines.append("    " * indent + line)

    def bind(self, indent, name, src, shape, op="="):
        """name op src, keeping track of shapes and of arrays that have two names."""
        base = view_base(ast.parse(src, mode="eval").body) if op == "=" else None
        if base is not None:
            self.aliases.append((len(self.lines), name, src, base, shape))
        elif op != "=":
            self.in_place.add(name)
        self.emit(indent, f"{name} {op} {src}")
        self.assigned.add(name)
        if op == "=":
            self.env[name] = shape
            if is_view(src):
                self.owned.discard(name)
                for n in {x.id for x in ast.walk(ast.parse(src)) if isinstance(x, ast.Name)}:
                    self.owned.discard(n)
            else:
                self.owned.add(name)
        self.last = name

    def statement(self, indent, new_ok, depth):
        """One statement; new_ok: a new variable may be bound (it would be bound on every path)."""
        kinds = ["reassign", "reassign", "aug"] + (["new", "new", "new"] if new_ok else [])
        if depth < 2:
            kinds += ["if", "for"]
            if new_ok:
                kinds += ["write", "list"]
        if new_ok and not self.loops:
            kinds.append("rebind")
        if self.loops and any(len(s) == 1 for s in self.env.values()):
            kinds.append("recurrent")
        kind = self.choice(kinds)
        getattr(self, "stmt_" + kind)(indent, new_ok, depth)

    def block(self, indent, new_ok, depth, most=3):
        for _ in range(self.draw(st.integers(1, most))):
            self.statement(indent, new_ok, depth)

    def stmt_new(self, indent, new_ok, depth):
        shape = self.choice(list(dict.fromkeys(self.universe + list(self.env.values()))))
        self.bind(indent, self.fresh(), self.expr(shape), shape)

    def stmt_reassign(self, indent, new_ok, depth):
        v = self.choice(sorted(self.env))
        shape = self.env[v]
        if len(shape) > 0 and self.chance(0.3):  # v = v * w, w broadcasting into v
            w = self.expr(self.choice(self.subshapes(shape)), 1)
            src = f"{v} {self.choice(['*', '+', '-'])} {paren(w)}"
        else:
            src = self.expr(shape)
            if self.chance(0.5):
                src = f"np.tanh({src})"  # keep loop-carried values bounded
        self.bind(indent, v, src, shape)

    def stmt_rebind(self, indent, new_ok, depth):
        """A variable takes a value of another shape (possibly a number)."""
        v = self.choice(sorted(self.env))
        shape = self.choice([s for s in self.universe if s != self.env[v]])
        self.bind(indent, v, self.expr(shape), shape)

    def stmt_aug(self, indent, new_ok, depth):
        targets = sorted(v for v, s in self.env.items() if s == () or v in self.owned)
        if not targets:
            return self.stmt_reassign(indent, new_ok, depth)
        v = self.choice(targets)
        shape = self.env[v]
        op = self.choice(["+=", "-=", "*=", "/="])
        src = self.expr(self.choice(self.subshapes(shape)), 1)
        if op == "/=":
            src = f"1.5 + {paren(src)} ** 2"
        elif op == "*=":
            src = f"np.tanh({src})"
        self.bind(indent, v, src, shape, op)

    def stmt_recurrent(self, indent, new_ok, depth):
        """h = np.tanh(W @ h + b), h a vector carried by the enclosing loop."""
        h = self.choice(sorted(v for v, s in self.env.items() if len(s) == 1))
        (p,) = self.env[h]
        k = self.choice([p] + self.dims)
        w = self.expr((p, p), 1) if k == p and self.chance(0.5) else None
        src = f"np.tanh({w or self.expr((p, p), 1)} @ {h} + {self.expr((p,), 1)})"
        self.bind(indent, h, src, (p,))

    def condition(self):
        threshold = f"{self.draw(st.integers(-800, 800)) / 1000 + 0.0137:.4f}"
        op = self.choice([">", "<"])
        if self.chance(0.5):
            shape = self.choice(list(dict.fromkeys(list(self.env.values()) + self.universe)))
            value = self.expr(shape, 1)
            value = f"np.sum({value})" if shape else value
        else:
            value = self.expr((), 2)
        return f"{value} {op} {threshold}"

    def stmt_if(self, indent, new_ok, depth):
        self.emit(indent, f"if {self.condition()}:")
        self.block(indent + 1, False, depth + 1, 2)
        if self.chance(0.6):
            self.emit(indent, "else:")
            self.block(indent + 1, False, depth + 1, 2)

    def trip_count(self):
        arrays = sorted(v for v, s in self.env.items() if s)
        if arrays and self.chance(0.4):
            v = self.choice(arrays)
            return self.choice([f"len({v})", f"{v}.shape[0]"]), self.env[v][0]
        k = self.draw(st.integers(1, 3))
        return str(k), k

    def stmt_for(self, indent, new_ok, depth):
        bound, k = self.trip_count()
        i = f"i{len(self.loops)}"
        self.emit(indent, f"for {i} in range({bound}):")
        self.loops.append((i, k))
        # a variable first bound in the loop is bound after it too (k >= 1), unless the
        # loop itself is inside an if
        self.block(indent + 1, new_ok, depth + 1, 3)
        self.loops.pop()

    def stmt_write(self, indent, new_ok, depth):
        """y = np.zeros(...); for i in range(k): y[slot] = ..., slots written twice too."""
        k = self.draw(st.integers(1, 4))
        row = self.choice([(), (), (self.n,), (self.m, 1)])
        y = self.fresh("y")
        shape = (k,) + row
        self.emit(indent, f"{y} = {self.choice(['np.zeros', 'np.ones'])}({fmt_shape(shape)})")
        self.env[y] = shape
        self.in_place.add(y)
        self.owned.add(y)
        self.assigned.add(y)
        i = f"i{len(self.loops)}"
        self.emit(indent, f"for {i} in range({k}):")
        self.loops.append((i, k))
        slots = [i, i, "0", "-1", f"{i} - 1"] + ([f"{i} % 2"] if k >= 2 else [])
        for _ in range(self.draw(st.integers(1, 3))):
            if self.chance(0.3):
                self.statement(indent + 1, False, depth + 1)
            slot = self.choice(slots)
            value = self.expr(row)
            if self.chance(0.3):
                self.emit(indent + 1, f"{y}[{slot}] += {value}")
            else:
                self.emit(indent + 1, f"{y}[{slot}] = {value}")
        self.loops.pop()
        self.last = y

    def stmt_list(self, indent, new_ok, depth):
        """hs = []; a loop appends arrays; another loop sums them back."""
        shape = self.choice([s for s in self.universe if s])
        hs, t = self.fresh("hs"), self.fresh("t")
        self.emit(indent, f"{hs} = []")
        bound, k = self.trip_count()
        i = f"i{len(self.loops)}"
        self.emit(indent, f"for {i} in range({bound}):")
        self.loops.append((i, k))
        if self.chance(0.5):
            self.statement(indent + 1, False, depth + 1)
        item = self.expr(shape)
        if item.isidentifier():
            self.appends.append((len(self.lines), hs, item))
        self.emit(indent + 1, f"{hs}.append({item})")
        if is_view(item):
            for n in {x.id for x in ast.walk(ast.parse(item)) if isinstance(x, ast.Name)}:
                self.owned.discard(n)
        self.loops.pop()
        how = self.choice(["for", "range", "stack", "ends"])
        if how == "for":
            p = self.fresh("p")
            self.emit(indent, f"{t} = np.zeros({fmt_shape(shape)})")
            self.emit(indent, f"for {p} in {hs}:")
            self.emit(indent + 1, f"{t} = {t} + {p} * {self.leaf(())}")
        elif how == "range":
            j = f"i{len(self.loops)}"
            self.emit(indent, f"{t} = 0.0")
            self.emit(indent, f"for {j} in range(len({hs})):")
            self.emit(indent + 1, f"{t} = {t} + {hs}[{j}] * ({j} + 1.0)")
        elif how == "stack":
            self.emit(indent, f"{t} = np.sum(np.stack({hs}) ** 2, axis=0)")
        else:
            self.emit(indent, f"{t} = {hs}[0] * {hs}[-1]")
        self.env[t] = shape
        self.owned.add(t)
        self.assigned.add(t)
        self.last = t

    def separate(self):
        """Copy where s2sgrad would see two names for an array that is updated in place.

        s2sgrad refuses an in-place update (`v += ...`, `y[i] = ...`) of an array that
        another name may refer to anywhere in the function (an alias `u = v`, a view
        `u = v[1:]`, `v.T`, `v.reshape(...)`, an array appended to a list), whether or not
        they share memory when the update runs.  That is a documented limit, so where a
        variable is updated in place, its aliases and views become copies (`u = v[1:] * 1.0`).
        (More often than s2sgrad needs: it accepts a second name that is rebound or no
        longer read by the time of the update.)  A number read out of an array (`a = y[0]`
        of a vector) is no second name, and stays.
        """
        for line, name, src, base, shape in self.aliases:
            number_read = shape == () and not src.isidentifier()
            if {name, base} & self.in_place and not number_read:
                pad = self.lines[line][:len(self.lines[line]) - len(self.lines[line].lstrip())]
                self.lines[line] = f"{pad}{name} = {paren(src)} * 1.0"
        for line, hs, item in self.appends:
            if item in self.in_place:
                self.lines[line] = self.lines[line].replace(f"({item})", f"({item} * 1.0)")

    # --- the function ----------------------------------------------------------------------

    def build(self):
        m, n = self.m, self.n
        params = ["x0"]
        self.env["x0"] = (m, n)
        for j in range(self.draw(st.integers(0, 2))):
            params.append(f"x{j + 1}")
            self.env[params[-1]] = self.choice([(n,), (m,), (m, n), (m, 1), (1, n), (n, m)])
        if self.chance(0.5):
            params.append("s")
            self.env["s"] = ()
        shapes = {p: self.env[p] for p in params}
        self.block(1, True, 0, 4)
        self.separate()
        self.assigned.discard(self.last)
        out_shape = self.choice([s for s in self.universe if s])
        terms = [(self.expr(out_shape), out_shape)]
        # the final value of every variable the body assigned reaches the output
        for v in [self.last] + sorted(self.assigned)[:3]:
            if v is not None:
                terms.append((v, self.env[v]))
        weights = {}
        ret = []
        for value, shape in terms:
            if shape:
                weights[f"w{len(weights)}"] = shape
                ret.append(f"np.sum(w{len(weights) - 1} * {paren(value)})")
            else:
                ret.append(f"{self.draw(st.integers(-900, 900)) / 1000:.3f} * {paren(value)}")
        ret = " + ".join(ret)
        head = f"def f({', '.join(params + list(weights))}):"
        source = "\n".join(["import numpy as np", "", "", head, *self.lines,
                            f"    return {ret}", ""])
        return source, shapes, weights


@st.composite
def programs(draw):
    return Program(draw).build()


# --- is the drawn point a fair test? ---------------------------------------------------------

def _k(attr):
    return ast.Attribute(ast.Name("K", ast.Load()), attr, ast.Load())


def _load(target):
    """target (a Name or Subscript being assigned) as an expression that reads it."""
    return ast.parse(ast.unparse(target), mode="eval").body


class Probe:
    """What a run of the instrumented program saw: how close each comparison, each
    np.maximum/np.minimum and each max reduction came to a tie, the largest value
    assigned, and whether an array was updated in place while another name shared it."""

    def __init__(self):
        self.margin = math.inf
        self.largest = 0.0
        self.aliased = False

    def note(self, gap):
        gap = np.abs(np.asarray(gap, dtype=float))
        if gap.size:
            self.margin = min(self.margin, float(np.min(gap)))

    def gt(self, a, b):
        self.note(np.asarray(a) - np.asarray(b))
        return a > b

    def lt(self, a, b):
        self.note(np.asarray(a) - np.asarray(b))
        return a < b

    def maximum(self, a, b):
        self.note(np.asarray(a) - np.asarray(b))
        return np.maximum(a, b)

    def minimum(self, a, b):
        self.note(np.asarray(a) - np.asarray(b))
        return np.minimum(a, b)

    def amax(self, a, axis=None, keepdims=False):
        a = np.asarray(a)
        flat = a.reshape(-1) if axis is None else np.moveaxis(a, axis, -1)
        flat = flat.reshape(-1, flat.shape[-1]) if flat.ndim else flat.reshape(1, 1)
        if flat.shape[-1] >= 2:
            top = np.sort(flat, axis=-1)
            self.note(top[..., -1] - top[..., -2])
        return np.max(a, axis=axis, keepdims=keepdims)

    def track(self, value):
        if np.size(value):
            self.largest = max(self.largest, float(np.max(np.abs(value))))
        return value

    def alone(self, names, name):
        """Before name is updated in place: does another variable share its memory?"""
        target = names[name]
        if not isinstance(target, np.ndarray):
            return
        for other, value in names.items():
            values = value if isinstance(value, list) else [value]
            for v in values:
                if other != name and isinstance(v, np.ndarray) and np.shares_memory(v, target):
                    self.aliased = True


class Instrument(ast.NodeTransformer):
    """Routes comparisons, np.maximum/np.minimum, np.max and .max() through a Probe `K`,
    tracks every assigned value, and checks in-place updates for shared arrays."""

    def visit_Compare(self, node):
        self.generic_visit(node)
        (op,), (right,) = node.ops, node.comparators
        name = {ast.Gt: "gt", ast.Lt: "lt"}[type(op)]
        return ast.Call(_k(name), [node.left, right], [])

    def visit_Call(self, node):
        self.generic_visit(node)
        func = node.func
        if isinstance(func, ast.Attribute):
            np_call = isinstance(func.value, ast.Name) and func.value.id == "np"
            if np_call and func.attr in ("maximum", "minimum"):
                node.func = _k(func.attr)
            elif np_call and func.attr == "max":
                node.func = _k("amax")
            elif func.attr == "max":  # v.max(...)
                node.func = _k("amax")
                node.args = [func.value] + node.args
        return node

    def _in_place(self, node, target):
        """Statements around node, which updates target (a Name or a Subscript) in place."""
        base = target.value if isinstance(target, ast.Subscript) else target
        check = ast.Expr(ast.Call(_k("alone"), [ast.Call(ast.Name("locals", ast.Load()), [], []),
                                                ast.Constant(base.id)], []))
        track = ast.Expr(ast.Call(_k("track"), [_load(target)], []))
        return [check, node, track]

    def visit_Assign(self, node):
        self.generic_visit(node)
        (target,) = node.targets
        if isinstance(target, ast.Subscript):
            return self._in_place(node, target)
        node.value = ast.Call(_k("track"), [node.value], [])
        return node

    def visit_AugAssign(self, node):
        self.generic_visit(node)
        return self._in_place(node, node.target)


def usable(source, args):
    """Whether finite differences can judge f at args: no tie or kink within MARGIN, no
    value above LARGEST (where a step of 1e-6 stops being small), no overflow, and no
    in-place update of an array that another variable shares."""
    tree = ast.fix_missing_locations(Instrument().visit(ast.parse(source)))
    probe = Probe()
    namespace = {"K": probe}
    exec(compile(tree, "<instrumented>", "exec"), namespace)
    try:
        with np.errstate(all="raise"):
            value = namespace["f"](*copy.deepcopy(args))
    except FloatingPointError:
        return False
    return (bool(np.isfinite(value)) and abs(value) <= LARGEST and probe.largest <= LARGEST
            and probe.margin > MARGIN and not probe.aliased)


def point(shapes, weights, seed):
    rng = np.random.default_rng(seed)
    args = [rng.uniform(-1.2, 1.2, shape) if shape else float(rng.uniform(-1.0, 1.0))
            for shape in shapes.values()]
    args += [rng.uniform(-1.5, 1.5, shape) if shape else 0.0 for shape in weights.values()]
    return args


@settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=not os.environ.get("S2SGRAD_EXPLORE"),
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                 HealthCheck.data_too_large])
@given(program=programs(), seed=st.integers(0, 2 ** 32 - 1))
def test_random_array_programs_match_finite_differences(program, seed):
    source, shapes, weights = program
    args = point(shapes, weights, seed)
    note(source)
    note(f"args = {[a.tolist() if isinstance(a, np.ndarray) else a for a in args]!r}")
    assume(usable(source, args))
    f = load(source, "arrayprop")
    try:
        check_grads(f, *args, wrt=tuple(range(len(shapes))))
    except AssertionError:
        raise
    except Exception as exc:
        # raised here, so that Hypothesis sees the same failure each time it replays it
        # (an error inside generated code carries a per-module file name)
        raise AssertionError(f"s2sgrad raised {type(exc).__name__}: {exc}") from exc
