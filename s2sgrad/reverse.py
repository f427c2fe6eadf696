"""Reverse mode: build the adjoint function of a lowered IR function.

The adjoint runs the function forward (its own statements, plus saves of values about
to be overwritten), then walks the statements backwards applying the chain rule:

    # grad of: z = a * sin(b) + b ** 2
    d_a += d_z * math.sin(b)
    d_b += d_z * (a * math.cos(b) + 2 * b)

Control flow is reversed structurally: an `if` replays its decision (re-evaluating the
test when its body cannot change it, else reading a recorded flag), a `for` over a range
runs backwards over the same range, a `while` runs as many times as it did forward.
A value that is overwritten and needed by the reverse sweep is saved before the
overwrite and restored when the sweep reaches that statement: in a loop on a per-variable
tape (a list used as a stack), outside loops in a single saved variable.

Argument order of every emitted accumulation: adjoint target first, then the partial.
"""
from __future__ import annotations

import copy
import itertools
from dataclasses import dataclass

from . import ir, symbolic
from .activity import active_variables
from .codegen import expr_source
from .errors import NonScalarOutputError, UnsupportedSyntaxError


@dataclass(eq=False)
class _Save(ir.Stmt):
    """Placeholder before a forward statement: save what it overwrites (maybe nothing)."""
    stmt: ir.Stmt
    depth: int
    loop: ir.Stmt | None = None  # for a loop variable: the reverse loop that rebinds it


@dataclass(eq=False)
class _Restore(ir.Stmt):
    """Placeholder in the reverse sweep: put back what the matching _Save saved."""
    stmt: ir.Stmt
    depth: int


@dataclass
class AdjointSpec:
    """What to generate: which inputs, and the calling convention of the result."""
    wrt: list[str]
    kind: str  # "grad" | "value_and_grad" | "vjp"
    name: str


def container_variables(fn: ir.Function, tuple_results=frozenset()) -> set[str]:
    """Variables holding a list or tuple of numbers (their adjoint is a list).

    `tuple_results` are the user functions that return a tuple.
    """
    out: set[str] = set()
    for s in ir.walk_stmts(fn.body):
        if isinstance(s, ir.Assign):
            for t, v in zip(s.targets, s.values):
                if isinstance(t, ir.Name) and isinstance(v, (ir.ListExpr, ir.TupleExpr)):
                    out.add(t.id)
                if isinstance(t, ir.Subscript):
                    out.add(ir.target_name(t))
        elif isinstance(s, ir.Append):
            out.add(s.target.id)
        elif isinstance(s, ir.ForEach):
            out.add(s.seq.id)
        elif isinstance(s, ir.CallAssign) and not s.unpack and s.call.func.key in tuple_results:
            out.add(s.targets[0].id)
    for s in ir.walk_stmts(fn.body):
        for e in ir.stmt_exprs(s):
            for sub in ir.subexprs(e):
                if isinstance(sub, ir.Subscript) and isinstance(sub.value, ir.Name):
                    out.add(sub.value.id)
    return out


class ReverseMode:
    def __init__(self, fn: ir.Function, spec: AdjointSpec, namer, module):
        self.fn = copy.deepcopy(fn)
        self.spec = spec
        self.namer = namer
        self.module = module  # asks for helpers' adjoints: module.vjp_of(pyfunc, wrt)
        self.containers = container_variables(self.fn, module.tuple_results)
        self.result = self.fn.result
        self.active = active_variables(self.fn, spec.wrt, [self.result])
        self.assign_sites = self._count_assignments()
        self.init_values: dict[str, ir.Expr] = {}  # bookkeeping variables and their first value
        self.must_restore: set[str] = set()  # restored even when the reverse sweep reads no value
        self.float_seeds: set[str] = set()   # cotangents returned by helpers' vjps: floats

    # ------------------------------------------------------------------ entry point
    def run(self) -> ir.Function:
        fn, spec = self.fn, self.spec
        if spec.kind != "vjp" and self.result in self.containers:
            raise NonScalarOutputError(
                f"{fn.name} returns a tuple or list, and grad needs a scalar output", self._return_pos())
        fwd, rev = self.sweep(fn.body, depth=0)
        reads = _reads(rev)
        fwd, rev, prologue = self.place_saves(fwd, rev, reads)
        for st in ir.walk_stmts(rev):
            if isinstance(st, ir.Assign) and st.role == "user":
                st.role = "adjoint"
        body = prologue + fwd + self.adjoint_inits() + rev + self.epilogue()
        params = list(fn.params)
        if spec.kind == "vjp":
            params.append(self.adj(self.result))
        wrt_text = ", ".join(spec.wrt)
        doc = {"grad": f"Gradient of {fn.name} with respect to {wrt_text}.",
               "value_and_grad": f"Value of {fn.name} and its gradient with respect to {wrt_text}.",
               "vjp": f"Vector-Jacobian product of {fn.name} with respect to {wrt_text}: "
                      f"the cotangent {self.adj(self.result)} pulled back."}[spec.kind]
        doc += f"\n\n    Reverse mode, generated by s2sgrad from {fn.name} ({_short(fn.file)}:{fn.line})."
        # a vjp's cotangent comes last, so its parameters keep no defaults
        defaults = {} if spec.kind == "vjp" else dict(fn.defaults)
        out = ir.Function(spec.name, params, defaults, body, doc=doc, pos=fn.pos)
        out.float_names = {self.adj(v) for v in self.active} | set(self.active) | self.float_seeds
        return out

    def adj(self, var: str) -> str:
        return self.namer.adjoint(var)

    def is_active(self, var: str) -> bool:
        return var in self.active

    # ------------------------------------------------------------------ sweeps
    def sweep(self, stmts, depth: int):
        """Forward statements (with save placeholders) and their reverse, in reverse order."""
        fwd: list[ir.Stmt] = []
        rev: list[ir.Stmt] = []
        for s in stmts:
            f, r = self.statement(s, depth)
            fwd += f
            rev = r + rev
        return fwd, rev

    def statement(self, s, depth):
        if isinstance(s, ir.Assign):
            if s.role == "count":
                return [s], []
            adjoint = self.adjoint_assign(s) if s.role == "user" else []
            header = [ir.Comment(f"grad of: {_line_of(s)}")] if adjoint else []
            return [_Save(s, depth), s], header + [_Restore(s, depth)] + adjoint
        if isinstance(s, ir.CallAssign):
            adjoint = self.adjoint_call(s)
            header = [ir.Comment(f"grad of: {_line_of(s)}")] if adjoint else []
            return [_Save(s, depth), s], header + [_Restore(s, depth)] + adjoint
        if isinstance(s, ir.Append):
            return [s], [_Restore(s, depth)] + self.adjoint_append(s)
        if isinstance(s, (ir.ExprStmt, ir.Break)):
            return [s], []
        if isinstance(s, ir.If):
            return self.reverse_if(s, depth)
        if isinstance(s, (ir.ForRange, ir.ForEach, ir.While)):
            return self.reverse_loop(s, depth)
        raise UnsupportedSyntaxError(f"s2sgrad internal error: cannot reverse {type(s).__name__}", s.pos)

    def reverse_if(self, s: ir.If, depth):
        fb, rb = self.sweep(s.body, depth)
        fo, ro = self.sweep(s.orelse, depth)
        changed = ir.assigned_names(s.body) | ir.assigned_names(s.orelse)
        if not (ir.names_in(s.test) & changed):
            # nothing in the branches changes the test: the reverse sweep re-evaluates it
            return [ir.If(s.test, fb, fo, pos=s.pos)], [ir.If(s.test, rb, ro, pos=s.pos)]
        flag = ir.Name(self.namer.fresh("branch"))
        record = ir.Assign([flag], [s.test], role="flag", pos=s.pos)
        self.init_values[flag.id] = ir.Const(False)
        fwd = [_Save(record, depth), record, ir.If(flag, fb, fo, pos=s.pos)]
        return fwd, [ir.If(flag, rb, ro, pos=s.pos), _Restore(record, depth)]

    def reverse_loop(self, s, depth):
        if not isinstance(s, ir.While) and s.target.id in ir.assigned_names(s.body):
            # The body reassigns the loop variable, so the reverse loop cannot simply rebind
            # it: loop over a variable of our own and bind the user's with a (taped) assignment.
            own = ir.Name(self.namer.fresh(s.target.id), pos=s.target.pos)
            s.body = [ir.Assign([s.target], [ir.Name(own.id)], pos=s.pos)] + s.body
            s.target = own
        pre, fwd_loop, rev_loop, post = [], None, None, []
        fbody, rbody = self.sweep(s.body, depth + 1)
        counter = None
        if isinstance(s, ir.While) or _breaks(s.body):
            counter = ir.Name(self.namer.fresh("trips" if not isinstance(s, ir.While) else "n_iter"))
            init = ir.Assign([counter], [ir.Const(0)], role="flag", pos=s.pos)
            self.init_values[counter.id] = ir.Const(0)
            pre += [_Save(init, depth), init]
            fbody = [ir.Assign([counter], [ir.Const(1)], aug="+", role="count")] + fbody
            post.append(_Restore(init, depth))
        if isinstance(s, ir.While):
            fwd_loop = ir.While(s.test, fbody, pos=s.pos)
            rev_loop = ir.ForRange(ir.Name(self.namer.fresh("_")), [ir.Const(0), counter, ir.Const(1)],
                                   rbody, pos=s.pos)
            return pre + [fwd_loop], [rev_loop] + post
        # the loop variable is overwritten by the loop: save and restore it around it
        bind = ir.Assign([s.target], [s.target], role="loopvar", pos=s.pos)
        save = _Save(bind, depth)
        pre = [save] + pre
        post = post + [_Restore(bind, depth)]
        if isinstance(s, ir.ForRange):
            args = []
            for a in s.args:  # bounds the body changes are kept in a variable of their own
                if ir.names_in(a) & ir.assigned_names(s.body):
                    keep = ir.Name(self.namer.fresh("bound"))
                    rec = ir.Assign([keep], [a], role="flag", pos=a.pos)
                    self.init_values[keep.id] = ir.Const(0)
                    pre += [_Save(rec, depth), rec]
                    post.insert(0, _Restore(rec, depth))
                    a = keep
                args.append(a)
            fwd_loop = ir.ForRange(s.target, args, fbody, pos=s.pos)
            fwd_loop.bind = bind
            rev_loop = ir.ForRange(s.target, args, rbody, reverse=True, limit=counter, pos=s.pos)
            save.loop = rev_loop
            return pre + [fwd_loop], [rev_loop] + post
        # for v in seq: the reverse walks the indices backwards and rebinds v
        k = ir.Name(self.namer.fresh("k"))
        fetch = ir.Assign([s.target], [ir.Subscript(s.seq, k)], role="loopvar")
        tail = []
        if self.is_active(s.target.id) and self.is_active(s.seq.id):
            d_item = ir.Subscript(ir.Name(self.adj(s.seq.id)), k)
            tail = [ir.Assign([d_item], [ir.Name(self.adj(s.target.id))], aug="+"),
                    ir.Assign([ir.Name(self.adj(s.target.id))], [ir.Const(0.0)])]
        length = ir.Call(ir.Lib("builtins", "len"), [s.seq])
        rev_loop = ir.ForRange(k, [ir.Const(0), length, ir.Const(1)], [fetch] + rbody + tail,
                               reverse=True, limit=counter, pos=s.pos)
        save.loop = rev_loop
        fwd_loop = ir.ForEach(s.target, s.seq, fbody, pos=s.pos)
        fwd_loop.bind = bind
        return pre + [fwd_loop], [rev_loop] + post

    # ------------------------------------------------------------------ adjoint statements
    def adjoint_assign(self, s: ir.Assign) -> list[ir.Stmt]:
        if len(s.targets) == 1:
            t, v = s.targets[0], s.values[0]
            if s.aug:
                v = ir.BinOp(s.aug, copy.deepcopy(t), v, pos=v.pos)
            if isinstance(t, ir.Name) and t.id in self.containers:
                return self.adjoint_container(t, v, s)
            return self.adjoint_single(t, v)
        # parallel assignment: read every target's adjoint before any is reset
        out, seeds = [], []
        for t, v in zip(s.targets, s.values):
            if self.is_active(ir.target_name(t)):
                seed = ir.Name(self.namer.fresh("g_" + ir.target_name(t)))
                out.append(ir.Assign([seed], [self.adj_expr(t)]))
                seeds.append((seed, v))
        for t in s.targets:
            if self.is_active(ir.target_name(t)):
                out.append(ir.Assign([self.adj_expr(t)], [ir.Const(0.0)]))
        for seed, v in seeds:
            out += self.accumulate(v, seed)
        return out

    def adj_expr(self, t: ir.Expr) -> ir.Expr:
        """d_x for x; d_xs[i] for xs[i]."""
        if isinstance(t, ir.Name):
            return ir.Name(self.adj(t.id))
        return ir.Subscript(self.adj_expr(t.value), copy.deepcopy(t.index))

    def accumulate(self, value: ir.Expr, seed: ir.Expr, skip_key: str | None = None):
        """`d_a += seed * da/dvalue` for every active atom a of `value`.

        Returns the statements, and (when skip_key names an atom) that atom's partial.
        """
        temps, grads = symbolic.partials(value, self.is_active, self.namer.fresh)
        out = [ir.Assign([ir.Name(n)], [e]) for n, e in temps]
        self_partial = None
        for atom, partial in grads:
            if skip_key is not None and expr_source(atom) == skip_key:
                self_partial = partial
                continue
            out.append(_increment(self.adj_expr(atom), seed, partial))
        if skip_key is not None:
            return out, self_partial
        return out

    def adjoint_single(self, t: ir.Expr, v: ir.Expr) -> list[ir.Stmt]:
        if not self.is_active(ir.target_name(t)):
            return []
        d_t = self.adj_expr(t)
        atoms = [a for a in ir.subexprs(v) if isinstance(a, (ir.Name, ir.Subscript))]
        aliasing = isinstance(t, ir.Subscript) and any(
            isinstance(a, ir.Subscript) and ir.target_name(a) == ir.target_name(t)
            and expr_source(a) != expr_source(t) for a in atoms)
        if aliasing:  # xs[i] = f(xs[j]): i may equal j, so take d_xs[i] out first
            seed = ir.Name(self.namer.fresh("g_" + ir.target_name(t)))
            return [ir.Assign([seed], [d_t]), ir.Assign([copy.deepcopy(d_t)], [ir.Const(0.0)])] \
                + self.accumulate(v, seed)
        out, self_partial = self.accumulate(v, d_t, skip_key=expr_source(t))
        if self_partial is None:
            out.append(ir.Assign([copy.deepcopy(d_t)], [ir.Const(0.0)]))
        elif not (isinstance(self_partial, ir.Const) and self_partial.value == 1):
            out.append(ir.Assign([copy.deepcopy(d_t)], [self_partial], aug="*"))
        return out

    def adjoint_container(self, t: ir.Name, v: ir.Expr, s: ir.Assign) -> list[ir.Stmt]:
        if not self.is_active(t.id):
            return []
        if not isinstance(v, (ir.ListExpr, ir.TupleExpr)):
            raise UnsupportedSyntaxError(
                f"assigning `{expr_source(v)}` to the list variable `{t.id}`", s.pos,
                "build a new list with a literal or with append; aliasing lists is not differentiated.")
        out = []
        for k, elt in enumerate(v.elts):
            out += self.accumulate(elt, ir.Subscript(ir.Name(self.adj(t.id)), ir.Const(k)))
        if self.assign_sites.get(t.id, 0) > 1 or t.id in self.fn.params:
            # the earlier value of t gets a fresh adjoint of its own length
            self.must_restore.add(t.id)
            out.append(ir.Assign([ir.Name(self.adj(t.id))], [_zeros_like_list(t)]))
        return out

    def adjoint_append(self, s: ir.Append) -> list[ir.Stmt]:
        if not self.is_active(s.target.id):
            return []
        d_list = ir.Name(self.adj(s.target.id))
        if not symbolic.carries(s.value, self.is_active):
            return [ir.Pop(d_list)]
        if isinstance(s.value, ir.Name):
            return [ir.Comment(f"grad of: {_line_of(s)}"),
                    _increment(ir.Name(self.adj(s.value.id)), ir.Call(ir.Ref(f"{d_list.id}.pop"), []), ir.Const(1))]
        seed = ir.Name(self.namer.fresh("g_" + s.target.id))
        return [ir.Comment(f"grad of: {_line_of(s)}"), ir.Pop(d_list, into=seed)] + self.accumulate(s.value, seed)

    def adjoint_call(self, s: ir.CallAssign) -> list[ir.Stmt]:
        active_targets = [t for t in s.targets if self.is_active(t.id)]
        active_args = [i for i, a in enumerate(s.call.args) if symbolic.carries(a, self.is_active)]
        if not active_targets:
            return []
        if not active_args:  # the call overwrites active variables with constants
            return [ir.Assign([ir.Name(self.adj(t.id))], [self._zero(t)], role="adjoint")
                    for t in active_targets]
        callee = s.call.func.key
        vjp_name = self.module.vjp_of(callee, active_args)
        if s.unpack:
            cot = ir.TupleExpr([ir.Name(self.adj(t.id)) if self.is_active(t.id) else ir.Const(0.0)
                                for t in s.targets])
        else:
            cot = ir.Name(self.adj(s.targets[0].id))
        call = ir.Call(ir.Ref(vjp_name), [copy.deepcopy(a) for a in s.call.args] + [cot], pos=s.pos)
        seeds = [ir.Name(self.namer.fresh("g_" + _arg_label(s.call.args[i]))) for i in active_args]
        self.float_seeds |= {seed.id for seed in seeds}
        out: list[ir.Stmt] = [ir.Assign(seeds, [call], role="adjoint")]  # g_a, g_b = vjp_h(...)
        for t in active_targets:
            out.append(ir.Assign([ir.Name(self.adj(t.id))], [self._zero(t)]))
        for i, seed in zip(active_args, seeds):
            out += self.accumulate_argument(s.call.args[i], seed)
        return out

    def accumulate_argument(self, arg: ir.Expr, seed: ir.Name) -> list[ir.Stmt]:
        """Add a helper's cotangent for one argument; a list argument gets one per element."""
        if isinstance(arg, (ir.ListExpr, ir.TupleExpr)):
            out = []
            for j, elt in enumerate(arg.elts):
                out += self.accumulate(elt, ir.Subscript(ir.Name(seed.id), ir.Const(j)))
            return out
        if isinstance(arg, ir.Name) and arg.id in self.containers:
            k = ir.Name(self.namer.fresh("k"))
            add = ir.Assign([ir.Subscript(ir.Name(self.adj(arg.id)), k)],
                            [ir.Subscript(ir.Name(seed.id), ir.Name(k.id))], aug="+", role="adjoint")
            length = ir.Call(ir.Lib("builtins", "len"), [ir.Name(seed.id)])
            return [ir.ForRange(k, [ir.Const(0), length, ir.Const(1)], [add])]
        return self.accumulate(arg, seed)

    # ------------------------------------------------------------------ saves and restores
    def _count_assignments(self) -> dict[str, int]:
        counts: dict[str, int] = {p: 1 for p in self.fn.params}
        for s in ir.walk_stmts(self.fn.body):
            targets = []
            if isinstance(s, ir.Assign):
                targets = [t for t in s.targets if isinstance(t, ir.Name)]
            elif isinstance(s, ir.CallAssign):
                targets = s.targets
            elif isinstance(s, (ir.ForRange, ir.ForEach)):
                targets = [s.target]
            for t in targets:
                counts[t.id] = counts.get(t.id, 0) + 1
        return counts

    def place_saves(self, fwd, rev, reads: set[str]):
        """Turn placeholders into real saves and restores where a value is needed."""
        first_binding = _first_bindings(fwd)
        self.bound_before: dict[int, set[str]] = {}
        _definitely_bound(fwd, set(self.fn.params), self.bound_before)
        plans: dict[int, list] = {}
        tapes: dict[str, str] = {}
        prologue: list[ir.Stmt] = []
        loop_vars: set[str] = set()

        def plan(ph) -> list:
            key = id(ph.stmt)
            if key not in plans:
                plans[key] = self._plan(ph, reads, tapes, prologue, loop_vars, first_binding, rev)
            return plans[key]

        def resolve(stmts, forward):
            out = []
            for s in stmts:
                if isinstance(s, _Save if forward else _Restore):
                    out += [p[0 if forward else 1] for p in plan(s) if p[0 if forward else 1] is not None]
                    continue
                if isinstance(s, (_Save, _Restore)):
                    continue
                for block in ir.blocks(s):
                    block[:] = resolve(block, forward)
                out.append(s)
            return out

        fwd = resolve(fwd, True)
        rev = resolve(rev, False)
        # a value saved inside a loop before its first assignment needs a first value
        for var in sorted(loop_vars - set(self.fn.params)):
            init = self.init_values.get(var, ir.ListExpr([]) if var in self.containers else ir.Const(0.0))
            prologue.append(ir.Assign([ir.Name(var)], [init], role="flag"))
        return fwd, rev, prologue

    def _plan(self, ph, reads, tapes, prologue, loop_vars, first_binding, rev) -> list:
        """(save statement, restore statement) pairs for one placeholder."""
        s, depth = ph.stmt, ph.depth
        if getattr(s, "role", "") == "loopvar" and depth > 0:
            reads = _reads(rev, skip=ph.loop)  # only reads outside the loop need the old value
        out = []
        if isinstance(s, ir.Append):
            if s.target.id in reads or s.target.id in self.must_restore:
                out.append((None, ir.Pop(s.target)))  # an append is undone by a pop
            return out
        targets = s.targets
        for t in targets:
            var = ir.target_name(t)
            if var not in reads and var not in self.must_restore:
                continue
            if isinstance(t, ir.Name) and depth == 0 and var not in self.fn.params \
                    and first_binding.get(var) is s:
                continue  # the first value a variable gets outside loops overwrites nothing
            value = copy.deepcopy(t)
            if depth == 0:
                slot = ir.Name(self.namer.saved(var))
                out.append((ir.Assign([slot], [value], role="save"),
                            ir.Assign([copy.deepcopy(t)], [slot], role="save")))
                if isinstance(t, ir.Name) and var not in self.bound_before.get(id(s), set()):
                    loop_vars.add(var)  # bound on some paths only: give it a first value
            else:
                kind = "item" if isinstance(t, ir.Subscript) else "value"
                key = f"{var}/{kind}"
                if key not in tapes:
                    tapes[key] = self.namer.tape(var if kind == "value" else var + "_items")
                    prologue.append(ir.Assign([ir.Name(tapes[key])], [ir.ListExpr([])], role="save"))
                tape = ir.Name(tapes[key])
                pair = next(_pair_ids)  # lets the optimizer drop both if the value is never read
                out.append((ir.Append(tape, value, pair=pair), ir.Pop(tape, into=copy.deepcopy(t), pair=pair)))
                if isinstance(t, ir.Name) and var not in self.fn.params:
                    loop_vars.add(var)
        return out

    # ------------------------------------------------------------------ start and end of the sweep
    def adjoint_inits(self) -> list[ir.Stmt]:
        out = [ir.Comment("reverse sweep")]
        for var in sorted(self.active, key=self._order):
            if var == self.result:
                continue
            init = _zeros_like_list(ir.Name(var)) if var in self.containers else ir.Const(0.0)
            out.append(ir.Assign([ir.Name(self.adj(var))], [init], role="adjoint"))
        d_res = ir.Name(self.adj(self.result))
        if self.spec.kind != "vjp":
            out.append(ir.Assign([d_res], [ir.Const(1.0)], role="adjoint"))
        elif self.result in self.containers:
            out.append(ir.Assign([d_res], [ir.Call(ir.Lib("builtins", "list"), [copy.deepcopy(d_res)])],
                                 role="adjoint"))
        return out

    def _order(self, var):
        names = list(self.fn.params)
        return (names.index(var) if var in names else len(names), var)

    def epilogue(self) -> list[ir.Stmt]:
        grads = [ir.Name(self.adj(w)) if w in self.active else self._zero_grad(w) for w in self.spec.wrt]
        g = grads[0] if len(grads) == 1 else ir.TupleExpr(grads)
        if self.spec.kind == "value_and_grad":
            return [ir.Return(ir.TupleExpr([ir.Name(self.result), g]))]
        return [ir.Return(g)]

    def _zero(self, t: ir.Name) -> ir.Expr:
        """A zero adjoint for variable t: 0.0, or a list of zeros for a list."""
        return _zeros_like_list(t) if t.id in self.containers else ir.Const(0.0)

    def _zero_grad(self, w):
        return self._zero(ir.Name(w))

    def _return_pos(self):
        for s in ir.walk_stmts(self.fn.body):
            if isinstance(s, ir.Assign) and isinstance(s.targets[0], ir.Name) and s.targets[0].id == self.result:
                return s.pos
        return self.fn.pos


_pair_ids = itertools.count()


def _increment(target: ir.Expr, seed: ir.Expr, partial: ir.Expr) -> ir.Assign:
    """target += seed * partial, written the way a person would."""
    seed = copy.deepcopy(seed)
    if isinstance(partial, ir.Const) and partial.value == 1:
        return ir.Assign([target], [seed], aug="+")
    if isinstance(partial, ir.UnaryOp) and partial.op == "-":
        inner = partial.operand
        if isinstance(inner, ir.Const) and inner.value == 1:
            return ir.Assign([target], [seed], aug="-")
        return ir.Assign([target], [ir.BinOp("*", seed, inner)], aug="-")
    return ir.Assign([target], [ir.BinOp("*", seed, partial)], aug="+")


def _zeros_like_list(var: ir.Name) -> ir.Expr:
    return ir.BinOp("*", ir.ListExpr([ir.Const(0.0)]),
                    ir.Call(ir.Lib("builtins", "len"), [ir.Name(var.id)]))


def _arg_label(a: ir.Expr) -> str:
    return a.id if isinstance(a, ir.Name) else "arg"


def _breaks(stmts) -> bool:
    """Whether a loop body breaks out of this loop (breaks of nested loops don't count)."""
    for s in stmts:
        if isinstance(s, ir.Break):
            return True
        if isinstance(s, ir.If) and (_breaks(s.body) or _breaks(s.orelse)):
            return True
    return False


def _reads(stmts, skip=None) -> set[str]:
    """Variables the statements read; `skip` is a loop whose body is left out."""
    out: set[str] = set()
    for s in stmts:
        if isinstance(s, (_Save, _Restore)):
            continue
        out |= ir.stmt_reads(s)
        if s is not skip:
            for block in ir.blocks(s):
                out |= _reads(block, skip)
    return out


def _definitely_bound(stmts, bound: set[str], record: dict) -> set[str]:
    """Names bound on every path to each save placeholder (recorded by statement id)."""
    for s in stmts:
        if isinstance(s, _Save):
            record[id(s.stmt)] = set(bound)
        elif isinstance(s, (ir.Assign, ir.CallAssign)):
            bound |= {t.id for t in s.targets if isinstance(t, ir.Name)}
        elif isinstance(s, ir.If):
            bound |= _definitely_bound(s.body, set(bound), record) & \
                _definitely_bound(s.orelse, set(bound), record)
        elif ir.blocks(s):  # a loop may run no times: what it binds is not bound after it
            _definitely_bound(s.body, set(bound), record)
    return bound


def _first_bindings(stmts) -> dict:
    """For each variable, the first statement (in source order) that binds it."""
    first: dict = {}
    for s in ir.walk_stmts(stmts):
        if isinstance(s, (_Save, _Restore)):
            continue
        names = []
        if isinstance(s, ir.Assign):
            names = [t.id for t in s.targets if isinstance(t, ir.Name)]
        elif isinstance(s, ir.CallAssign):
            names = [t.id for t in s.targets]
        for n in names:
            first.setdefault(n, s)
    return first


def _line_of(s) -> str:
    return s.pos.text.strip() if s.pos is not None else ""


def _short(path: str) -> str:
    import os
    return os.path.basename(path)
