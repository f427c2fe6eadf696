"""Closed forms: a function (with the helpers it calls) as one sympy expression, and
its derivative taken by sympy.

    def f(a):
        return a ** 3 - 2 * a + 1

    s2sgrad.symbolic(f)            # 3*a**2 - 2

It reads the IR the frontend builds (frontend.load_program) and runs it with sympy
values in place of numbers: parameters are real symbols named as the parameters,
straight-line code substitutes, user helpers are inlined, `for` loops over a range
whose bounds are numbers are unrolled (so are loops over lists of known length), and an
`if` whose test depends on a symbol continues both ways, the two results joined as one
`Piecewise`.  What has no closed form is refused at its line with NotClosedFormError:
a `while` loop or a range whose length is known only at run time (pass `fixed=` to give
such a parameter a number), array primitives (`np.sum`, `@`: one formula per element is
not a closed form of the function), calls with neither source nor a sympy function, and
piecewise-constant functions of a symbol (floor, sign: sympy has no derivative for
them where automatic differentiation takes 0).

A closed form grows with every substitution, and for iterated code exponentially:
past `max_size` nodes of its expression tree it stops with ExpressionSwellError, which
reports the size reached.  That is the lesson of expression swell, not a failure.
"""
from __future__ import annotations

from dataclasses import dataclass

import sympy as sp

from .. import frontend, ir
from ..arguments import normalize_wrt
from ..errors import ExpressionSwellError, NotClosedFormError, WrtError
from ..rules import registry
from ..rules import scalar as scalar_rules

MAX_SIZE = 20_000      # nodes of one expression tree
MAX_STEPS = 200_000    # statements run while unrolling (each path of a branch counts)

# Functions whose sympy row is written for code generation (an `ans` form, a codegen
# function), spelled here with sympy's own functions so simplify and latex know them.
_TEACHING_SPELLING = {
    "sqrt": sp.sqrt,
    "cbrt": lambda x: sp.real_root(x, 3),
    "expit": lambda x: 1 / (1 + sp.exp(-x)),
    "hypot": lambda *xs: sp.sqrt(sum(x ** 2 for x in xs)),
    "abs": sp.Abs, "fabs": sp.Abs, "absolute": sp.Abs,
    ("builtins", "max"): sp.Max, ("builtins", "min"): sp.Min,
    "maximum": sp.Max, "minimum": sp.Min,
}
# Piecewise-constant functions: evaluated on numbers, refused on symbols
_ON_NUMBERS = {"floor": sp.floor, "ceil": sp.ceiling, "sign": sp.sign, "trunc": lambda v: sp.Integer(int(v)),
               "int": lambda v: sp.Integer(int(v)), "round": lambda v: sp.Integer(round(v))}
_CONSTANTS = {(lib.module, lib.attr): value for value, lib in scalar_rules.SYMPY_CONSTANTS.items()}
_CONSTANTS.update({("numpy", "pi"): sp.pi, ("numpy", "e"): sp.E, ("math", "inf"): sp.oo,
                   ("numpy", "inf"): sp.oo, ("math", "tau"): 2 * sp.pi})
_RELATIONS = {"<": sp.Lt, ">": sp.Gt, "<=": sp.Le, ">=": sp.Ge, "==": sp.Eq, "!=": sp.Ne}


@dataclass
class ClosedForm:
    """A function's value as one expression of its parameters' symbols."""
    expr: sp.Expr
    symbols: dict      # parameter name -> its real sympy Symbol (fixed ones left out)
    size: int          # nodes of the expression tree


def symbolic(f, wrt=0, *, fixed: dict | None = None, simplify: bool = True, max_size: int = MAX_SIZE):
    """The derivative of f with respect to wrt as a sympy expression (a tuple of them
    when wrt is a tuple), simplified unless simplify=False.  `fixed` gives parameters
    numbers (a loop's length); the others are real symbols named as the parameters:
    evaluate with `d.subs(sympy.Symbol("a", real=True), 1.5)`.  Print it with str(),
    sympy.pretty(d) or sympy.latex(d)."""
    form = closed_form(f, fixed=fixed, max_size=max_size)
    names, is_tuple = normalize_wrt(f, wrt)
    out = tuple(derivative(form, name, simplify, max_size) for name in names)
    return out if is_tuple else out[0]


def derivative(form: ClosedForm, name: str, simplify: bool = True, max_size: int = MAX_SIZE):
    """d form / d name by sympy.diff, then sympy.simplify."""
    if name not in form.symbols:
        raise WrtError(f"wrt={name!r} is a fixed parameter: it has a number, not a symbol",
                       hint="leave it out of fixed= to differentiate with respect to it.")
    d = sp.diff(form.expr, form.symbols[name])
    size = tree_size(d)
    if size > max_size:
        raise ExpressionSwellError(f"the derivative with respect to {name} has {size} nodes "
                                   f"(max_size={max_size})", size)
    return sp.simplify(d) if simplify else d


def closed_form(f, fixed: dict | None = None, max_size: int = MAX_SIZE) -> ClosedForm:
    """f's value as one sympy expression (straight-line code substituted, helpers inlined,
    loops of a fixed length unrolled, branches as Piecewise)."""
    fixed = dict(fixed or {})
    main, functions = frontend.load_program(frontend.unwrap(f))
    unknown = set(fixed) - set(main.params)
    if unknown:
        raise WrtError(f"fixed= names {sorted(unknown)}, not parameters of {main.name} {main.params}")
    symbols = {p: sp.Symbol(p, real=True) for p in main.params if p not in fixed}
    args = [symbols[p] if p in symbols else _number(fixed[p]) for p in main.params]
    run = Evaluator(functions, max_size)
    value = run.call(main, args, main.pos)
    if isinstance(value, (tuple, list)) or value is None or isinstance(value, str):
        raise NotClosedFormError(f"{main.name} returns {_kind(value)}; symbolic() takes a function "
                                 f"with one number as its output", main.pos)
    value = sp.sympify(value)
    return ClosedForm(value, symbols, run.size(value))


def tree_size(e) -> int:
    """Nodes of e's expression tree (shared subtrees counted each time, as printed)."""
    return _Sizes().size(e)


class _Sizes:
    def __init__(self):
        self.memo: dict = {}

    def size(self, e) -> int:
        if not isinstance(e, sp.Basic):
            return sum(map(self.size, e)) if isinstance(e, (tuple, list)) else 1
        found = self.memo.get(e)
        if found is None:
            found = self.memo[e] = 1 + sum(self.size(a) for a in e.args)
        return found


# ------------------------------------------------------------------------------ markers
@dataclass(eq=False)
class _NextIteration:
    """Pushed on the work stack by an unrolled loop: binds the next item and runs the body."""
    loop: ir.Stmt
    items: list
    index: int


@dataclass(eq=False)
class _LoopEnd:
    """Below an unrolled loop's iterations on the stack: where `break` resumes."""


class Evaluator:
    """Runs IR with sympy values (graph.py's tracer runs it with graph nodes).  A block runs from a stack of what is left to do, so an
    `if` on a symbol runs each branch followed by the rest of the function, and the two
    results join as one Piecewise; `break`, `continue` and `return` just drop work."""

    def __init__(self, functions: dict, max_size: int):
        self.functions = functions
        self.max_size = max_size
        self.steps = 0
        self.sizes = _Sizes()

    def size(self, value) -> int:
        return self.sizes.size(value)

    def call(self, fn: ir.Function, args: list, pos):
        env = dict(zip(fn.params, args))
        return self.run(list(reversed(fn.body)), env, pos)

    # ------------------------------------------------------------------ statements
    def run(self, stack: list, env: dict, pos):
        """The return value of running `stack` (top last); None: this path raises."""
        while stack:
            s = stack.pop()
            self.steps += 1
            if self.steps > MAX_STEPS:
                raise ExpressionSwellError(f"unrolling ran past {MAX_STEPS} statements (each branch "
                                           f"in a loop doubles the paths)", self.steps, getattr(s, "pos", pos))
            if isinstance(s, _LoopEnd):
                continue
            if isinstance(s, _NextIteration):
                self.next_iteration(s, stack, env)
            elif isinstance(s, ir.Return):
                return None if s.value is None else self.expr(s.value, env)
            elif isinstance(s, ir.If):
                test = self.condition(s.test, env)
                if isinstance(test, bool):
                    stack.extend(reversed(s.body if test else s.orelse))
                    continue
                taken = self.run(stack + list(reversed(s.body)), _copy_env(env), s.pos)
                other = self.run(stack + list(reversed(s.orelse)), _copy_env(env), s.pos)
                return _join(test, taken, other)
            elif isinstance(s, ir.Break):
                while not isinstance(stack.pop(), _LoopEnd):
                    pass
            elif isinstance(s, ir.Continue):
                while not isinstance(stack[-1], _NextIteration):
                    stack.pop()
            elif isinstance(s, (ir.ForRange, ir.ForEach)):
                stack += [_LoopEnd(), _NextIteration(s, self.loop_items(s, env), 0)]
            elif isinstance(s, ir.While):
                raise NotClosedFormError("a while loop has no closed form: how often it runs is known "
                                         "only at run time", s.pos,
                                         "write it as `for i in range(N)` with N a number (or a "
                                         "parameter given in fixed=), or use s2sgrad.grad.")
            elif isinstance(s, ir.ExprStmt):
                if self.raises(s, env):
                    return None
            else:
                self.statement(s, env)
        return None

    def next_iteration(self, marker: _NextIteration, stack: list, env: dict):
        if marker.index == len(marker.items):
            return
        env[marker.loop.target.id] = marker.items[marker.index]
        stack.append(_NextIteration(marker.loop, marker.items, marker.index + 1))
        stack.extend(reversed(marker.loop.body))

    def loop_items(self, s, env) -> list:
        if isinstance(s, ir.ForEach):
            seq = env.get(s.seq.id)
            if not isinstance(seq, (list, tuple)):
                raise NotClosedFormError(f"a loop over `{s.seq.id}`, which is not a list of known "
                                         f"length here", s.pos, "loop over range(N) with N a number.")
            return list(seq)
        bounds = [self.expr(a, env) for a in s.args]
        if not all(_is_integer(b) for b in bounds):
            shown = ", ".join(str(b) for b in bounds[1:2] if not _is_integer(b)) or "its bounds"
            raise NotClosedFormError(f"a loop over a range whose length ({shown}) is known only at "
                                     f"run time has no closed form", s.pos,
                                     "give the parameter a number with fixed={'n': 5}, or use "
                                     "s2sgrad.grad, which reverses the loop as it runs.")
        items = [sp.Integer(k) for k in range(*(int(b) for b in bounds))]
        if s.limit is not None:
            items = items[:int(self.expr(s.limit, env))]
        return items[::-1] if s.reverse else items

    def raises(self, s: ir.ExprStmt, env) -> bool:
        """Whether this statement ends its path by raising (an assert of a false number)."""
        if s.kind == "raise":
            return True
        if s.kind == "assert":
            test = self.condition(s.expr, env)
            return test is False
        return False  # print(...) and other calls kept for their effect

    def statement(self, s, env):
        if isinstance(s, ir.Assign):
            values = [self.expr(v, env) for v in s.values]
            for target, value in zip(s.targets, values):
                if s.aug is not None:
                    value = self.binop(s.aug, self.expr(target, env), value, s)
                self.bind(target, value, env, s)
        elif isinstance(s, ir.CallAssign):
            value = self.user_call(s.call, env, s)
            if s.unpack:
                if not isinstance(value, (tuple, list)) or len(value) != len(s.targets):
                    raise NotClosedFormError("unpacking a call's result that is not a tuple of that "
                                             "length", s.pos)
                for t, v in zip(s.targets, value):
                    env[t.id] = v
            else:
                env[s.targets[0].id] = value
        elif isinstance(s, ir.Append):
            self.a_list(s.target, env, s).append(self.expr(s.value, env))
        elif isinstance(s, ir.Pop):
            value = self.a_list(s.target, env, s).pop()
            if s.into is not None:
                self.bind(s.into, value, env, s)
        else:
            raise NotClosedFormError(f"the statement {type(s).__name__} has no closed form here", s.pos)

    def bind(self, target, value, env, s):
        if isinstance(value, sp.Basic):
            size = self.size(value)
            if size > self.max_size:
                shown = target.id if isinstance(target, ir.Name) else "this value"
                raise ExpressionSwellError(f"the closed form of `{shown}` has grown to {size} nodes "
                                           f"(max_size={self.max_size})", size, s.pos)
        if isinstance(target, ir.Name):
            env[target.id] = value
            return
        seq = self.expr(target.value, env)
        index = self.expr(target.index, env)
        if not isinstance(seq, list) or not _is_integer(index):
            raise NotClosedFormError("writing an element of an array, or at an index that is not a "
                                     "number", s.pos, "symbolic() takes numbers and lists of numbers.")
        seq[int(index)] = value

    def a_list(self, name: ir.Name, env, s) -> list:
        value = env.get(name.id)
        if not isinstance(value, list):
            raise NotClosedFormError(f"`{name.id}` is not a list here", s.pos)
        return value

    def user_call(self, call: ir.Call, env, s):
        if not isinstance(call.func, ir.UserFn):
            raise NotClosedFormError(f"a call of `{call.func.name}`, a function with a hand-written "
                                     f"derivative (custom_derivative): it has no formula to inline",
                                     s.pos, "symbolic() inlines functions written in Python.")
        fn = self.functions[call.func.key]
        return self.call(fn, [self.expr(a, env) for a in call.args], s.pos)

    # ------------------------------------------------------------------ expressions
    def condition(self, e: ir.Expr, env):
        """A test as a Python bool where it is decided, else a sympy Boolean."""
        value = self.expr(e, env)
        if isinstance(value, (bool, sp.logic.boolalg.BooleanAtom)):
            return bool(value)
        if isinstance(value, sp.logic.boolalg.Boolean):
            return value
        if isinstance(value, sp.Expr):
            if value.is_number:
                return bool(value != 0)
            return sp.Ne(value, 0)
        return bool(value)

    def expr(self, e: ir.Expr, env):
        if isinstance(e, ir.Name):
            if e.id not in env:
                raise NotClosedFormError(f"`{e.id}` is read before it is given a value on some path", e.pos)
            return env[e.id]
        if isinstance(e, ir.Const):
            return _number(e.value) if isinstance(e.value, (int, float)) and not isinstance(e.value, bool) \
                else e.value
        if isinstance(e, ir.Global):
            return _global(e)
        if isinstance(e, ir.Lib) and (e.module, e.attr) in _CONSTANTS:
            return _CONSTANTS[(e.module, e.attr)]
        if isinstance(e, ir.BinOp):
            return self.binop(e.op, self.expr(e.left, env), self.expr(e.right, env), e)
        if isinstance(e, ir.UnaryOp):
            v = self.expr(e.operand, env)
            if e.op == "not":
                c = self.condition(e.operand, env)
                return (not c) if isinstance(c, bool) else sp.Not(c)
            if e.op in "+-":
                return -v if e.op == "-" else v
        if isinstance(e, ir.BoolOp):
            parts = [self.condition(v, env) for v in e.values]
            if all(isinstance(p, bool) for p in parts):
                return all(parts) if e.op == "and" else any(parts)
            return (sp.And if e.op == "and" else sp.Or)(*parts)
        if isinstance(e, ir.Compare):
            return self.compare(e, env)
        if isinstance(e, ir.IfExp):
            test = self.condition(e.test, env)
            if isinstance(test, bool):
                return self.expr(e.body if test else e.orelse, env)
            return _join(test, self.expr(e.body, env), self.expr(e.orelse, env))
        if isinstance(e, (ir.TupleExpr, ir.ListExpr)):
            items = [self.expr(x, env) for x in e.elts]
            return tuple(items) if isinstance(e, ir.TupleExpr) else items
        if isinstance(e, ir.Subscript):
            return self.subscript(e, env)
        if isinstance(e, ir.Call):
            return self.lib_call(e, env)
        raise self.refused(e, f"`{_shown(e)}` has no closed form in symbolic()")

    def refused(self, e, what: str, hint: str | None = None):
        return NotClosedFormError(what, e.pos, hint)

    def binop(self, op: str, a, b, node):
        if isinstance(a, (tuple, list)) or isinstance(b, (tuple, list)):
            if op == "+" and type(a) is type(b):
                return a + b
            raise self.refused(node, f"`{op}` on a list or tuple has no closed form in symbolic()")
        arithmetic = {"+": lambda: a + b, "-": lambda: a - b, "*": lambda: a * b, "/": lambda: a / b,
                      "**": lambda: a ** b, "//": lambda: sp.floor(a / b), "%": lambda: sp.Mod(a, b)}
        if op not in arithmetic:
            raise self.refused(node, f"the operator `{op}` has no closed form in symbolic()")
        if op in ("//", "%") and not all(_is_number(v) for v in (a, b)):
            raise self.refused(node, f"`{op}` of a symbol: it is piecewise constant, and sympy has no "
                                     f"derivative of it (automatic differentiation takes 0 or 1)")
        return sp.sympify(arithmetic[op]())

    def compare(self, e: ir.Compare, env):
        left, parts = self.expr(e.left, env), []
        for op, right_node in zip(e.ops, e.comparators):
            right = self.expr(right_node, env)
            if op not in _RELATIONS:
                raise self.refused(e, f"the comparison `{op}` has no closed form in symbolic()")
            parts.append(_RELATIONS[op](left, right))
            left = right
        return parts[0] if len(parts) == 1 else sp.And(*parts)

    def subscript(self, e: ir.Subscript, env):
        seq, index = self.expr(e.value, env), self.expr(e.index, env)
        if isinstance(seq, (list, tuple)) and _is_integer(index):
            return seq[int(index)]
        raise self.refused(e, f"indexing `{_shown(e)}`: symbolic() reads lists and tuples at "
                              f"number indices, not arrays",
                           "symbolic() takes functions of numbers; s2sgrad.grad differentiates array code.")

    def lib_call(self, e: ir.Call, env):
        func = e.func
        if isinstance(func, ir.Lib) and func.module == "s2sgrad":
            raise self.refused(e, "stop_gradient has no closed form: a closed form cannot hold a value "
                                  "whose derivative is dropped")
        rule = scalar_rules.RULES_BY_NAME.get((func.module, func.attr)) if isinstance(func, ir.Lib) else None
        if rule is None:
            if registry.rule_of_call(e) is not None:
                raise self.refused(e, f"the array primitive `{_shown(func)}`: symbolic() writes functions "
                                      f"of numbers, one closed form, not one per element",
                                   "use s2sgrad.grad or s2sgrad.compare for array code.")
            raise self.refused(e, f"a call of `{_shown(func)}`, which has neither Python source nor a "
                                  f"sympy function")
        if e.kwargs:
            raise self.refused(e, f"keyword arguments to `{_shown(func)}` in symbolic()")
        return self.apply(e, rule, [self.expr(a, env) for a in e.args])

    def apply(self, e: ir.Call, rule, args: list):
        """The call's sympy value on its arguments' values."""
        func = e.func
        spelled = _TEACHING_SPELLING.get((func.module, func.attr), _TEACHING_SPELLING.get(func.attr))
        if spelled is not None:
            return spelled(*args)
        if rule.kind == scalar_rules.IDENTITY:
            return args[0]
        if rule.kind == scalar_rules.INERT and func.attr == "len" and isinstance(args[0], (list, tuple)):
            return sp.Integer(len(args[0]))
        if rule.kind == scalar_rules.ZERO and func.attr in _ON_NUMBERS:
            if all(_is_number(a) for a in args):
                return _ON_NUMBERS[func.attr](*args)
            raise self.refused(e, f"`{_shown(func)}` of a symbol: it is piecewise constant, and sympy has "
                                  f"no derivative of it (automatic differentiation takes 0)")
        if rule.kind != "sympy" or rule.sympy is None:
            raise self.refused(e, f"`{_shown(func)}` has no closed form in symbolic()")
        return rule.sympy(*args)


# ------------------------------------------------------------------------------ values
def _number(v):
    """A Python number as sympy: floats as the decimal they print as (0.1 -> 1/10)."""
    if isinstance(v, float):
        if v != v:
            return sp.nan
        if v in (float("inf"), float("-inf")):
            return sp.oo if v > 0 else -sp.oo
        return sp.Rational(repr(v))
    return sp.Integer(int(v)) if isinstance(v, int) else sp.sympify(v)


def _global(e: ir.Global):
    v = e.value
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return _number(v)
    if isinstance(v, (list, tuple)) and all(isinstance(x, (int, float)) for x in v):
        return type(v)(_number(x) for x in v)
    raise NotClosedFormError(f"the module value `{e.name}` ({type(v).__name__}) has no closed form; "
                             f"symbolic() reads numbers and lists of numbers", e.pos)


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) or (isinstance(v, sp.Expr) and v.is_number)


def _is_integer(v) -> bool:
    return isinstance(v, int) or (isinstance(v, sp.Expr) and v.is_Integer)


def _join(test, taken, other):
    """One value for both ways of a branch on `test`; None (a path that raises) drops out."""
    if taken is None and other is None:
        return None
    if isinstance(taken, (tuple, list)) and isinstance(other, (tuple, list)) and len(taken) == len(other):
        return type(taken)(_join(test, a, b) for a, b in zip(taken, other))
    if taken is None:
        return sp.Piecewise((other, sp.Not(test)))
    if other is None:
        return sp.Piecewise((taken, test))
    if isinstance(taken, bool) or isinstance(other, bool):
        return sp.Or(sp.And(test, taken), sp.And(sp.Not(test), other))
    return sp.Piecewise((taken, test), (other, True))


def _copy_env(env: dict) -> dict:
    """The environment for one way of a branch: lists copied (aliases kept), values shared."""
    copies: dict = {}

    def copy(v):
        if isinstance(v, list):
            if id(v) not in copies:
                copies[id(v)] = [copy(x) for x in v]
            return copies[id(v)]
        return v
    return {k: copy(v) for k, v in env.items()}


def _kind(value) -> str:
    if value is None:
        return "nothing on every path"
    return f"a {type(value).__name__}"


def _shown(e) -> str:
    if isinstance(e, ir.Lib):
        return f"{'np' if e.module == 'numpy' else e.module}.{e.attr}"
    if isinstance(e, ir.Call):
        return _shown(e.func)
    if isinstance(e, (ir.Foreign, ir.CustomFn)):
        return getattr(e, "display", "") or e.name
    if isinstance(e, ir.Name):
        return e.id
    if isinstance(e, ir.Subscript):
        return f"{_shown(e.value)}[...]"
    if isinstance(e, ir.Global):
        return e.name
    return type(e).__name__
