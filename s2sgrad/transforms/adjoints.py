"""The adjoint of each kind of statement, for reverse mode (reverse.py).

An assignment's adjoint adds the result's cotangent, times each partial, into the
adjoints of the active variables it read; then the result's own adjoint restarts (its
earlier value is another value), or is scaled for `x = x * w`:

    # grad of: z = a * sin(b) + b ** 2
    d_a += d_z * math.sin(b)
    d_b += d_z * (a * math.cos(b) + 2 * b)
    d_z = 0.0                     # (dropped by the optimizer where nothing reads it)

An array primitive's adjoint comes from its rule (rules/arrays.py), a call of a user
function from that function's vjp (generated too, through `module.vjp_of`), a
custom_derivative's from the user's reverse rule; appends and pops move cotangents
between a list's adjoint and its elements'.  Arrays bring shapes: a contribution is
summed or unbroadcast to the shape of what it is added to, and indices that may repeat
add up with add_at.
"""
from __future__ import annotations

import copy

from .. import custom, ir
from ..analysis import aliasing, dataflow, kinds
from ..analysis.activity import active_variables
from ..backends.python import expr_source
from ..errors import UnsupportedSyntaxError
from ..rules import registry
from ..rules.array import core as array_rules
from ..rules import partials
from . import common, invariant_calls, kept_values, saves


class AdjointRules(common.Mode):
    """The adjoint statements of one function's statements; ReverseMode (reverse.py)
    puts them in the reverse sweep.

    The copy of the function is prepared first: tape pops get named results (the reverse
    sweep pushes them back), in-place updates of aliased arrays are refused, and those
    of other arrays become rebindings (a saved reference must keep the old value).
    Activity analysis runs on the prepared function.
    """

    def __init__(self, fn: ir.Function, spec, namer, module, var_kinds: dict):
        super().__init__(fn, spec, namer, module, var_kinds)
        saves.name_popped_values(self.fn, self.kinds, namer)
        saves.hoist_self_reading_indices(self.fn.body, self.kinds, namer)
        self.containers = {v for v, k in self.kinds.items() if kinds.is_list(k)}
        aliasing.refuse_aliased_updates(self.fn, self.kinds, spec.helper, sure_only=module.guessed,
                                        lower=getattr(module, "lower", None))
        saves.rebind_array_updates(self.fn.body, self.kinds)
        # compiled targets: calls that do not change with an outer loop move out of it
        # (invariant_calls.py); those left in loops keep their values (kept_values.py)
        compiled = getattr(module, "keeps_values", False)
        if compiled:
            invariant_calls.hoist_calls(self.fn, self.kinds, namer)
        self.kept_values = kept_values.name_calls(self.fn, self.kinds, namer) if compiled else set()
        self.active = active_variables(self.fn, spec.wrt, [self.result])
        self.assign_sites = dataflow.count_assignments(self.fn)
        self.masks = _mask_variables(self.fn.body)  # booleans: index without repeats
        self.distinct = _distinct_index_groups(self.fn, self.kinds, self.assign_sites)  # np.tril_indices
        self.must_restore: set[str] = set()  # restored even when the reverse sweep reads no value
        self.float_seeds: set[str] = set()   # cotangents returned by helpers' vjps: floats
        self.depth = 0  # loops around the statement whose adjoint is built (the sweep sets it)

    def adj(self, var: str) -> str:
        """d_var, the adjoint variable of var."""
        return self.namer.adjoint(var)

    # ------------------------------------------------------------------ adjoint statements
    def adjoint_assign(self, s: ir.Assign) -> list[ir.Stmt]:
        """The adjoint of `t = v` (or `t op= v`, or `a, b = b, a`)."""
        if len(s.targets) == 1:
            t, v = s.targets[0], s.values[0]
            if isinstance(t, ir.Subscript) and self.is_active(ir.target_name(t)) \
                    and (s.aug or partials.carries(v, self.is_active)) and self._may_repeat(t.index):
                raise UnsupportedSyntaxError(
                    f"writing into `{expr_source(t)}` with indices that may repeat", s.pos,
                    "NumPy keeps the last write to a repeated index, which is not differentiated: "
                    "index with slices, a mask, ints or a literal list of distinct ints, or build "
                    "the array without the write (np.where, np.concatenate).")
            if s.aug:
                v = ir.BinOp(s.aug, copy.deepcopy(t), v, pos=v.pos)
            rule = registry.rule_of_call(v)
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
                self.float_seeds.add(seed.id)  # a copy of an adjoint: never float(...) it
                out.append(ir.Assign([seed], [self.adj_expr(t)]))
                seeds.append((seed, v))
        for t in s.targets:
            if self.is_active(ir.target_name(t)):
                out.append(ir.Assign([self.adj_expr(t)], [ir.Const(0.0)]))
        for seed, v in seeds:
            out += self.accumulate(v, seed)
        return out

    def _may_repeat(self, index: ir.Expr) -> bool:
        """Whether an index may pick one element twice: an integer array not written in
        the code as a literal list of distinct ints (masks, ints and slices never do)."""
        items = index.elts if isinstance(index, ir.TupleExpr) else [index]
        items = _without_a_distinct_group(items, self.distinct)
        for item in items:
            if isinstance(item, (ir.Slice, ir.Const)) or _is_mask(item):
                continue
            if isinstance(item, ir.Name) and item.id in self.masks:
                continue
            if isinstance(item, ir.ListExpr) and all(
                    isinstance(e, ir.Const) and isinstance(e.value, int) for e in item.elts) \
                    and len({e.value for e in item.elts}) == len(item.elts):
                continue
            if kinds.is_scalar(self.kind_of(item)):
                continue
            return True
        return False

    def reads_result(self, s: ir.Assign) -> bool:
        """Whether the adjoint of `y = f(x)` reads y's new value (see result_read)."""
        return len(s.targets) == 1 and not s.aug and self.result_read(s.targets[0], s.values[0]) is not None

    def result_read(self, t: ir.Expr, v: ir.Expr) -> ir.Name | None:
        """t, where the partials of `t = v` are written with t itself (rules.partials);
        not the output of a grad, which would compute it for that alone."""
        if not isinstance(t, ir.Name) or (t.id == self.result and self.spec.kind != "value_and_grad"):
            return None
        return t if partials.reads_result(v, t, self.is_active) else None

    def adj_expr(self, t: ir.Expr) -> ir.Expr:
        """d_x for x; d_xs[i] for xs[i]."""
        if isinstance(t, ir.Name):
            return ir.Name(self.adj(t.id))
        return ir.Subscript(self.adj_expr(t.value), copy.deepcopy(t.index))

    def accumulate(self, value: ir.Expr, seed: ir.Expr, skip_key: str | None = None,
                   seed_broadcasts: bool = False, result: ir.Name | None = None,
                   seed_of: ir.Expr | None = None, sources: int | None = None):
        """`d_a += seed * da/dvalue` for every active atom a of `value`.

        seed_of: the primal whose adjoint the seed is (`y[i]` for `d_y[i]`), whose kind
        the seed has; sources: _broadcast_sources(value), where the caller has it.  Returns
        the statements, and (when skip_key names an atom) that atom's partial.
        """
        arrays = self._broadcast_sources(value) if sources is None else sources
        seed_kind = self.kind_of(seed_of if seed_of is not None else seed)
        if seed_broadcasts or isinstance(seed, ir.Subscript) and not kinds.is_scalar(seed_kind):
            arrays += 1  # y[i] = ... broadcasts the value into the slot
        temps, grads = partials.partials(value, self.is_active, self.namer.fresh, numpy=arrays > 0,
                                         result=result)
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
            fit = "sum" if kinds.is_scalar(self.kind_of(atom)) else "unbroadcast" if arrays > 1 else None
            contribution = common.times(seed, partial)
            fresh = not isinstance(partial, ir.Const) or partial.value != 1
            out += self.add_to(atom, contribution, fit, exact=fresh and fit != "sum")
        if skip_key is not None:
            return out, self_partial
        return out

    def adjoint_single(self, t: ir.Expr, v: ir.Expr) -> list[ir.Stmt]:
        """The adjoint of an element-wise `t = v`."""
        if not self.is_active(ir.target_name(t)):
            return []
        d_t = self.adj_expr(t)
        atoms = list(_reads(v))
        array_target = not kinds.is_scalar(self.kind_of(t))
        # xs[i] = f(xs[j]) or y[:] = f(y): the value reads slots the write may overwrite
        reads_other_slot = isinstance(t, ir.Subscript) and any(
            ir.target_name(a) == ir.target_name(t) and expr_source(a) != expr_source(t)
            for a in atoms)
        sources = self._broadcast_sources(v)
        arrays = sources + (array_target and isinstance(t, ir.Subscript))
        reads_target = t.id in ir.names_in(v) if isinstance(t, ir.Name) else \
            expr_source(t) in {expr_source(a) for a in atoms}
        # x = x[1:] or h = h * w (w wider): the new value has another shape than the old
        reshapes = arrays > 1 or (isinstance(t, ir.Name) and any(
            isinstance(a, ir.Subscript) and ir.target_name(a) == t.id for a in atoms))
        if reads_other_slot or (array_target and reads_target and reshapes):
            # xs[i] = f(xs[j]): i may equal j, so take d_xs[i] out first;
            # h = h * w with arrays: h may change shape, so its old adjoint starts afresh
            seed = ir.Name(self.namer.fresh("g_" + ir.target_name(t)))
            self.float_seeds.add(seed.id)
            taken = ir.Call(ir.Lib("numpy", "copy"), [d_t]) if isinstance(t, ir.Subscript) and array_target else d_t
            return [ir.Assign([seed], [taken]), ir.Assign([copy.deepcopy(d_t)], [self.reset_value(t)])] \
                + self.accumulate(v, seed, seed_broadcasts=isinstance(t, ir.Subscript) and array_target,
                                  sources=sources)
        out, self_partial = self.accumulate(v, d_t, skip_key=expr_source(t), result=self.result_read(t, v),
                                            seed_of=t, sources=sources)
        if self_partial is None:
            out.append(ir.Assign([copy.deepcopy(d_t)], [self.reset_value(t)]))
        elif not (isinstance(self_partial, ir.Const) and self_partial.value == 1):
            out.append(ir.Assign([copy.deepcopy(d_t)], [self_partial], aug="*"))
        return out

    # ------------------------------------------------------------------ arrays
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
            if kinds.is_scalar(self.kind_of(leaf)):
                continue
            if not isinstance(leaf, (ir.Name, ir.Subscript)) and _elementwise_of(leaf, own):
                continue
            count += 1
        return count

    def reset_value(self, t: ir.Expr) -> ir.Expr:
        """The zero an adjoint restarts from once its variable's assignment is undone."""
        if isinstance(t, ir.Name) and t.id in self.containers:
            return self.zero_adjoint(t)
        if isinstance(t, ir.Name) and kinds.is_array(self.kinds.get(t.id)):
            return common.zeros_like(t)  # t holds its earlier value here: the right shape
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
        reset = ir.Assign([ir.Name(self.adj(t.id))], [self.reset_value(t)])
        arguments = [common.argument(bound, key) for key in common.argument_keys(bound, rule.params)]
        if not any(partials.carries(a, self.is_active) for a in arguments):
            return [reset]  # t is overwritten with a constant
        # the frontend gives a primitive that reads its own target a variable of its own
        assert t.id not in ir.names_in(call), "s2sgrad internal error: x = f(x) with f a primitive"
        out: list[ir.Stmt] = []
        seed = ir.Name(self.adj(t.id))
        let = self.let_into(out, self.float_seeds)
        ctx = array_rules.VjpContext(bound, self.ranks(bound), ir.Name(t.id), seed, let, rule)
        for key, contribution in common.apply_rule(rule.vjp, ctx, s):
            arg = common.argument(bound, key)
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
            return [common.counting_loop(k, common.length(ir.Name(arg.id)), [add])]
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
        """The adjoint of binding a list variable: element by element."""
        if not self.is_active(t.id):
            return []
        if not partials.carries(v, self.is_active):
            # a list of constants ([0.0] * len(xs), as generated code starts list adjoints)
            if self.assign_sites.get(t.id, 0) > 1 or t.id in self.fn.params or self.depth > 0:
                return [ir.Assign([ir.Name(self.adj(t.id))], [self.zero_adjoint(t)])]
            return []
        if _is_list_copy(v) and isinstance(v.args[0], ir.Name) and v.args[0].id == t.id:
            return []  # d = list(d): the same values, its adjoint passes through
        if isinstance(v, ir.Name) and v.id in self.containers \
                and not aliasing.list_written_after(self.fn.body, s, {t.id, v.id}):
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
            out.append(ir.Assign([ir.Name(self.adj(t.id))], [self.zero_adjoint(t)]))
        return out

    def adjoint_append(self, s: ir.Append) -> list[ir.Stmt]:
        """The adjoint of `xs.append(v)`: v's cotangent is popped off d_xs."""
        if not self.is_active(s.target.id):
            return []
        d_list = ir.Name(self.adj(s.target.id))
        if not partials.carries(s.value, self.is_active):
            return [ir.Pop(d_list)]
        if isinstance(s.value, ir.Name):
            return [common.header("grad of", s),
                    _increment(ir.Name(self.adj(s.value.id)), ir.Call(ir.Attr(ir.Name(d_list.id), "pop"), []), ir.Const(1))]
        seed = ir.Name(self.namer.fresh("g_" + s.target.id))
        self.float_seeds.add(seed.id)
        return [common.header("grad of", s), ir.Pop(d_list, into=seed)] + self.accumulate(s.value, seed)

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
                if isinstance(v, ir.Subscript) and not kinds.is_scalar(self.kind_of(v)):
                    d_v = ir.Call(ir.Lib("numpy", "copy"), [d_v])  # d_x[i] is a view: keep the values
            else:
                d_v = common.zeros_like(v) if kinds.is_array(self.kind_of(v)) else ir.Const(0.0)
            move = [common.header("grad of", s),
                    ir.Append(ir.Name(self.adj(tape.id)), d_v, pos=s.pos)]
        if active_v:
            reset = [ir.Assign([self.adj_expr(v)], [self.reset_value(v)], role="adjoint")]
        return move, reset

    def adjoint_call(self, s: ir.CallAssign) -> list[ir.Stmt]:
        """`g_a, g_b = vjp_h(a, b, d_y)` for `y = h(a, b)`, then the g's are added to d_a, d_b."""
        active_targets = [t for t in s.targets if self.is_active(t.id)]
        active_args = [i for i, a in enumerate(s.call.args) if partials.carries(a, self.is_active)]
        if not active_targets:
            return []
        if not active_args:  # the call overwrites active variables with constants
            return [ir.Assign([ir.Name(self.adj(t.id))], [self.zero_adjoint(t)], role="adjoint")
                    for t in active_targets]
        if isinstance(s.call.func, ir.CustomFn):
            return self.adjoint_custom_call(s, active_targets, active_args)
        callee = s.call.func.key
        vjp_name = self.module.vjp_of(callee, active_args, [self.kind_of(a) for a in s.call.args])
        args = [copy.deepcopy(a) for a in s.call.args] + [self.cotangent_of(s)]
        call = ir.Call(ir.Ref(vjp_name), args, pos=s.pos)
        seeds = self.argument_seeds(s, active_args)
        vjp = ir.Assign(list(seeds.values()), [call], role="adjoint")  # g_a, g_b = vjp_h(...)
        return [vjp] + self.after_call(s, active_targets, seeds)

    def adjoint_custom_call(self, s: ir.CallAssign, active_targets, active_args) -> list[ir.Stmt]:
        """`g_x, g_y = f_reverse(x, y, d_out)`: the user's reverse rule gives one cotangent
        per parameter; those of active arguments are added like a helper's."""
        wrapper, spelled = s.call.func.rule, s.call.func.name
        if wrapper.reverse_rule is None:
            raise custom.missing_rule(wrapper, "reverse", s.pos, name=spelled)
        rule_name = self.module.custom_rule_name(wrapper, "reverse", spelled)
        args = [copy.deepcopy(a) for a in s.call.args] + [self.cotangent_of(s)]
        call = ir.Call(ir.Ref(rule_name), args, pos=s.pos)
        seeds = self.argument_seeds(s, active_args)
        label = f"the reverse rule {rule_name} of {spelled or custom.name_of(wrapper)}"
        n = len(s.call.args)
        if n == 1:
            out: list[ir.Stmt] = [ir.Assign([seeds[0]], [call], role="adjoint")]
        else:  # the rule returns a tuple: inactive arguments' cotangents are not read
            # (its length checked first: a wrong one would unpack into the wrong names)
            returned = ir.Name(self.namer.fresh("cotangents"))
            out = [ir.Assign([returned], [call], role="adjoint"),
                   _guard(ir.Compare(ir.Call(ir.Lib("builtins", "len"), [ir.Name(returned.id)]), ["!="],
                                     [ir.Const(n)]),
                          f"{label} must return {n} cotangents, one per parameter"),
                   ir.Assign([seeds.get(i, ir.Name("_")) for i in range(n)], [ir.Name(returned.id)],
                             role="adjoint")]  # g_x, _ = cotangents
        checks, checked = [], []
        for i, seed in seeds.items():
            arg = s.call.args[i]
            k = self.kind_of(arg)
            if kinds.is_scalar(k) or kinds.is_array(k):  # each cotangent has its argument's shape
                shape = ir.Call(ir.Lib("numpy", "shape"), [ir.Name(seed.id)])
                checks.append(ir.Compare(shape, ["!="], [ir.Call(ir.Lib("numpy", "shape"), [copy.deepcopy(arg)])]))
                checked.append(f"`{expr_source(arg)}`")
        if checks:
            out.append(_guard(checks[0] if len(checks) == 1 else ir.BoolOp("or", checks),
                              f"{label} returned a cotangent of another shape than its argument "
                              f"({', '.join(checked)})"))
        return out + self.after_call(s, active_targets, seeds)

    def cotangent_of(self, s: ir.CallAssign) -> ir.Expr:
        """What a call's vjp pulls back: d_y, or (d_a, d_b) for `a, b = h(...)` (0.0 for an
        inactive target)."""
        if s.unpack:
            return ir.TupleExpr([ir.Name(self.adj(t.id)) if self.is_active(t.id) else ir.Const(0.0)
                                 for t in s.targets])
        return ir.Name(self.adj(s.targets[0].id))

    def argument_seeds(self, s: ir.CallAssign, active_args) -> dict[int, ir.Name]:
        """g_a, g_b: fresh names for the cotangents a vjp returns for the active arguments."""
        seeds = {i: ir.Name(self.namer.fresh("g_" + _arg_label(s.call.args[i]))) for i in active_args}
        self.float_seeds |= {seed.id for seed in seeds.values()}
        return seeds

    def after_call(self, s: ir.CallAssign, active_targets, seeds: dict) -> list[ir.Stmt]:
        """Once the vjp ran: the targets' adjoints restart, the arguments' gather the seeds."""
        out: list[ir.Stmt] = [ir.Assign([ir.Name(self.adj(t.id))], [self.zero_adjoint(t)])
                              for t in active_targets]
        for i, seed in seeds.items():
            out += self.accumulate_argument(s.call.args[i], seed)
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
            return [common.counting_loop(k, common.length(copy.deepcopy(seed)), [add])]
        return self.accumulate(arg, seed)

    # ------------------------------------------------------------------ zeros
    def zero_adjoint(self, t: ir.Name) -> ir.Expr:
        """A zero adjoint for variable t: 0.0, zeros of its shape, or a list of zeros."""
        k = self.kinds.get(t.id)
        if t.id in self.containers:
            if k is not None and (kinds.is_array(k.elem) or kinds.is_list(k.elem)):
                return array_rules.helper("zeros_list", ir.Name(t.id))
            return common.list_of_zeros(t)
        return common.zeros_like(t) if kinds.is_array(k) else ir.Const(0.0)


def _reads(e: ir.Expr):
    """The variables and elements of variables an expression reads, outermost: `q[row]`
    and `row` for `q[row]`, not the `q` it is an element of (which would make every
    `q[row] += e` look like a read of q's other slots)."""
    if isinstance(e, ir.Name) or common.is_element_of_variable(e):
        yield e
        while isinstance(e, ir.Subscript):  # the indices' reads: q[idx[i]] reads idx[i]
            yield from _reads(e.index)
            e = e.value
        return
    for c in ir.children(e):
        yield from _reads(c)


def _increment(target: ir.Expr, seed: ir.Expr, partial: ir.Expr) -> ir.Assign:
    """target += seed * partial, written the way a person would."""
    c = common.times(seed, partial)
    if isinstance(c, ir.UnaryOp) and c.op == "-":
        return ir.Assign([target], [c.operand], aug="-")
    return ir.Assign([target], [c], aug="+")


def _guard(test: ir.Expr, message: str) -> ir.If:
    """`if test: raise ValueError(message)` in the generated code (the API raises it as
    a CustomRuleError)."""
    return ir.If(test, [ir.ExprStmt(ir.Call(ir.Lib("builtins", "ValueError"), [ir.Const(message)]),
                                    kind="raise")], [])


def _is_mask(e: ir.Expr) -> bool:
    """A comparison, or masks combined with & | ~."""
    if isinstance(e, ir.Compare):
        return True
    if isinstance(e, ir.BinOp) and e.op in ("&", "|", "^"):
        return _is_mask(e.left) and _is_mask(e.right)
    return isinstance(e, ir.UnaryOp) and e.op == "~" and _is_mask(e.operand)


def _mask_variables(stmts) -> set[str]:
    """Variables every assignment of which is a mask (`m = y < 0`)."""
    masks, others = set(), set()
    for s in ir.walk_stmts(stmts):
        if isinstance(s, ir.Assign):
            for t, v in zip(s.targets, s.values):
                if isinstance(t, ir.Name):
                    (masks if _is_mask(v) and not s.aug else others).add(t.id)
        elif isinstance(s, ir.CallAssign):
            others |= {t.id for t in s.targets}
        elif isinstance(s, (ir.ForRange, ir.ForEach)):
            others.add(s.target.id)
        elif isinstance(s, ir.Pop) and isinstance(s.into, ir.Name):
            others.add(s.into.id)
    return masks - others


# NumPy calls whose integer index arrays pick each element at most once: the components
# of a tril_indices(...) tuple pair up into distinct positions; flatnonzero holds distinct
# ints, and so does arange of non-negative int constants (a negative start would wrap)
DISTINCT_TUPLES = {"tril_indices", "triu_indices", "diag_indices", "tril_indices_from",
                   "triu_indices_from", "diag_indices_from", "nonzero"}


def _distinct_indices(v: ir.Expr) -> str | None:
    """"tuple" for a DISTINCT_TUPLES call, "array" for flatnonzero or such an arange."""
    if not (isinstance(v, ir.Call) and isinstance(v.func, ir.Lib) and v.func.module == "numpy"
            and v.method is None):
        return None
    if v.func.attr in DISTINCT_TUPLES:
        return "tuple"
    if v.func.attr == "flatnonzero" or v.func.attr == "arange" and not v.kwargs and all(
            isinstance(a, ir.Const) and type(a.value) is int and a.value >= 0 for a in v.args):
        return "array"
    return None


def _distinct_index_groups(fn, var_kinds, assign_sites) -> dict[str, tuple[str, int | None, int | None]]:
    """var -> (group, component, components) for index arrays bound once and never written
    into: from one call of DISTINCT_TUPLES (`rows, cols = np.tril_indices(n)`, or the tuple
    itself, whose component is None) or a distinct array (one component)."""
    written = aliasing.updated_in_place(fn.body, var_kinds)
    assigns = [s for s in ir.walk_stmts(fn.body) if isinstance(s, ir.Assign) and not s.aug]
    once = {t.id: v for s in assigns for t, v in zip(s.targets, s.values)
            if isinstance(t, ir.Name) and assign_sites.get(t.id) == 1 and t.id not in written}
    groups = {v: (v, None, None) if _distinct_indices(e) == "tuple" else (v, 0, 1)
              for v, e in once.items() if _distinct_indices(e) is not None}
    for s in assigns:  # rows, cols = packed: packed[0], packed[1]
        if len(s.targets) < 2:
            continue
        for k, (t, v) in enumerate(zip(s.targets, s.values)):
            if isinstance(t, ir.Name) and t.id in once and isinstance(v, ir.Subscript) \
                    and isinstance(v.value, ir.Name) and groups.get(v.value.id, (0, 0))[1] is None \
                    and isinstance(v.index, ir.Const) and v.index.value == k:
                groups[t.id] = (v.value.id, k, len(s.targets))
    return groups


def _without_a_distinct_group(items, groups) -> list:
    """The index items less those that together are every component of one distinct group
    (y[:, rows, cols] with rows, cols = np.tril_indices(n): no position twice)."""
    named = [(i, groups[e.id]) for i, e in enumerate(items) if isinstance(e, ir.Name) and e.id in groups]
    others = [e for e in items if not (isinstance(e, ir.Name) and e.id in groups)]
    if not named or len({g for _, (g, _, _) in named}) != 1:
        return items
    _, k, n = named[0][1]
    components = sorted(c for _, (_, c, _) in named)
    if k is None and len(named) == 1 and len(items) == 1:  # y[idx], idx the whole tuple
        return []
    if k is not None and components == list(range(n)):
        return others
    return items


def _is_list_copy(e: ir.Expr) -> bool:
    """`list(xs)`."""
    return isinstance(e, ir.Call) and isinstance(e.func, ir.Lib) and \
        (e.func.module, e.func.attr) == ("builtins", "list") and len(e.args) == 1 and not e.kwargs


def _elementwise_of(e: ir.Expr, names: set[str]) -> bool:
    """Whether e is computed element by element from these variables and constants only."""
    if isinstance(e, ir.Name):
        return e.id in names
    if isinstance(e, (ir.Const, ir.Lib)):
        return True
    if isinstance(e, (ir.BinOp, ir.UnaryOp, ir.Compare)):
        return all(_elementwise_of(c, names) for c in ir.children(e))
    if isinstance(e, ir.Call) and isinstance(e.func, ir.Lib) and e.method is None \
            and registry.rule_of_call(e) is None and not e.kwargs:
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


def _arg_label(a: ir.Expr) -> str:
    """What a seed of this argument is named after: g_x for x, g_arg for an expression."""
    return a.id if isinstance(a, ir.Name) else "arg"
