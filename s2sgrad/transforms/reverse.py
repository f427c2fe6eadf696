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

from ..rules import arrays as array_rules
from .. import custom
from .. import ir
from ..analysis import kinds
from ..rules import runtime_helpers as runtime_rules
from ..rules import partials
from ..analysis import aliasing, dataflow
from ..analysis.activity import active_variables
from ..backends.python import expr_source
from ..errors import NonScalarOutputError, UnsupportedCallError, UnsupportedSyntaxError


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
    helper: bool = False  # the adjoint of a function the differentiated one calls


class ReverseMode:
    def __init__(self, fn: ir.Function, spec: AdjointSpec, namer, module, var_kinds: dict):
        self.fn = copy.deepcopy(fn)
        self.spec = spec
        self.namer = namer
        self.module = module  # asks for helpers' adjoints: module.vjp_of(pyfunc, wrt, kinds)
        self.kinds = dict(var_kinds)
        self._name_popped_values()
        self.containers = {v for v, k in self.kinds.items() if kinds.is_list(k)}
        aliasing.refuse_aliased_updates(self.fn, self.kinds, spec.helper, sure_only=module.guessed)
        _rebind_array_updates(self.fn.body, self.kinds)
        self.result = self.fn.result
        self.active = active_variables(self.fn, spec.wrt, [self.result])
        self.assign_sites = dataflow.count_assignments(self.fn)
        self.init_values: dict[str, ir.Expr] = {}  # bookkeeping variables and their first value
        self.must_restore: set[str] = set()  # restored even when the reverse sweep reads no value
        self.float_seeds: set[str] = set()   # cotangents returned by helpers' vjps: floats

    # ------------------------------------------------------------------ entry point
    def run(self) -> ir.Function:
        fn, spec = self.fn, self.spec
        result_kind = self.kinds.get(self.result)
        if spec.kind != "vjp" and self.result in self.containers:
            raise NonScalarOutputError(
                f"{fn.name} returns a tuple or list, and grad needs a scalar output", self._return_pos())
        if spec.kind != "vjp" and kinds.is_array(result_kind) and result_kind.ndim is not None:
            raise NonScalarOutputError(
                f"{fn.name} returns an array ({result_kind}), and grad needs a scalar output",
                self._return_pos(), "use s2sgrad.vjp with a cotangent of the output's shape, "
                                    "or reduce the output to a number (np.sum, np.mean).")
        fwd, rev = self.sweep(fn.body, depth=0)
        reads = self._pushed_back(dataflow.reads(rev))
        fwd, rev, prologue = self.place_saves(fwd, rev, reads)
        prologue += self.first_values(fwd, prologue)
        for st in ir.walk_stmts(rev):
            if isinstance(st, ir.Assign) and st.role == "user":
                st.role = "adjoint"
        body = self.early_zeros() + prologue + fwd + self.adjoint_inits() + rev + self.epilogue()
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
        out.float_names = {self.adj(v) for v in self.active} | set(self.active) | self.float_seeds \
            | {v for v, k in self.kinds.items() if not _is_scalar(k)}  # arrays: never float(...)
        return out

    def adj(self, var: str) -> str:
        return self.namer.adjoint(var)

    def _name_popped_values(self):
        """`tape.pop()` (generated code's undo of an append) as `popped = tape.pop()`: the
        value it drops is what the reverse sweep pushes back."""
        for st in ir.walk_stmts(self.fn.body):
            if isinstance(st, ir.Pop) and st.into is None:
                st.into = ir.Name(self.namer.fresh("popped"), pos=st.pos)
                tape = self.kinds.get(st.target.id)
                self.kinds[st.into.id] = tape.elem if kinds.is_list(tape) else None

    def _pushed_back(self, reads: set[str]) -> set[str]:
        """The reverse sweep undoes `v = tape.pop()` by pushing v back onto the tape, where
        the tape's contents are needed: then v's value after the pop is needed too."""
        pops = [st for st in ir.walk_stmts(self.fn.body) if isinstance(st, ir.Pop)]
        reads = set(reads)
        while True:
            more = {n for st in pops if st.target.id in reads | self.must_restore
                    for n in ir.names_in(st.into)}
            if more <= reads:
                return reads
            reads |= more

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
        self.depth = depth
        if isinstance(s, ir.Assign):
            if s.role == "count":
                return [s], []
            adjoint = self.adjoint_assign(s) if s.role == "user" else []
            header = [ir.Comment(f"grad of: {_line_of(s)}", pos=s.pos)] if adjoint else []
            if adjoint and _is_primitive(s):
                # a primitive's rule reads its result (the max, the inverse): it runs before
                # the overwritten value comes back; the adjoint's restart (last) after
                return [_Save(s, depth), s], header + adjoint[:-1] + [_Restore(s, depth), adjoint[-1]]
            return [_Save(s, depth), s], header + [_Restore(s, depth)] + adjoint
        if isinstance(s, ir.CallAssign):
            adjoint = self.adjoint_call(s)
            header = [ir.Comment(f"grad of: {_line_of(s)}", pos=s.pos)] if adjoint else []
            return [_Save(s, depth), s], header + [_Restore(s, depth)] + adjoint
        if isinstance(s, ir.Append):
            return [s], [_Restore(s, depth)] + self.adjoint_append(s)
        if isinstance(s, ir.Pop):
            move, reset = self.adjoint_pop(s)
            return [_Save(s, depth), s], move + [_Restore(s, depth)] + reset
        if runtime_rules.is_add_at(s):
            # add_at(d_x, index, g) adds into d_x in place: the slots it changes are saved
            # like those of `d_x[index] += g`
            record, adjoint = self.adjoint_add_at(s)
            header = [ir.Comment(f"grad of: {_line_of(s)}", pos=s.pos)] if adjoint else []
            return [_Save(record, depth), s], header + [_Restore(record, depth)] + adjoint
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
        if isinstance(s, ir.ForRange) and (s.reverse or s.limit is not None) and dataflow.breaks(s.body):
            raise UnsupportedSyntaxError("a loop over reversed(range(...)) or range(...)[:n] that breaks "
                                         "is not supported in a differentiated function", s.pos,
                                         "loop over range(...) and index backwards.")
        if isinstance(s, ir.While) or dataflow.breaks(s.body):
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
            for a in s.args + ([s.limit] if s.limit is not None else []):
                if ir.names_in(a) & ir.assigned_names(s.body):
                    # bounds the body changes are kept in a variable of their own
                    keep = ir.Name(self.namer.fresh("bound"))
                    rec = ir.Assign([keep], [a], role="flag", pos=a.pos)
                    self.init_values[keep.id] = ir.Const(0)
                    pre += [_Save(rec, depth), rec]
                    post.insert(0, _Restore(rec, depth))
                    a = keep
                args.append(a)
            limit = args.pop() if s.limit is not None else None
            fwd_loop = ir.ForRange(s.target, args, fbody, reverse=s.reverse, limit=limit, pos=s.pos)
            fwd_loop.bind = bind
            # the same indices the other way: a generated reverse loop's own reverse runs forward
            rev_loop = ir.ForRange(s.target, args, rbody, reverse=not s.reverse,
                                   limit=limit if limit is not None else counter, pos=s.pos)
            save.loop = rev_loop
            return pre + [fwd_loop], [rev_loop] + post
        # for v in seq: the reverse walks the indices backwards and rebinds v
        k = ir.Name(self.namer.fresh("k"))
        fetch = ir.Assign([s.target], [ir.Subscript(s.seq, k)], role="loopvar")
        tail = []
        if self.is_active(s.target.id) and self.is_active(s.seq.id):
            d_item = ir.Subscript(ir.Name(self.adj(s.seq.id)), k)
            tail = [ir.Assign([d_item], [ir.Name(self.adj(s.target.id))], aug="+"),
                    ir.Assign([ir.Name(self.adj(s.target.id))], [self._reset_value(s.target)])]
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
            rule = array_rules.rule_of_call(v)
            if rule is not None and isinstance(t, ir.Name):
                return self.adjoint_primitive(t, v, rule, s)
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

    def accumulate(self, value: ir.Expr, seed: ir.Expr, skip_key: str | None = None,
                   seed_broadcasts: bool = False):
        """`d_a += seed * da/dvalue` for every active atom a of `value`.

        Returns the statements, and (when skip_key names an atom) that atom's partial.
        """
        arrays = self._broadcast_sources(value)
        if seed_broadcasts or isinstance(seed, ir.Subscript) and not _is_scalar(self.kind_of(seed)):
            arrays += 1  # y[i] = ... broadcasts the value into the slot
        temps, grads = partials.partials(value, self.is_active, self.namer.fresh, numpy=arrays > 0)
        out = [ir.Assign([ir.Name(n)], [e]) for n, e in temps]
        if arrays:
            self.float_seeds |= {n for n, _ in temps}  # never wrapped in float() by the optimizer
        self_partial = None
        for atom, partial in grads:
            if skip_key is not None and expr_source(atom) == skip_key:
                self_partial = partial
                continue
            if arrays == 0:
                out.append(_increment(self.adj_expr(atom), seed, partial))
                continue
            fit = "sum" if _is_scalar(self.kind_of(atom)) else "unbroadcast" if arrays > 1 else None
            contribution = _contribution(seed, partial)
            fresh = not isinstance(partial, ir.Const) or partial.value != 1
            out += self.add_to(atom, contribution, fit, exact=fresh and fit != "sum")
        if skip_key is not None:
            return out, self_partial
        return out

    def adjoint_single(self, t: ir.Expr, v: ir.Expr) -> list[ir.Stmt]:
        if not self.is_active(ir.target_name(t)):
            return []
        d_t = self.adj_expr(t)
        atoms = [a for a in ir.subexprs(v) if isinstance(a, ir.Name) or _element_of_variable(a)]
        array_target = not _is_scalar(self.kind_of(t))
        aliasing = isinstance(t, ir.Subscript) and any(
            isinstance(a, ir.Subscript) and ir.target_name(a) == ir.target_name(t)
            and expr_source(a) != expr_source(t) for a in atoms)
        arrays = self._broadcast_sources(v) + (array_target and isinstance(t, ir.Subscript))
        reads_target = t.id in ir.names_in(v) if isinstance(t, ir.Name) else \
            expr_source(t) in {expr_source(a) for a in atoms}
        # x = x[1:] or h = h * w (w wider): the new value has another shape than the old
        reshapes = arrays > 1 or (isinstance(t, ir.Name) and any(
            isinstance(a, ir.Subscript) and ir.target_name(a) == t.id for a in atoms))
        if aliasing or (array_target and reads_target and reshapes):
            # xs[i] = f(xs[j]): i may equal j, so take d_xs[i] out first;
            # h = h * w with arrays: h may change shape, so its old adjoint starts afresh
            seed = ir.Name(self.namer.fresh("g_" + ir.target_name(t)))
            taken = ir.Call(ir.Lib("numpy", "copy"), [d_t]) if isinstance(t, ir.Subscript) and array_target else d_t
            return [ir.Assign([seed], [taken]), ir.Assign([copy.deepcopy(d_t)], [self._reset_value(t)])] \
                + self.accumulate(v, seed, seed_broadcasts=isinstance(t, ir.Subscript) and array_target)
        out, self_partial = self.accumulate(v, d_t, skip_key=expr_source(t))
        if self_partial is None:
            out.append(ir.Assign([copy.deepcopy(d_t)], [self._reset_value(t)]))
        elif not (isinstance(self_partial, ir.Const) and self_partial.value == 1):
            out.append(ir.Assign([copy.deepcopy(d_t)], [self_partial], aug="*"))
        return out

    # ------------------------------------------------------------------ arrays
    def kind_of(self, e: ir.Expr):
        return kinds.KindInference(self.fn, self.kinds).of(e)

    def _broadcast_sources(self, value: ir.Expr) -> int:
        """How many array values an element-wise expression broadcasts together.

        With one, every array in it has the result's shape and no adjoint needs
        unbroadcasting.  A held value computed element-wise from the expression's own
        variables (the selector `h > 0` of np.maximum(h, 0)) brings no shape of its own.
        """
        leaves = partials.leaves(value, self.is_active)
        own = {x.id for x in leaves if isinstance(x, ir.Name)}
        count = 0
        for leaf in leaves:
            if _is_scalar(self.kind_of(leaf)):
                continue
            if not isinstance(leaf, (ir.Name, ir.Subscript)) and _elementwise_of(leaf, own):
                continue
            count += 1
        return count

    def _reset_value(self, t: ir.Expr) -> ir.Expr:
        """The zero an adjoint restarts from once its variable's assignment is undone."""
        if isinstance(t, ir.Name) and t.id in self.containers:
            return self._zero(t)
        if isinstance(t, ir.Name) and kinds.is_array(self.kinds.get(t.id)):
            return _zeros_like(t)  # t holds its earlier value here: the right shape
        return ir.Const(0.0)

    def add_to(self, atom: ir.Expr, contribution: ir.Expr, fit: str | None = None,
               exact: bool = False) -> list[ir.Stmt]:
        """`d_atom += contribution`, the contribution first brought to the atom's shape.

        fit: "sum" (a number that was broadcast), "unbroadcast" (an array that may have
        been), or None (already the atom's shape, or broadcastable to it).
        """
        sign = "+"
        if isinstance(contribution, ir.UnaryOp) and contribution.op == "-":
            sign, contribution = "-", contribution.operand
        if fit == "sum":
            contribution = ir.Call(ir.Lib("numpy", "sum"), [contribution])
        elif fit == "unbroadcast":
            contribution = array_rules.helper("unbroadcast", contribution, copy.deepcopy(atom))
        target = self.adj_expr(atom)
        if isinstance(atom, ir.Subscript) and not _basic_index(atom.index, self.kind_of) \
                and kinds.is_array(self.kind_of(atom.value)):
            # repeated indices must add up: np.add.at, not d_x[idx] += ...
            if sign == "-":
                contribution = ir.UnaryOp("-", contribution)
            return [ir.ExprStmt(array_rules.helper("add_at", target.value, copy.deepcopy(atom.index),
                                                   contribution), pos=atom.pos)]
        # an input's adjoint of another dtype than float64 keeps its zeros, and their
        # dtype: float32 in, float32 gradient out
        exact = exact and isinstance(atom, ir.Name) and (
            atom.id not in self.fn.params or getattr(self.kinds.get(atom.id), "dtype", None) == "float64")
        return [ir.Assign([target], [contribution], aug=sign, role="adjoint", exact=exact)]

    def adjoint_primitive(self, t: ir.Name, call: ir.Call, rule, s) -> list[ir.Stmt]:
        """The adjoint of `t = np.<primitive>(...)`, from the primitive's row in array_rules."""
        if not self.is_active(t.id):
            return []
        bound = array_rules.bind(rule, call)
        reset = ir.Assign([ir.Name(self.adj(t.id))], [self._reset_value(t)])
        arguments = [_argument(bound, p) for p in _rule_params(rule, bound)]
        if not any(partials.carries(a, self.is_active) for a in arguments):
            return [reset]  # t is overwritten with a constant
        # the frontend gives a primitive that reads its own target a variable of its own
        assert t.id not in ir.names_in(call), "s2sgrad internal error: x = f(x) with f a primitive"
        out: list[ir.Stmt] = []
        seed = ir.Name(self.adj(t.id))

        def let(base, value):
            name = ir.Name(self.namer.fresh(base))
            out.append(ir.Assign([name], [value], role="adjoint"))
            self.float_seeds.add(name.id)
            return ir.Name(name.id)

        ranks = kinds.KindInference(self.fn, self.kinds).ranks(bound)
        ctx = array_rules.VjpContext(bound, ranks, ir.Name(t.id), seed, let, rule)
        try:
            contributions = rule.vjp(ctx)
        except array_rules.UnsupportedUse as exc:
            raise UnsupportedCallError(f"{exc.what} has no derivative rule", s.pos, exc.hint) from None
        for param, contribution in contributions:
            arg = _argument(bound, param)
            if partials.carries(arg, self.is_active):
                fresh = isinstance(contribution, ir.Call) and contribution.method == "@"
                out += self.add_argument(arg, contribution, s, exact=fresh)
        return out + [reset]

    def add_argument(self, arg: ir.Expr, contribution: ir.Expr, s, exact=False) -> list[ir.Stmt]:
        """Add a primitive's contribution to one of its arguments."""
        if isinstance(arg, ir.Name) and arg.id in self.containers:
            # a list of arrays (np.stack(hs)): the contribution is a list, added element by element
            k = ir.Name(self.namer.fresh("k"))
            add = ir.Assign([ir.Subscript(ir.Name(self.adj(arg.id)), k)],
                            [ir.Subscript(contribution, ir.Name(k.id))], aug="+", role="adjoint")
            length = ir.Call(ir.Lib("builtins", "len"), [ir.Name(arg.id)])
            return [ir.ForRange(k, [ir.Const(0), length, ir.Const(1)], [add])]
        if isinstance(arg, (ir.Name, ir.Subscript)):
            return self.add_to(arg, contribution, exact=exact)
        if isinstance(arg, ir.Call) and arg.method == "T":  # x @ W.T: W gets the transpose
            back = array_rules.T(contribution) if getattr(contribution, "method", None) == "@" else \
                ir.Call(ir.Lib("numpy", "transpose"), [contribution])  # a number stays a number
            return self.add_argument(arg.args[0], back, s, exact)
        # an element-wise argument left in place (a constant times a variable): chain through it
        seed = ir.Name(self.namer.fresh("g"))
        return [ir.Assign([seed], [contribution], role="adjoint")] + self.accumulate(arg, seed)

    def adjoint_container(self, t: ir.Name, v: ir.Expr, s: ir.Assign) -> list[ir.Stmt]:
        if not self.is_active(t.id):
            return []
        if not partials.carries(v, self.is_active):
            # a list of constants ([0.0] * len(xs), as generated code starts list adjoints)
            if self.assign_sites.get(t.id, 0) > 1 or t.id in self.fn.params or self.depth > 0:
                return [ir.Assign([ir.Name(self.adj(t.id))], [self._zero(t)])]
            return []
        if _is_list_copy(v) and isinstance(v.args[0], ir.Name) and v.args[0].id == t.id:
            return []  # d = list(d): the same values, its adjoint passes through
        if isinstance(v, ir.Name) and v.id in self.containers and not aliasing.list_written_after(self.fn.body, s, {t.id, v.id}):
            # `result = d_xs` (generated code returning a list adjoint): two names, one list
            # nobody changes any more, so the cotangent passes through element by element
            out = self.accumulate_argument(v, ir.Name(self.adj(t.id)))
        elif _is_list_copy(v) and isinstance(v.args[0], ir.Name) and v.args[0].id in self.containers:
            out = self.accumulate_argument(v.args[0], ir.Name(self.adj(t.id)))  # d = list(d)
        elif not isinstance(v, (ir.ListExpr, ir.TupleExpr)):
            raise UnsupportedSyntaxError(
                f"assigning `{expr_source(v)}` to the list variable `{t.id}`", s.pos,
                "build a new list with a literal or with append; aliasing lists is not differentiated.")
        else:
            out = []
            for k, elt in enumerate(v.elts):
                out += self.accumulate_argument(elt, ir.Subscript(ir.Name(self.adj(t.id)), ir.Const(k)))
        if self.assign_sites.get(t.id, 0) > 1 or t.id in self.fn.params or self.depth > 0:
            # the earlier value of t (another list, or the last iteration's) gets a fresh
            # adjoint of its own length
            self.must_restore.add(t.id)
            out.append(ir.Assign([ir.Name(self.adj(t.id))], [self._zero(t)]))
        return out

    def adjoint_append(self, s: ir.Append) -> list[ir.Stmt]:
        if not self.is_active(s.target.id):
            return []
        d_list = ir.Name(self.adj(s.target.id))
        if not partials.carries(s.value, self.is_active):
            return [ir.Pop(d_list)]
        if isinstance(s.value, ir.Name):
            return [ir.Comment(f"grad of: {_line_of(s)}", pos=s.pos),
                    _increment(ir.Name(self.adj(s.value.id)), ir.Call(ir.Attr(ir.Name(d_list.id), "pop"), []), ir.Const(1))]
        seed = ir.Name(self.namer.fresh("g_" + s.target.id))
        return [ir.Comment(f"grad of: {_line_of(s)}", pos=s.pos), ir.Pop(d_list, into=seed)] + self.accumulate(s.value, seed)

    def adjoint_add_at(self, s: ir.ExprStmt):
        """`add_at(d_x, index, g)`: d_x[index] += g with repeated indices adding up.  Each
        occurrence of an index read d_x's adjoint there, so g's adjoint gathers it."""
        d_x, index, g = s.expr.args
        if not isinstance(d_x, ir.Name):
            raise UnsupportedSyntaxError("add_at into something other than a variable", s.pos)
        record = ir.Assign([ir.Subscript(ir.Name(d_x.id), copy.deepcopy(index))], [g], aug="+", pos=s.pos)
        if not (self.is_active(d_x.id) and partials.carries(g, self.is_active)):
            return record, []
        gathered = ir.Subscript(ir.Name(self.adj(d_x.id)), copy.deepcopy(index))
        contribution = array_rules.helper("unbroadcast", gathered, copy.deepcopy(g))
        return record, self.add_argument(g, contribution, s)

    def adjoint_pop(self, s: ir.Pop):
        """The adjoint of `v = tape.pop()`: d_v moves onto the tape's adjoint (so the
        append that pushed the value finds it there), then restarts at zero.  Returns the
        statements before the primal is restored, and those after."""
        v, tape = s.into, s.target
        move, reset = [], []
        active_v = self.is_active(ir.target_name(v))
        if self.is_active(tape.id):
            if active_v:
                d_v = self.adj_expr(v)
                if isinstance(v, ir.Subscript) and not _is_scalar(self.kind_of(v)):
                    d_v = ir.Call(ir.Lib("numpy", "copy"), [d_v])  # d_x[i] is a view: keep the values
            else:
                d_v = _zeros_like(v) if kinds.is_array(self.kind_of(v)) else ir.Const(0.0)
            move = [ir.Comment(f"grad of: {_line_of(s)}", pos=s.pos),
                    ir.Append(ir.Name(self.adj(tape.id)), d_v, pos=s.pos)]
        if active_v:
            reset = [ir.Assign([self.adj_expr(v)], [self._reset_value(v)], role="adjoint")]
        return move, reset

    def adjoint_call(self, s: ir.CallAssign) -> list[ir.Stmt]:
        active_targets = [t for t in s.targets if self.is_active(t.id)]
        active_args = [i for i, a in enumerate(s.call.args) if partials.carries(a, self.is_active)]
        if not active_targets:
            return []
        if not active_args:  # the call overwrites active variables with constants
            return [ir.Assign([ir.Name(self.adj(t.id))], [self._zero(t)], role="adjoint")
                    for t in active_targets]
        if isinstance(s.call.func, ir.CustomFn):
            return self.adjoint_custom_call(s, active_targets, active_args)
        callee = s.call.func.key
        vjp_name = self.module.vjp_of(callee, active_args, [self.kind_of(a) for a in s.call.args])
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

    def adjoint_custom_call(self, s: ir.CallAssign, active_targets, active_args) -> list[ir.Stmt]:
        """`g_x, g_y = f_reverse(x, y, d_out)`: the user's reverse rule gives one cotangent
        per parameter; those of active arguments are added like a helper's."""
        wrapper, spelled = s.call.func.rule, s.call.func.name
        if wrapper.reverse_rule is None:
            raise custom.missing_rule(wrapper, "reverse", s.pos, name=spelled)
        rule_name = self.module.custom_rule_name(wrapper, "reverse", spelled)
        if s.unpack:
            cot = ir.TupleExpr([ir.Name(self.adj(t.id)) if self.is_active(t.id) else ir.Const(0.0)
                                for t in s.targets])
        else:
            cot = ir.Name(self.adj(s.targets[0].id))
        call = ir.Call(ir.Ref(rule_name), [copy.deepcopy(a) for a in s.call.args] + [cot], pos=s.pos)
        seeds = {i: ir.Name(self.namer.fresh("g_" + _arg_label(s.call.args[i]))) for i in active_args}
        self.float_seeds |= {seed.id for seed in seeds.values()}
        if len(s.call.args) == 1:
            targets = [seeds[0]]
        else:  # the rule returns a tuple: inactive arguments' cotangents are not read
            targets = [seeds.get(i, ir.Name("_")) for i in range(len(s.call.args))]
        out: list[ir.Stmt] = [ir.Assign(targets, [call], role="adjoint")]  # g_x, _ = f_reverse(...)
        for t in active_targets:
            out.append(ir.Assign([ir.Name(self.adj(t.id))], [self._zero(t)]))
        for i in active_args:
            out += self.accumulate_argument(s.call.args[i], seeds[i])
        return out

    def accumulate_argument(self, arg: ir.Expr, seed: ir.Expr) -> list[ir.Stmt]:
        """Add a cotangent for one value (a helper's argument, an element of a returned
        tuple); a list gets one per element."""
        if isinstance(arg, (ir.ListExpr, ir.TupleExpr)):
            out = []
            for j, elt in enumerate(arg.elts):
                out += self.accumulate_argument(elt, ir.Subscript(copy.deepcopy(seed), ir.Const(j)))
            return out
        if isinstance(arg, ir.Name) and arg.id in self.containers:
            if not self.is_active(arg.id):
                return []
            k = ir.Name(self.namer.fresh("k"))
            add = ir.Assign([ir.Subscript(ir.Name(self.adj(arg.id)), k)],
                            [ir.Subscript(copy.deepcopy(seed), ir.Name(k.id))], aug="+", role="adjoint")
            length = ir.Call(ir.Lib("builtins", "len"), [copy.deepcopy(seed)])
            return [ir.ForRange(k, [ir.Const(0), length, ir.Const(1)], [add])]
        return self.accumulate(arg, seed)

    # ------------------------------------------------------------------ saves and restores
    def place_saves(self, fwd, rev, reads: set[str]):
        """Turn placeholders into real saves and restores where a value is needed."""
        first_binding = dataflow.first_bindings(fwd)
        self.bound_before: dict[int, set[str]] = {}
        dataflow.definitely_bound(fwd, set(self.fn.params), self.bound_before)
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
            reads = dataflow.reads(rev, skip=ph.loop)  # only reads outside the loop need the old value
        out = []
        if isinstance(s, ir.Append):
            if s.target.id in reads or s.target.id in self.must_restore:
                out.append((None, ir.Pop(s.target)))  # an append is undone by a pop
            return out
        if isinstance(s, ir.Pop):
            if s.target.id in reads or s.target.id in self.must_restore:
                # a pop is undone by pushing the value back (before v gets its old value)
                out.append((None, ir.Append(ir.Name(s.target.id), copy.deepcopy(s.into))))
            targets = [s.into]
        else:
            targets = s.targets
        for t in targets:
            var = ir.target_name(t)
            if var not in reads and var not in self.must_restore:
                continue
            if isinstance(t, ir.Name) and depth == 0 and var not in self.fn.params \
                    and first_binding.get(var) is s:
                continue  # the first value a variable gets outside loops overwrites nothing
            value = copy.deepcopy(t)
            if isinstance(t, ir.Subscript) and kinds.is_array(self.kinds.get(var)):
                value = ir.Call(ir.Lib("numpy", "copy"), [value])  # x[1:3] is a view: keep the values
            if depth == 0:
                slot = ir.Name(self.namer.saved(var))
                out.append((ir.Assign([slot], [value], role="save"),
                            ir.Assign([copy.deepcopy(t)], [slot], role="save")))
                if isinstance(t, ir.Name) and var not in self.bound_before.get(id(ph), set()):
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

    def first_values(self, fwd, prologue) -> list[ir.Stmt]:
        """`v = 0.0` before the forward sweep for an active array bound on some paths only.

        Its adjoint starts as np.zeros_like(v) after the forward sweep; where v was never
        bound that zero is never used, but it must be computable.
        """
        bound = dataflow.definitely_bound(fwd, set(self.fn.params))
        given = {t.id for st in prologue if isinstance(st, ir.Assign) for t in st.targets
                 if isinstance(t, ir.Name)}
        out = []
        for var in sorted(self.active - bound - given):
            k = self.kinds.get(var)
            if kinds.is_array(k) or (kinds.is_list(k) and kinds.is_array(k.elem)):
                first = ir.ListExpr([]) if kinds.is_list(k) else ir.Const(0.0)
                out.append(ir.Assign([ir.Name(var)], [first], role="flag"))
        return out

    # ------------------------------------------------------------------ start and end of the sweep
    def adjoint_inits(self) -> list[ir.Stmt]:
        out = [ir.Comment("reverse sweep")]
        for var in sorted(self.active, key=self._order):
            if var == self.result:
                continue
            out.append(ir.Assign([ir.Name(self.adj(var))], [self._zero(ir.Name(var))], role="adjoint"))
        d_res = ir.Name(self.adj(self.result))
        if self.spec.kind != "vjp" and not _is_scalar(self.kinds.get(self.result)):
            # the rank of the result is known only now: refuse an array as grad's output
            message = f"{self.fn.name} returned an array, and grad needs a scalar output"
            out.append(ir.If(ir.Compare(ir.Call(ir.Lib("numpy", "ndim"), [ir.Name(self.result)]), ["!="],
                                        [ir.Const(0)]),
                             [ir.ExprStmt(ir.Call(ir.Lib("builtins", "ValueError"), [ir.Const(message)]),
                                          kind="raise")], []))
        if self.spec.kind != "vjp":
            out.append(ir.Assign([d_res], [ir.Const(1.0)], role="adjoint"))
        elif self.result in self.containers:
            out.append(ir.Assign([d_res], [ir.Call(ir.Lib("builtins", "list"), [copy.deepcopy(d_res)])],
                                 role="adjoint"))
        elif kinds.is_array(self.kinds.get(self.result)):
            # the caller's cotangent is updated in place below: work on a copy of it
            out.append(ir.Assign([d_res], [ir.Call(ir.Lib("numpy", "array"), [copy.deepcopy(d_res)],
                                                   [("dtype", ir.Lib("builtins", "float"))])],
                                 role="adjoint"))
        return out

    def _order(self, var):
        names = list(self.fn.params)
        return (names.index(var) if var in names else len(names), var)

    def early_zeros(self) -> list[ir.Stmt]:
        """A zero gradient for an input no derivative reaches, taken before the function
        may rebind the input to a value of another shape."""
        return [ir.Assign([ir.Name(self.adj(w))], [self._zero_grad(w)], role="adjoint")
                for w in self.spec.wrt
                if w not in self.active and self.assign_sites.get(w, 0) > 1
                and not _is_scalar(self.kinds.get(w))]

    def epilogue(self) -> list[ir.Stmt]:
        early = {st.targets[0].id for st in self.early_zeros()}
        grads = [ir.Name(self.adj(w)) if w in self.active or self.adj(w) in early else self._zero_grad(w)
                 for w in self.spec.wrt]
        g = grads[0] if len(grads) == 1 else ir.TupleExpr(grads)
        if self.spec.kind == "value_and_grad":
            return [ir.Return(ir.TupleExpr([ir.Name(self.result), g]))]
        return [ir.Return(g)]

    def _zero(self, t: ir.Name) -> ir.Expr:
        """A zero adjoint for variable t: 0.0, zeros of its shape, or a list of zeros."""
        k = self.kinds.get(t.id)
        if t.id in self.containers:
            if k is not None and kinds.is_array(k.elem):
                return array_rules.helper("zeros_list", ir.Name(t.id))
            return _zeros_like_list(t)
        return _zeros_like(t) if kinds.is_array(k) else ir.Const(0.0)

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
    c = _contribution(seed, partial)
    if isinstance(c, ir.UnaryOp) and c.op == "-":
        return ir.Assign([target], [c.operand], aug="-")
    return ir.Assign([target], [c], aug="+")


def _is_list_copy(e: ir.Expr) -> bool:
    """`list(xs)`."""
    return isinstance(e, ir.Call) and isinstance(e.func, ir.Lib) and \
        (e.func.module, e.func.attr) == ("builtins", "list") and len(e.args) == 1 and not e.kwargs


def _element_of_variable(e: ir.Expr) -> bool:
    """x[i], x[i][j]: an element of a variable (not of a computed value)."""
    return isinstance(e, ir.Subscript) and (isinstance(e.value, ir.Name) or _element_of_variable(e.value))


def _is_primitive(s: ir.Assign) -> bool:
    return len(s.targets) == 1 and isinstance(s.targets[0], ir.Name) and not s.aug \
        and array_rules.rule_of_call(s.values[0]) is not None


def _is_scalar(k) -> bool:
    return k == kinds.SCALAR


def _zeros_like(var: ir.Expr) -> ir.Expr:
    return ir.Call(ir.Lib("numpy", "zeros_like"), [copy.deepcopy(var)])


def _contribution(seed: ir.Expr, partial: ir.Expr) -> ir.Expr:
    """seed * partial, written the way a person would (a leading minus kept outside)."""
    seed = copy.deepcopy(seed)
    if isinstance(partial, ir.Const) and partial.value == 1:
        return seed
    if isinstance(partial, ir.UnaryOp) and partial.op == "-":
        inner = partial.operand
        if isinstance(inner, ir.Const) and inner.value == 1:
            return ir.UnaryOp("-", seed)
        return ir.UnaryOp("-", ir.BinOp("*", seed, inner))
    return ir.BinOp("*", seed, partial)


def _elementwise_of(e: ir.Expr, names: set[str]) -> bool:
    """Whether e is computed element by element from these variables and constants only."""
    if isinstance(e, ir.Name):
        return e.id in names
    if isinstance(e, (ir.Const, ir.Lib)):
        return True
    if isinstance(e, (ir.BinOp, ir.UnaryOp, ir.Compare)):
        return all(_elementwise_of(c, names) for c in ir.children(e))
    if isinstance(e, ir.Call) and isinstance(e.func, ir.Lib) and e.method is None \
            and array_rules.rule_of_call(e) is None and not e.kwargs:
        return all(_elementwise_of(a, names) for a in e.args)
    return False


def _basic_index(index: ir.Expr, kind_of) -> bool:
    """Whether x[index] picks each element at most once (ints, slices, None, masks)."""
    items = index.elts if isinstance(index, ir.TupleExpr) else [index]
    for item in items:
        if isinstance(item, (ir.Slice, ir.Compare)) or isinstance(item, ir.Const):
            continue
        if kind_of(item) != kinds.SCALAR:
            return False
    return True


def _rule_params(rule, bound) -> list:
    """Every argument a rule may send a contribution to: a name, or (name, k) for the
    k-th element of a list argument or of varargs."""
    out = []
    for p in rule.params:
        arg = bound.get(p)
        if isinstance(arg, list):
            out += [(p, k) for k in range(len(arg))]
        elif isinstance(arg, (ir.ListExpr, ir.TupleExpr)):
            out += [(p, k) for k in range(len(arg.elts))]
        elif arg is not None:
            out.append(p)
    return out


def _argument(bound, param):
    if isinstance(param, str):
        return bound[param]
    name, k = param
    arg = bound[name]
    return arg[k] if isinstance(arg, list) else arg.elts[k]


def _rebind_array_updates(stmts, var_kinds):
    """`h += x` on an array updates it in place; the generated code rebinds it instead
    (`h = h + x`), so a saved reference to the old value stays the old value.  For a
    number the two are the same."""
    for s in ir.walk_stmts(stmts):
        if isinstance(s, ir.Assign) and s.aug and isinstance(s.targets[0], ir.Name) \
                and not kinds.is_list(var_kinds.get(s.targets[0].id)) and s.role == "user":
            # (a number too: np.where(c, a, b) of numbers is a 0-d array, updated in place)
            s.values = [ir.BinOp(s.aug, ir.Name(s.targets[0].id), s.values[0], pos=s.values[0].pos)]
            s.aug = None


def _zeros_like_list(var: ir.Name) -> ir.Expr:
    return ir.BinOp("*", ir.ListExpr([ir.Const(0.0)]),
                    ir.Call(ir.Lib("builtins", "len"), [ir.Name(var.id)]))


def _arg_label(a: ir.Expr) -> str:
    return a.id if isinstance(a, ir.Name) else "arg"


def _line_of(s) -> str:
    return s.pos.text.strip() if s.pos is not None else ""


def _short(path: str) -> str:
    import os
    return os.path.basename(path)
