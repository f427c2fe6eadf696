"""Reverse mode: build the adjoint function of a lowered IR function.

The adjoint runs the function forward (its own statements, plus saves of values about
to be overwritten), then walks the statements backwards applying the chain rule:

    # grad of: z = a * sin(b) + b ** 2
    d_a += d_z * math.sin(b)
    d_b += d_z * (a * math.cos(b) + 2 * b)

Control flow is reversed structurally: an `if` replays its decision (re-evaluating the
test when its body cannot change it, else reading a recorded flag), a `for` over a range
runs backwards over the same range, a `while` runs as many times as it did forward.

This module holds that reversal and the assembly of the adjoint function.  The adjoint
of each statement comes from adjoints.py (ReverseMode extends AdjointRules); the saves
and restores of overwritten values from saves.py, which turns the placeholders the
sweeps leave into statements; the refusal of in-place updates through aliases from
analysis/aliasing.py.

Argument order of every emitted accumulation: adjoint target first, then the partial.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

from .. import ir
from ..analysis import aliasing, dataflow, kinds
from ..errors import NonScalarOutputError, UnsupportedSyntaxError
from ..rules import registry
from ..rules import runtime_helpers as runtime_rules
from . import common, cotangent_checks, kept_values, recompute, saves
from .adjoints import AdjointRules


@dataclass
class AdjointSpec:
    """What to generate: which inputs, and the calling convention of the result."""
    wrt: list[str]
    kind: str  # "grad" | "value_and_grad" | "vjp"
    name: str
    helper: bool = False  # the adjoint of a function the differentiated one calls


class ReverseMode(AdjointRules):
    """The adjoint function: the sweeps over the statements, their saves, the start and
    end of the reverse sweep.  `module` generates the vjps of called user functions."""

    def __init__(self, fn: ir.Function, spec: AdjointSpec, namer, module, var_kinds: dict):
        super().__init__(fn, spec, namer, module, var_kinds)
        self.init_values: dict[str, ir.Expr] = {}  # bookkeeping variables and their first value

    # ------------------------------------------------------------------ entry point
    def run(self) -> ir.Function:
        fn, spec = self.fn, self.spec
        self.refuse_non_scalar_output()
        fwd, rev = self.sweep(fn.body, depth=0)
        if not spec.helper:  # the caller's arrays come back as they were (a callee works on them)
            self.must_restore |= self._arguments_written_by_index()
        fwd, rev, prologue = saves.place_saves(fwd, rev, self.fn, self.kinds, self.namer,
                                               self.init_values, self.must_restore)
        prologue += saves.first_values(fwd, prologue, self.fn.params, self.active, self.kinds)
        for st in ir.walk_stmts(rev):
            if isinstance(st, ir.Assign) and st.role == "user":
                st.role = "adjoint"
        value = self._kept_value(rev)
        self.reverse_sweep = rev
        body = self.early_zeros() + self.aliased_copies() + prologue + fwd + value + self.adjoint_inits() + rev \
            + self.epilogue(value[0].targets[0] if value else ir.Name(self.result))
        params = list(fn.params)
        if spec.kind == "vjp":
            params.append(self.adj(self.result))
        # a vjp's cotangent comes last, so its parameters keep no defaults
        defaults = {} if spec.kind == "vjp" else dict(fn.defaults)
        out = ir.Function(spec.name, params, defaults, body, doc=self.docstring(), pos=fn.pos)
        out.float_names = {self.adj(v) for v in self.active} | set(self.active) | self.float_seeds \
            | {v for v, k in self.kinds.items() if not kinds.is_scalar(k)}  # arrays: never float(...)
        out.primal_arrays = {v for v, k in self.kinds.items() if kinds.is_array(k)}
        return out

    def refuse_non_scalar_output(self):
        """grad and value_and_grad need a number out (an array of unknown rank is checked
        when the adjoint runs: adjoint_inits)."""
        fn, result_kind = self.fn, self.kinds.get(self.result)
        if self.spec.kind != "vjp" and self.result in self.containers:
            raise NonScalarOutputError(
                f"{fn.name} returns a tuple or list, and grad needs a scalar output", self._return_pos())
        if self.spec.kind != "vjp" and kinds.is_array(result_kind) and result_kind.ndim is not None:
            raise NonScalarOutputError(
                f"{fn.name} returns an array ({result_kind}), and grad needs a scalar output",
                self._return_pos(), "use s2sgrad.vjp with a cotangent of the output's shape, "
                                    "or reduce the output to a number (np.sum, np.mean).")

    def docstring(self) -> str:
        fn, wrt_text = self.fn, ", ".join(self.spec.wrt)
        doc = {"grad": f"Gradient of {fn.name} with respect to {wrt_text}.",
               "value_and_grad": f"Value of {fn.name} and its gradient with respect to {wrt_text}.",
               "vjp": f"Vector-Jacobian product of {fn.name} with respect to {wrt_text}: "
                      f"the cotangent {self.adj(self.result)} pulled back."}[self.spec.kind]
        return doc + f"\n\n    Reverse mode, generated by s2sgrad from {common.origin(fn)}."

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
        """(forward statements, reverse statements) of one statement at this loop depth."""
        self.depth = depth
        if isinstance(s, ir.Assign):
            if s.role == "count":
                return [s], []
            adjoint = self.adjoint_assign(s) if s.role == "user" else []
            header = [common.header("grad of", s)] if adjoint else []
            if adjoint and (_is_primitive(s) or self.reads_result(s)):
                # a primitive's rule reads its result (the max, the inverse), and so does a
                # rule written with it (y = np.exp(x): d_x += d_y * y): it runs before the
                # overwritten value comes back; the adjoint's restart (last) after
                restart = adjoint[-1:] if _is_restart(adjoint[-1], self.adj(s.targets[0].id)) else []
                rev = header + adjoint[:len(adjoint) - len(restart)] + [saves.Restore(s, depth)] + restart
                return [saves.Save(s, depth), s], rev
            return [saves.Save(s, depth), s], header + [saves.Restore(s, depth)] + adjoint
        if isinstance(s, ir.CallAssign):
            adjoint = self.adjoint_call(s)
            header = [common.header("grad of", s)] if adjoint else []
            return [saves.Save(s, depth), s], header + [saves.Restore(s, depth)] + adjoint
        if isinstance(s, ir.Append):
            return [s], [saves.Restore(s, depth)] + self.adjoint_append(s)
        if isinstance(s, ir.Pop):
            move, reset = self.adjoint_pop(s)
            return [saves.Save(s, depth), s], move + [saves.Restore(s, depth)] + reset
        if runtime_rules.is_add_at(s):
            # add_at(d_x, index, g) adds into d_x in place: the slots it changes are saved
            # like those of `d_x[index] += g`
            record, adjoint = self.adjoint_add_at(s)
            header = [common.header("grad of", s)] if adjoint else []
            return [saves.Save(record, depth), s], header + [saves.Restore(record, depth)] + adjoint
        if isinstance(s, (ir.ExprStmt, ir.Break)):
            return [s], []
        if isinstance(s, ir.If):
            return self.reverse_if(s, depth)
        if isinstance(s, (ir.ForRange, ir.ForEach, ir.While)):
            return self.reverse_loop(s, depth)
        raise UnsupportedSyntaxError(f"s2sgrad internal error: cannot reverse {type(s).__name__}", s.pos)

    def reverse_if(self, s: ir.If, depth):
        """The reverse sweep takes the branch the forward sweep took."""
        fb, rb = self.sweep(s.body, depth)
        fo, ro = self.sweep(s.orelse, depth)
        changed = ir.assigned_names(s.body) | ir.assigned_names(s.orelse)
        if not (ir.names_in(s.test) & changed):
            # nothing in the branches changes the test: the reverse sweep re-evaluates it
            return [ir.If(s.test, fb, fo, pos=s.pos)], [ir.If(s.test, rb, ro, pos=s.pos)]
        flag = ir.Name(self.namer.fresh("branch"))
        record = ir.Assign([flag], [s.test], role="flag", pos=s.pos)
        self.init_values[flag.id] = ir.Const(False)
        fwd = [saves.Save(record, depth), record, ir.If(flag, fb, fo, pos=s.pos)]
        return fwd, [ir.If(flag, rb, ro, pos=s.pos), saves.Restore(record, depth)]

    def reverse_loop(self, s, depth):
        if not isinstance(s, ir.While) and s.target.id in ir.assigned_names(s.body):
            self._loop_over_own_variable(s)
        fbody, rbody = self.sweep(s.body, depth + 1)
        local = recompute.locals_if_recomputable(s, self.fn)
        if local is not None:  # independent iterations: recomputed, not taped
            local -= kept_values.kept_in_loop(s, self.fn, self.kept_values, self.spec.kind)
            fbody, rbody = recompute.recomputed(fbody, rbody, local)
        if isinstance(s, ir.ForRange) and self.is_active(s.target.id):
            # each iteration binds the counter afresh (an int, no derivative): what its
            # adjoint gathered since is dropped, and an earlier value's starts at zero
            rbody = rbody + [ir.Assign([ir.Name(self.adj(s.target.id))], [ir.Const(0.0)], role="adjoint")]
        if isinstance(s, ir.ForRange) and (s.reverse or s.limit is not None) and dataflow.breaks(s.body):
            raise UnsupportedSyntaxError("a loop over reversed(range(...)) or range(...)[:n] that breaks "
                                         "is not supported in a differentiated function", s.pos,
                                         "loop over range(...) and index backwards.")
        pre, post, counter = [], [], None
        if isinstance(s, ir.While) or dataflow.breaks(s.body):
            counter = self._trip_counter(s, depth, pre, post)
            fbody = [ir.Assign([counter], [ir.Const(1)], aug="+", role="count")] + fbody
        if isinstance(s, ir.While):
            rev_loop = common.counting_loop(ir.Name(self.namer.fresh("_")), counter, rbody, pos=s.pos)
            return pre + [ir.While(s.test, fbody, pos=s.pos)], [rev_loop] + post
        # the loop variable is overwritten by the loop: save and restore it around it
        bind = ir.Assign([s.target], [s.target], role="loopvar", pos=s.pos)
        save = saves.Save(bind, depth)
        pre = [save] + pre
        post = post + [saves.Restore(bind, depth)]
        if isinstance(s, ir.ForRange):
            fwd_loop, rev_loop = self._reverse_range(s, depth, fbody, rbody, counter, pre, post)
        else:
            fwd_loop, rev_loop = self._reverse_foreach(s, fbody, rbody, counter)
        fwd_loop.bind = bind
        save.loop = rev_loop
        return pre + [fwd_loop], [rev_loop] + post

    def _loop_over_own_variable(self, s):
        """The body reassigns the loop variable, so the reverse loop cannot simply rebind
        it: loop over a variable of our own and bind the user's with a (taped) assignment."""
        own = ir.Name(self.namer.fresh(s.target.id), pos=s.target.pos)
        s.body = [ir.Assign([s.target], [ir.Name(own.id)], pos=s.pos)] + s.body
        s.target = own

    def _trip_counter(self, s, depth, pre: list, post: list) -> ir.Name:
        """A count of the iterations (of a while loop, or of one that breaks) that the
        reverse loop runs as many times; its setting is saved around the loop."""
        counter = ir.Name(self.namer.fresh("trips" if not isinstance(s, ir.While) else "n_iter"))
        init = ir.Assign([counter], [ir.Const(0)], role="flag", pos=s.pos)
        self.init_values[counter.id] = ir.Const(0)
        pre += [saves.Save(init, depth), init]
        post.append(saves.Restore(init, depth))
        return counter

    def _reverse_range(self, s: ir.ForRange, depth, fbody, rbody, counter, pre: list, post: list):
        """The same indices the other way: a generated reverse loop's own reverse runs forward."""
        args = [self._kept_bound(a, s, depth, pre, post)
                for a in s.args + ([s.limit] if s.limit is not None else [])]
        limit = args.pop() if s.limit is not None else None
        fwd_loop = ir.ForRange(s.target, args, fbody, reverse=s.reverse, limit=limit, pos=s.pos)
        rev_loop = ir.ForRange(s.target, args, rbody, reverse=not s.reverse,
                               limit=limit if limit is not None else counter, pos=s.pos)
        return fwd_loop, rev_loop

    def _kept_bound(self, bound: ir.Expr, s, depth, pre: list, post: list) -> ir.Expr:
        """A bound the body or the loop changes (`for n in range(n)`), kept in a variable
        of its own (saved around the loop)."""
        if not ir.names_in(bound) & (ir.assigned_names(s.body) | {s.target.id}):
            return bound
        keep = ir.Name(self.namer.fresh("bound"))
        rec = ir.Assign([keep], [bound], role="flag", pos=bound.pos)
        self.init_values[keep.id] = ir.Const(0)
        pre += [saves.Save(rec, depth), rec]
        post.insert(0, saves.Restore(rec, depth))
        return keep

    def _reverse_foreach(self, s: ir.ForEach, fbody, rbody, counter):
        """for v in seq: the reverse walks the indices backwards and rebinds v; v's adjoint
        goes to its element's."""
        k, fetch, length = common.by_index(s, self.namer)
        tail = []
        if self.is_active(s.target.id) and self.is_active(s.seq.id):
            d_item = ir.Subscript(ir.Name(self.adj(s.seq.id)), k)
            tail = [ir.Assign([d_item], [ir.Name(self.adj(s.target.id))], aug="+"),
                    ir.Assign([ir.Name(self.adj(s.target.id))], [self.reset_value(s.target)])]
        rev_loop = common.counting_loop(k, length, [fetch] + rbody + tail, reverse=True, limit=counter,
                                        pos=s.pos)
        return ir.ForEach(s.target, s.seq, fbody, pos=s.pos), rev_loop

    # ------------------------------------------------------------------ start and end of the sweep
    def adjoint_inits(self) -> list[ir.Stmt]:
        """Between the sweeps: every active variable's adjoint starts at zero, the
        result's at the seed (1.0, or the caller's cotangent)."""
        out = [ir.Comment("reverse sweep")]
        for var in sorted(self.active, key=self._order):
            if var == self.result:
                continue
            out.append(ir.Assign([ir.Name(self.adj(var))], [self.zero_adjoint(ir.Name(var))], role="adjoint"))
        return out + self._result_seed()

    def _result_seed(self) -> list[ir.Stmt]:
        d_res = ir.Name(self.adj(self.result))
        out: list[ir.Stmt] = []
        if self.spec.kind != "vjp" and not kinds.is_scalar(self.kinds.get(self.result)):
            # the rank of the result is known only now: refuse an array as grad's output
            message = f"{self.fn.name} returned an array, and grad needs a scalar output"
            out.append(ir.If(ir.Compare(ir.Call(ir.Lib("numpy", "ndim"), [ir.Name(self.result)]), ["!="],
                                        [ir.Const(0)]),
                             [ir.ExprStmt(ir.Call(ir.Lib("builtins", "ValueError"), [ir.Const(message)]),
                                          kind="raise")], []))
        if self.spec.kind != "vjp":
            out.append(ir.Assign([d_res], [ir.Const(1.0)], role="adjoint"))
            return out
        if not self.spec.helper:  # the caller's cotangent (generated callers pass the right ones)
            out += cotangent_checks.fit_checks(self, d_res)
        if self.result in self.containers and _changed_in_place(d_res.id, self.reverse_sweep):
            # the caller's cotangent list is updated in place below: work on a copy of it
            # (one only read is not copied: a tuple of a number and an array stays a tuple,
            # which numba cannot make a list)
            out.append(ir.Assign([d_res], [ir.Call(ir.Lib("builtins", "list"), [copy.deepcopy(d_res)])],
                                 role="adjoint"))
        elif kinds.is_array(self.kinds.get(self.result)):
            # the caller's cotangent is updated in place below: work on a copy of it, of
            # the output's shape (a cotangent broadcast into the adjoint would be a guess)
            # (a cotangent of another rank numba cannot type: the call refuses it before, api.py)
            out.append(cotangent_checks.shape_check(self, d_res))
            out.append(ir.Assign([d_res], [ir.Call(ir.Lib("numpy", "array"), [copy.deepcopy(d_res)],
                                                   [("dtype", ir.Lib("builtins", "float"))])],
                                 role="adjoint"))
            self._adopt_cotangent(d_res.id)
        return out

    def _adopt_cotangent(self, d_res: str) -> None:
        """Where one statement reads the checked copy of the cotangent, `d_v += d_result`,
        d_v may start as that copy (no zeros, no addition): it is a new array of the
        output's shape, which v has there, and nothing else reads it."""
        readers = [st for st in ir.walk_stmts(self.reverse_sweep) if d_res in ir.stmt_reads(st)]
        if len(readers) != 1:
            return
        st = readers[0]
        if isinstance(st, ir.Assign) and st.role in ("adjoint", "user") and st.aug == "+" \
                and len(st.targets) == 1 and isinstance(st.targets[0], ir.Name) \
                and isinstance(st.values[0], ir.Name) and st.values[0].id == d_res \
                and st.targets[0].id != d_res:
            primal = next((v for v in self.active if self.adj(v) == st.targets[0].id), None)
            if primal is not None and (primal not in self.fn.params
                                       or getattr(self.kinds.get(primal), "dtype", None) == "float64"):
                st.exact = True

    def _order(self, var):
        """Parameters first, in their order; then the other variables by name."""
        names = list(self.fn.params)
        return (names.index(var) if var in names else len(names), var)

    def early_zeros(self) -> list[ir.Stmt]:
        """A zero gradient for an input no derivative reaches, taken before the function
        may rebind the input to a value of another shape."""
        return [ir.Assign([ir.Name(self.adj(w))], [self.zero_adjoint(ir.Name(w))], role="adjoint")
                for w in self.spec.wrt
                if w not in self.active and self.assign_sites.get(w, 0) > 1
                and not kinds.is_scalar(self.kinds.get(w))]

    def aliased_copies(self) -> list[ir.Stmt]:
        """`x = np.copy(x)` for an input written through another name (v = x; v[0] = 0.0):
        the derivative leaves the caller's array alone (what f writes into x by index
        itself, the reverse sweep puts back)."""
        if self.spec.helper:  # a callee works on its caller's arrays, as the function does
            return []
        aliased = aliasing.params_written_through_aliases(self.fn, self.kinds, getattr(self.module, "lower", None)) \
            | aliasing.added_into(self.fn.body)  # np.add.at's slots are not put back
        return [ir.Assign([ir.Name(p)], [common.np_call("copy", ir.Name(p))], role="flag")
                for p in self.fn.params if p in aliased]

    def _arguments_written_by_index(self) -> set[str]:
        """Parameters f writes into by index (`y[1] = ...`) and never rebinds: what the
        forward sweep writes there, the reverse sweep puts back, whether or not it reads
        the old values itself."""
        written = {ir.target_name(t) for st in ir.walk_stmts(self.fn.body) if isinstance(st, ir.Assign)
                   for t in st.targets if isinstance(t, ir.Subscript)}
        return (written & set(self.fn.params)) - dataflow.rebound_names(self.fn.body)

    def _kept_value(self, rev) -> list[ir.Stmt]:
        """`value = result` after the forward sweep, for value_and_grad, where the reverse
        sweep restores an earlier binding of the result (a function with several returns)."""
        if self.spec.kind != "value_and_grad" or self.result not in ir.assigned_names(rev):
            return []
        return [ir.Assign([ir.Name(self.namer.fresh("value"))], [ir.Name(self.result)], role="flag")]

    def epilogue(self, value: ir.Name) -> list[ir.Stmt]:
        """return d_x (or (d_x, d_y), or (value, gradient) for value_and_grad)."""
        early = {st.targets[0].id for st in self.early_zeros()}
        grads = [ir.Name(self.adj(w)) if w in self.active or self.adj(w) in early
                 else self.zero_adjoint(ir.Name(w)) for w in self.spec.wrt]
        g = grads[0] if len(grads) == 1 else ir.TupleExpr(grads)
        if self.spec.kind == "value_and_grad":
            return [ir.Return(ir.TupleExpr([value, g]))]
        return [ir.Return(g)]

    def _return_pos(self):
        """Where the result is bound (the return statement), for errors about it."""
        for s in ir.walk_stmts(self.fn.body):
            if isinstance(s, ir.Assign) and isinstance(s.targets[0], ir.Name) \
                    and s.targets[0].id == self.result:
                return s.pos
        return self.fn.pos


def _is_restart(s: ir.Stmt, d_t: str) -> bool:
    """`d_t = 0.0` (or zeros): an adjoint starting afresh."""
    return isinstance(s, ir.Assign) and not s.aug and len(s.targets) == 1 \
        and isinstance(s.targets[0], ir.Name) and s.targets[0].id == d_t


def _is_primitive(s: ir.Assign) -> bool:
    """`y = np.<primitive>(...)`: a call with a rule in rules/arrays.py."""
    return len(s.targets) == 1 and isinstance(s.targets[0], ir.Name) and not s.aug \
        and registry.rule_of_call(s.values[0]) is not None


def _changed_in_place(name: str, stmts) -> bool:
    """Whether the statements may change the list `name` in place: a write by index, an
    append or pop, or a call it is passed to (a callee's adjoint may add into it)."""
    for st in ir.walk_stmts(stmts):
        if isinstance(st, (ir.Append, ir.Pop)) and st.target.id == name:
            return True
        targets = st.targets if isinstance(st, ir.Assign) else [st.into] if isinstance(st, ir.Pop) else []
        if any(isinstance(t, ir.Subscript) and ir.target_name(t) == name for t in targets):
            return True
        if isinstance(st, ir.Assign) and any(isinstance(v, ir.Name) and v.id == name for v in st.values):
            return True  # another name for the same list
        for e in ir.stmt_exprs(st):
            for sub in ir.subexprs(e):
                if isinstance(sub, ir.Call) and any(isinstance(a, ir.Name) and a.id == name
                                                    for a in list(sub.args) + [v for _, v in sub.kwargs]):
                    return True
    return False
