"""Python's conveniences, lowered to the loops and statements the transforms already reverse.

A mixin of lowering.Lowerer (it reads and writes the lowerer's names, positions and
temporaries); each method turns one construct into plain IR:

- a loop with a tuple target, over enumerate(...) or zip(...), runs over the indices:
  `for i, (a, b) in enumerate(zip(xs, ys)):` becomes
      for i in range(min(len(xs), len(ys))):
          a = xs[i]
          b = ys[i]
  (a range inside zip gives `start + k * step`, enumerate's start `k + start`);
- a list comprehension `[f(x) for x in xs if c]` becomes an empty list on a fresh name,
  the same loop (its variables renamed, since they do not leak out of it) and appends;
- `sum(seq)`, `sum(<generator>)`: a fresh accumulator that starts at 0.0 (or the
  start given) and adds the items left to right, as Python's sum (before 3.12) does;
- `a = b = e`: e once, into the first target, then `b = a`;
- `del x`: nothing, when x is never read again;
- `xs = xs + [u, v]`, `xs += [v]` on a list variable: appends; `[a] + [b, c]`: one list;
- `import numpy as np`, `from math import sin` at the top of the body: names resolved
  like module-level ones (only numpy, math and scipy.special).
Whatever else of these forms is refused at its position, with what to write instead.
"""
from __future__ import annotations

import builtins
import importlib
from dataclasses import dataclass

import libcst as cst

from .. import ir
from ..errors import UnsupportedSyntaxError

IMPORTABLE = ("math", "numpy", "scipy.special")  # modules a function may import for itself


# ---------------------------------------------------------------------- what a loop runs over
@dataclass
class _Counter:
    """enumerate's index: k + start."""
    start: ir.Expr | None


@dataclass
class _Sequence:
    """A list, tuple or array in a variable: item k is seq[k]."""
    seq: ir.Name


@dataclass
class _Range:
    """range(start, stop, step) with its bounds in variables or constants: item k is start + k * step."""
    args: list


@dataclass
class _Zip:
    parts: list


def _length(src) -> ir.Expr:
    if isinstance(src, _Sequence):
        return ir.Call(ir.Lib("builtins", "len"), [ir.Name(src.seq.id)])
    if isinstance(src, _Range):
        return ir.Call(ir.Lib("builtins", "len"), [ir.Call(ir.Lib("builtins", "range"), list(src.args))])
    lengths = [_length(p) for p in src.parts if not isinstance(p, _Counter)]
    return lengths[0] if len(lengths) == 1 else ir.Call(ir.Lib("builtins", "min"), lengths)


def _item(src, k: str) -> ir.Expr:
    if isinstance(src, _Counter):
        if src.start is None or (isinstance(src.start, ir.Const) and src.start.value == 0):
            return ir.Name(k)
        return ir.BinOp("+", ir.Name(k), src.start)
    if isinstance(src, _Sequence):
        return ir.Subscript(ir.Name(src.seq.id), ir.Name(k))
    if isinstance(src, _Range):
        start, _, step = src.args
        offset = ir.Name(k) if isinstance(step, ir.Const) and step.value == 1 else ir.BinOp("*", ir.Name(k), step)
        return offset if isinstance(start, ir.Const) and start.value == 0 else ir.BinOp("+", start, offset)
    return ir.TupleExpr([_item(p, k) for p in src.parts])


def _target_names(node) -> list[str]:
    if isinstance(node, cst.Name):
        return [node.value]
    if isinstance(node, (cst.Tuple, cst.List)):
        return [n for el in node.elements for n in _target_names(el.value)]
    return []


class Desugaring:
    """Lowerer methods for the constructs above (see the module docstring)."""

    # ------------------------------------------------------------------ loops
    def loop_kind(self, node) -> str:
        """What a loop iterates: "enumerate", "zip", "range" or "seq"."""
        if isinstance(node, cst.Call):
            f = self.resolve_callee(node.func)
            for kind, obj in (("enumerate", enumerate), ("zip", zip), ("range", range)):
                if f is obj:
                    return kind
        return "seq"

    def loop_source(self, node, pre: list):
        """The sources of a loop's items, their operands evaluated once into `pre`."""
        kind = self.loop_kind(node)
        if kind == "enumerate":
            args = self._plain_args(node, ("start",), "enumerate(seq, start)")
            if not 1 <= len(args) <= 2:
                raise self.unsupported("this form of enumerate()", node)
            start = self._once(args[1], pre, "start") if len(args) == 2 else None
            return _Zip([_Counter(start), self.loop_source(args[0], pre)])
        if kind == "zip":
            args = self._plain_args(node, (), "zip(xs, ys, ...) without strict=")
            if not args:
                raise self.unsupported("zip() of nothing", node)
            return _Zip([self.loop_source(a, pre) for a in args])
        if kind == "range":
            args = [self._once(a, pre, "bound") for a in self._plain_args(node, (), "range(start, stop, step)")]
            if not 1 <= len(args) <= 3:
                raise self.unsupported("this form of range()", node)
            if len(args) == 1:
                args = [ir.Const(0)] + args
            return _Range(args + [ir.Const(1)] * (3 - len(args)))
        seq = self.value(node, pre)
        if not isinstance(seq, ir.Name):
            name = ir.Name(self.fresh("items"), pos=self.pos(node))
            pre.append(ir.Assign([name], [seq], pos=self.pos(node)))
            seq = name
        return _Sequence(seq)

    def _plain_args(self, call: cst.Call, keywords: tuple, form: str) -> list:
        out = []
        for a in call.args:
            if a.star or (a.keyword is not None and a.keyword.value not in keywords):
                raise self.unsupported(f"`{self.src_of(a).strip(', ')}` in {self.src_of(call.func)}()", a,
                                       f"s2sgrad takes {form}.")
            out.append(a.value)
        return out

    def _once(self, node, pre: list, base: str) -> ir.Expr:
        """An operand evaluated once at loop entry: a constant, or a fresh variable."""
        e = self.value(node, pre)
        if isinstance(e, ir.Const):
            return e
        name = ir.Name(self.fresh(base), pos=self.pos(node))
        pre.append(ir.Assign([name], [e], pos=self.pos(node)))
        return name

    def index_loop(self, target, iterable, lower_body, pos, body_writes=frozenset()) -> list[ir.Stmt]:
        """`for <target> in <iterable>` as a loop over indices, the target bound at the top.

        `lower_body` lowers what follows the binding (called after the sources are
        evaluated, so a comprehension's later clauses see its variables); `body_writes`:
        names the user's loop body assigns (a loop variable it rebinds cannot be the counter).
        """
        pre: list[ir.Stmt] = []
        src = self.loop_source(iterable, pre)
        counter = self._counter_target(target, src, body_writes)
        k = counter or self.fresh("k")
        binds = self.bind_items(target, src, k, pos, skip=counter)
        body = lower_body()
        written = ir.assigned_names(body)
        for s in _sequences(src):
            if s.seq.id in written:
                raise UnsupportedSyntaxError(
                    f"a loop over `{s.seq.id}` whose body writes `{s.seq.id}` is not supported in a "
                    f"differentiated function", pos, "build the new list under another name.")
        stop = _length(src)
        return pre + [ir.ForRange(ir.Name(k, pos=pos), [ir.Const(0), stop, ir.Const(1)], binds + body, pos=pos)]

    def _counter_target(self, target, src, body_writes) -> str | None:
        """`i` of `for i, v in enumerate(xs)`, when it can be the loop counter itself."""
        if isinstance(target, (cst.Tuple, cst.List)) and isinstance(src, _Zip) and \
                isinstance(src.parts[0], _Counter) and src.parts[0].start is None and target.elements and \
                isinstance(target.elements[0].value, cst.Name):
            name = self.local_name(target.elements[0].value.value)
            if name not in body_writes:
                return name
        return None

    def bind_items(self, target, src, k: str, pos, skip=None) -> list[ir.Stmt]:
        """Assignments binding a loop target to item k of its sources."""
        if isinstance(target, cst.Name):
            name = self.local_name(target.value)
            if name == skip:
                return []
            return [ir.Assign([ir.Name(name, pos=self.pos(target))], [_item(src, k)], pos=pos)]
        if not isinstance(target, (cst.Tuple, cst.List)):
            raise self.unsupported(f"the loop target `{self.src_of(target)}`", target,
                                   "loop over names: `for i, (a, b) in enumerate(zip(xs, ys))`.")
        elements = []
        for el in target.elements:
            if isinstance(el, cst.StarredElement):
                raise self.unsupported("a starred loop target", el)
            elements.append(el.value)
        if isinstance(src, _Zip):
            if len(elements) != len(src.parts):
                raise self.unsupported(f"unpacking {len(src.parts)} values into {len(elements)} targets",
                                       target)
            return [s for el, part in zip(elements, src.parts) for s in self.bind_items(el, part, k, pos, skip)]
        if isinstance(src, (_Counter, _Range)):
            raise self.unsupported("unpacking a number", target)
        # a list of pairs (for W, b in params): the parts of item k by index
        return self.bind_parts(elements, _item(src, k), pos)

    def bind_parts(self, elements, value: ir.Expr, pos) -> list[ir.Stmt]:
        out = []
        for j, el in enumerate(elements):
            part = ir.Subscript(value, ir.Const(j))
            if isinstance(el, cst.Name):
                out.append(ir.Assign([ir.Name(self.local_name(el.value), pos=self.pos(el))], [part], pos=pos))
            elif isinstance(el, (cst.Tuple, cst.List)) and not any(
                    isinstance(e, cst.StarredElement) for e in el.elements):
                out += self.bind_parts([e.value for e in el.elements], part, pos)
            else:
                raise self.unsupported(f"the loop target `{self.src_of(el)}`", el)
        return out

    # ------------------------------------------------------------------ comprehensions and sum
    def comprehension(self, node, pre: list, pos) -> ir.Name:
        """`[elt for ... if ...]`: a fresh list, the loops, and an append."""
        if isinstance(node, cst.GeneratorExp):
            raise self.unsupported("a generator expression outside sum(...)", node,
                                   "write a list comprehension `[...]` instead (np.sum of a "
                                   "generator raises TypeError in NumPy 2).")
        result = ir.Name(self.fresh("values"), pos=pos)
        pre.append(ir.Assign([result], [ir.ListExpr([])], pos=pos))

        def append():
            inner: list[ir.Stmt] = []
            value = self.value(node.elt, inner)
            return inner + [ir.Append(ir.Name(result.id), value, pos=pos)]
        pre += self.comp_for(node.for_in, append, pos)
        return ir.Name(result.id, pos=pos)

    def comp_for(self, comp: cst.CompFor, innermost, pos) -> list[ir.Stmt]:
        if comp.asynchronous is not None:
            raise self.unsupported("`async for` in a comprehension", comp)
        saved = dict(self.renames)
        try:
            def body():
                # the comprehension's variables are its own: fresh names for them
                stmts = self.comp_for(comp.inner_for_in, innermost, pos) if comp.inner_for_in else innermost()
                for cond in reversed(comp.ifs):
                    test_pre: list[ir.Stmt] = []
                    test = self.value(cond.test, test_pre)
                    stmts = test_pre + [ir.If(test, stmts, [], pos=self.pos(cond))]
                return stmts
            pre: list[ir.Stmt] = []
            src = self.loop_source(comp.iter, pre)  # in the enclosing scope
            for n in _target_names(comp.target):
                self.renames[n] = self.fresh(n)
            k = self.fresh("k")
            binds = self.bind_items(comp.target, src, k, pos)
            stmts = body()
            return pre + [ir.ForRange(ir.Name(k, pos=pos), [ir.Const(0), _length(src), ir.Const(1)],
                                      binds + stmts, pos=pos)]
        finally:
            self.renames = saved

    def sum_of(self, call: cst.Call, pre: list, pos) -> ir.Name:
        """sum(seq[, start]), sum(<generator>): a loop adding left to right."""
        args = self._plain_args(call, ("start",), "sum(items, start)")
        if not 1 <= len(args) <= 2:
            raise self.unsupported("this form of sum()", call)
        acc = ir.Name(self.fresh("total"), pos=pos)
        # 0.0 rather than Python's 0: the same sums, and the reverse sweep's restart of the
        # adjoint (zeros like the restored value) must not be an integer zero
        start = self.value(args[1], pre) if len(args) == 2 else ir.Const(0.0)
        pre.append(ir.Assign([acc], [start], pos=pos))

        def add(value_node):
            inner: list[ir.Stmt] = []
            value = self.value(value_node, inner)
            return inner + [ir.Assign([ir.Name(acc.id)], [ir.BinOp("+", ir.Name(acc.id), value)], pos=pos)]
        items = args[0]
        if isinstance(items, (cst.GeneratorExp, cst.ListComp)):
            pre += self.comp_for(items.for_in, lambda: add(items.elt), pos)
        else:
            seq = self.loop_source(items, pre)
            if not isinstance(seq, _Sequence):
                raise self.unsupported("sum() over enumerate, zip or range", items,
                                       "sum a list, an array or a generator expression.")
            item = ir.Name(self.fresh("item"), pos=pos)
            pre.append(ir.ForEach(item, ir.Name(seq.seq.id), [
                ir.Assign([ir.Name(acc.id)], [ir.BinOp("+", ir.Name(acc.id), ir.Name(item.id))], pos=pos)],
                pos=pos))
        return ir.Name(acc.id, pos=pos)

    def is_sum_call(self, func: ir.Expr) -> bool:
        """builtins.sum (np.sum of a generator raises TypeError in NumPy 2: it stays refused)."""
        return isinstance(func, ir.Foreign) and func.obj is builtins.sum

    # ------------------------------------------------------------------ statements
    def chained_assign(self, node: cst.Assign, pos) -> list[ir.Stmt]:
        """`a = b = e`: e once, bound to the targets left to right."""
        targets = [t.target for t in node.targets]
        first = targets[0]
        if not all(isinstance(t, cst.Name) for t in targets[1:]) or not isinstance(first, cst.Name):
            raise self.unsupported("chained assignment to anything but names", node,
                                   "assign one target at a time.")
        out = self.assign(first, node.value, pos)
        for t in targets[1:]:
            out.append(ir.Assign([ir.Name(t.value, pos=self.pos(t))], [ir.Name(first.value)], pos=pos))
        return out

    def delete(self, node: cst.Del) -> list[ir.Stmt]:
        """`del x` of a local never read again: the end of its life, nothing to run."""
        targets = node.target.elements if isinstance(node.target, (cst.Tuple, cst.List)) else [node]
        for t in targets:
            name = t.target if isinstance(t, cst.Del) else t.value
            if not isinstance(name, cst.Name) or name.value not in self.locals:
                raise self.unsupported(f"`del {self.src_of(name)}`", node,
                                       "s2sgrad deletes only local variables; build a new list or array instead.")
            read = self._read_after(name.value, node)
            if read is not None:
                raise self.unsupported(f"reading `{name.value}` after `del {name.value}`", read,
                                       f"use another name instead of reusing `{name.value}`.")
        return []

    def _read_after(self, name: str, at: cst.CSTNode):
        """A use of `name` that may run after the statement `at`: later in the source, or
        anywhere in a loop around it."""
        here = self.positions[at].start
        loops = self._loops_around(at)
        found = []
        skip = {id(at)}

        class Reads(cst.CSTVisitor):
            def visit_Del(self, n):
                return id(n) not in skip

            def visit_Name(self, n):
                if n.value == name:
                    found.append(n)

        self.fndef.body.visit(Reads())
        for n in found:
            start = self.positions[n].start
            if self._is_plain_target(n):
                continue
            if (start.line, start.column) > (here.line, here.column):
                return n
            if any(_inside(n, lp) and not self._rebound_first(name, lp, n) for lp in loops):
                return n  # the next iteration may read it before binding it again
        return None

    def _rebound_first(self, name: str, loop, read) -> bool:
        """Whether the first statement of the loop's body that mentions `name` is a plain
        `name = <expr without name>` before `read`: each iteration binds it afresh."""
        for stmt in loop.body.body:
            if not _mentions(stmt, name):
                continue
            small = stmt.body[0] if isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) == 1 else None
            ok = isinstance(small, cst.Assign) and len(small.targets) == 1 and \
                isinstance(small.targets[0].target, cst.Name) and small.targets[0].target.value == name \
                and not _mentions(small.value, name)
            read_at, bound_at = self.positions[read].start, self.positions[stmt].end
            return ok and (read_at.line, read_at.column) >= (bound_at.line, bound_at.column)
        return False

    def _loops_around(self, at) -> list:
        loops = []

        class Find(cst.CSTVisitor):
            def __init__(self):
                self.stack = []

            def visit_For(self, n):
                self.stack.append(n)

            def leave_For(self, n):
                self.stack.pop()

            def visit_While(self, n):
                self.stack.append(n)

            def leave_While(self, n):
                self.stack.pop()

            def on_visit(self, n):
                if n is at:
                    loops.extend(self.stack)
                return super().on_visit(n)

        self.fndef.body.visit(Find())
        return loops

    def _is_plain_target(self, n: cst.Name) -> bool:
        return id(n) in self.plain_targets

    # ------------------------------------------------------------------ lists joined with +
    def list_join(self, target, value, pos, aug: bool) -> list[ir.Stmt] | None:
        """`xs = xs + [u, v]` or `xs += [v]` on a list variable: appends (None: not this form)."""
        if not isinstance(target, cst.Name):
            return None
        if aug:
            added = value
        elif isinstance(value, cst.BinaryOperation) and isinstance(value.operator, cst.Add) and \
                isinstance(value.left, cst.Name) and value.left.value == target.value:
            added = value.right
        else:
            return None
        if not isinstance(added, cst.List) or target.value not in self.list_names:
            return None
        pre: list[ir.Stmt] = []
        out = []
        for el in added.elements:
            v = self.value(self._element_node(el), pre)
            out.append(ir.Append(ir.Name(target.value, pos=self.pos(target)), v, pos=pos))
        return pre + out

    def _element_node(self, el):
        if isinstance(el, cst.StarredElement):
            raise self.unsupported("unpacking with `*`", el)
        return el.value

    def joined_literals(self, node: cst.BinaryOperation):
        """`[a] + [b, c]` (or of tuples): the one list they make; None if not two displays."""
        kinds = (cst.List, cst.Tuple)
        if not (isinstance(node.operator, cst.Add) and isinstance(node.left, kinds)
                and type(node.left) is type(node.right)):
            return None
        elts = [self.element(el) for el in list(node.left.elements) + list(node.right.elements)]
        return ir.ListExpr(elts) if isinstance(node.left, cst.List) else ir.TupleExpr(elts)

    def _scan_list_names(self) -> set[str]:
        """Local names only ever bound to list displays, comprehensions or `xs + [..]` of
        themselves: there `xs + [v]` joins lists (for an array it would add element-wise)."""
        listy: dict[str, bool] = {}
        params = {p.name.value for p in self._params()}

        def is_list_value(v, name):
            if isinstance(v, (cst.List, cst.ListComp)):
                return True
            return isinstance(v, cst.BinaryOperation) and isinstance(v.operator, cst.Add) and (
                (isinstance(v.left, cst.Name) and v.left.value == name) or isinstance(v.left, cst.List)) \
                and isinstance(v.right, (cst.List, cst.ListComp))

        class Bindings(cst.CSTVisitor):
            def visit_Assign(self, n):
                for t in n.targets:
                    for name in _target_names(t.target):
                        ok = isinstance(t.target, cst.Name) and len(n.targets) == 1 and is_list_value(n.value, name)
                        listy[name] = listy.get(name, True) and ok

            def visit_AugAssign(self, n):
                for name in _target_names(n.target):
                    listy[name] = listy.get(name, True) and isinstance(n.operator, cst.AddAssign) \
                        and isinstance(n.value, cst.List)

            def visit_AnnAssign(self, n):
                for name in _target_names(n.target):
                    listy[name] = False

            def visit_For(self, n):
                for name in _target_names(n.target):
                    listy[name] = False

        self.fndef.body.visit(Bindings())
        return {n for n, ok in listy.items() if ok and n not in params}

    # ------------------------------------------------------------------ imports in the body
    def _scan_imports(self) -> dict:
        """name -> (value, import statement) for imports at the top of the body."""
        found: dict = {}
        for line in self.fndef.body.body:
            if not isinstance(line, cst.SimpleStatementLine):
                continue
            for small in line.body:
                if isinstance(small, (cst.Import, cst.ImportFrom)):
                    for name, value in self._imported(small):
                        if name in self.locals:
                            raise self.unsupported(f"importing `{name}` and also assigning it", small,
                                                   "use another name for the variable.")
                        found[name] = (value, small)
        return found

    def _imported(self, node):
        if isinstance(node, cst.Import):
            for alias in node.names:
                module = self.src_of(alias.name)
                self._importable(module, node)
                if alias.asname is not None:
                    yield alias.asname.name.value, importlib.import_module(module)
                else:
                    top = module.split(".")[0]
                    importlib.import_module(module)
                    yield top, importlib.import_module(top)
            return
        if node.relative or node.module is None:
            raise self.unsupported("a relative import inside the function", node, "import at module level.")
        module = self.src_of(node.module)
        if isinstance(node.names, cst.ImportStar):
            raise self.unsupported("`from ... import *` inside the function", node, "import the names you use.")
        for alias in node.names:
            attr = alias.name.value
            full = f"{module}.{attr}"
            if full in IMPORTABLE or any(full.startswith(m + ".") for m in ("numpy",)):
                value = importlib.import_module(full) if _is_module_path(full) else None
            else:
                value = None
            if value is None:
                self._importable(module if module != "scipy" else full, node)
                base = importlib.import_module(module)
                if not hasattr(base, attr):
                    raise self.unsupported(f"`from {module} import {attr}` (no such name)", node)
                value = getattr(base, attr)
            yield (alias.asname.name.value if alias.asname else attr), value

    def _importable(self, module: str, node):
        if not (module in IMPORTABLE or module.startswith("numpy.")):
            raise self.unsupported(f"importing `{module}` inside the function", node,
                                   "only numpy, math and scipy.special may be imported inside a "
                                   "differentiated function; import it at module level.")

    def imported_before_use(self, name: str, node) -> None:
        stmt = self.local_imports[name][1]
        here, there = self.positions[node].start, self.positions[stmt].start
        if (here.line, here.column) < (there.line, there.column):
            raise self.unsupported(f"reading `{name}` before the function imports it", node)


def _is_module_path(name: str) -> bool:
    try:
        importlib.import_module(name)
        return True
    except ImportError:
        return False


def assigned_in(node) -> set[str]:
    """Names a block of source assigns (plainly, augmented or as a loop target)."""
    names: set[str] = set()

    class Collect(cst.CSTVisitor):
        def visit_AssignTarget(self, n):
            names.update(_target_names(n.target))

        def visit_AugAssign(self, n):
            names.update(_target_names(n.target))

        def visit_AnnAssign(self, n):
            names.update(_target_names(n.target))

        def visit_For(self, n):
            names.update(_target_names(n.target))

    node.visit(Collect())
    return names


def _sequences(src):
    if isinstance(src, _Sequence):
        yield src
    elif isinstance(src, _Zip):
        for p in src.parts:
            yield from _sequences(p)


def _mentions(node, name: str) -> bool:
    found = []

    class Find(cst.CSTVisitor):
        def visit_Name(self, n):
            if n.value == name:
                found.append(n)

    node.visit(Find())
    return bool(found)


def _inside(node, outer) -> bool:
    found = []

    class Find(cst.CSTVisitor):
        def on_visit(self, n):
            if n is node:
                found.append(n)
            return not found

    outer.visit(Find())
    return bool(found)


__all__ = ["Desugaring", "IMPORTABLE", "assigned_in"]
