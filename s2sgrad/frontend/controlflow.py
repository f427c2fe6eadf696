"""Make break, continue and return explicit, so control flow is purely structured.

After this pass a function body is assignments, ifs and loops, plus `break` only where
nothing else in the iteration would run after it.  What runs in an iteration is then
decided by if statements alone, which the reverse sweep replays; a `break` in the
middle of an iteration would skip statements the reverse sweep still undoes.

- `return e` becomes `result = e`.  Anywhere but the end of the function it also sets
  the flag `returned`, and the statements after it are wrapped in `if not returned:`.
- `continue` sets a flag `skip` (reset at the top of each iteration) and the rest of
  the body is wrapped in `if not skip:`; `break` likewise sets `broke`.
- A loop whose body raises `broke` or `returned` ends its body with `if broke: break`.
- The common `if c: <...; jump>` followed by more statements needs no flag: the rest
  moves into the `else` branch, and the jump, now last in its iteration, stays a real
  `break` (or disappears, for `continue`).
Flags nobody reads are removed later by the optimizer's dead-code elimination.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .. import ir
from ..errors import UnsupportedSyntaxError

JUMPS = (ir.Return, ir.Break, ir.Continue)


@dataclass
class _Loop:
    broke: str
    skip: str
    exit_flags: set = field(default_factory=set)  # flags that end the loop, checked at body end
    used_continue: bool = False

    def loop_broke_used(self) -> bool:
        return self.broke in self.exit_flags


class JumpLowering:
    def __init__(self, fn: ir.Function, fresh):
        self.fn = fn
        self.fresh = fresh
        self.result = fresh("result")
        self.returned = fresh("returned")
        self.used_return_flag = False

    def run(self) -> ir.Function:
        if not any(isinstance(s, ir.Return) for s in ir.walk_stmts(self.fn.body)):
            raise UnsupportedSyntaxError(f"{self.fn.name} has no return statement, so it has no "
                                         f"output to differentiate", self.fn.pos,
                                         "return the value to differentiate.")
        body, _ = self.block(self.fn.body, loop=None, at_end=True)
        if self.used_return_flag:
            body.insert(0, _flag(self.returned, False))
        self.fn.body = body
        self.fn.result = self.result
        return self.fn

    def block(self, stmts, loop: _Loop | None, at_end: bool):
        """Lower a block; returns it and the set of flags its statements may raise.

        `at_end`: nothing runs after this block in its loop iteration (or, outside loops,
        in the function).
        """
        out: list[ir.Stmt] = []
        raised: set[str] = set()
        stmts = list(stmts)
        i = 0
        while i < len(stmts):
            s, rest = stmts[i], stmts[i + 1:]
            if isinstance(s, JUMPS):
                jump, flags = self.jump(s, loop, at_end and not rest)
                return out + jump, raised | flags
            if isinstance(s, ir.If):
                body_jumps, else_jumps = always_jumps(s.body), always_jumps(s.orelse)
                if rest and body_jumps != else_jumps:
                    # the rest runs only on the branch that does not jump: move it there
                    s = ir.If(s.test, s.body + ([] if body_jumps else rest),
                              s.orelse + ([] if else_jumps else rest), pos=s.pos)
                    rest = []
                    stmts = stmts[:i + 1]
                end = at_end and not rest
                body, f1 = self.block(s.body, loop, end)
                orelse, f2 = self.block(s.orelse, loop, end)
                out.append(ir.If(s.test, body, orelse, pos=s.pos))
                flags = f1 | f2
                if body_jumps and else_jumps:
                    return out, raised | flags  # nothing after it can run
            elif isinstance(s, (ir.ForRange, ir.ForEach, ir.While)):
                flags = self.loop(s, out, loop)
            else:
                out.append(s)
                flags = set()
            raised |= flags
            if flags and rest:
                guarded, more = self.block(rest, loop, at_end)
                test = ir.UnaryOp("not", _any_flag(sorted(flags)))
                out.append(ir.If(test, guarded, []))
                return out, raised | more
            i += 1
        return out, raised

    def jump(self, s, loop: _Loop | None, at_end: bool):
        """A jump as flags, plus a real `break` where nothing else in the iteration follows."""
        if isinstance(s, ir.Return):
            value = s.value if s.value is not None else ir.Const(None)
            out = [ir.Assign([ir.Name(self.result)], [value], pos=s.pos)]
            if at_end and loop is None:
                return out, set()
            self.used_return_flag = True
            out.append(_flag(self.returned, True, s.pos))
            if loop is not None:
                if at_end:
                    out.append(ir.Break(pos=s.pos))
                else:
                    loop.exit_flags.add(self.returned)
            return out, {self.returned}
        if loop is None:
            raise AssertionError("break/continue outside a loop")  # Python's parser rejects this
        if isinstance(s, ir.Break):
            if at_end:
                return [ir.Break(pos=s.pos)], set()
            loop.exit_flags.add(loop.broke)
            return [_flag(loop.broke, True, s.pos)], {loop.broke}
        if at_end:
            return [], set()  # continue as the last thing in an iteration does nothing
        loop.used_continue = True
        return [_flag(loop.skip, True, s.pos)], {loop.skip}

    def loop(self, s, out: list, outer: _Loop | None) -> set[str]:
        ctx = _Loop(self.fresh("broke"), self.fresh("skip"))
        body, flags = self.block(s.body, ctx, at_end=True)
        if ctx.used_continue:
            body.insert(0, _flag(ctx.skip, False))
        if ctx.loop_broke_used():
            out.append(_flag(ctx.broke, False))
        if ctx.exit_flags:
            body.append(ir.If(_any_flag(sorted(ctx.exit_flags)), [ir.Break()], []))
        s.body = body
        out.append(s)
        escaping = flags & {self.returned}
        if escaping and outer is not None:
            outer.exit_flags.add(self.returned)
        return escaping


def always_jumps(stmts) -> bool:
    """Whether control never falls off the end of the block."""
    if not stmts:
        return False
    last = stmts[-1]
    if isinstance(last, JUMPS):
        return True
    if isinstance(last, ir.If):
        return always_jumps(last.body) and always_jumps(last.orelse)
    return False


def _flag(name: str, value: bool, pos=None) -> ir.Assign:
    return ir.Assign([ir.Name(name)], [ir.Const(value)], role="flag", pos=pos)


def _any_flag(names):
    return ir.Name(names[0]) if len(names) == 1 else ir.BoolOp("or", [ir.Name(n) for n in names])


def lower_jumps(fn: ir.Function, fresh) -> ir.Function:
    return JumpLowering(fn, fresh).run()
