"""Make break, continue and return explicit, so control flow is purely structured.

After this pass a function body is assignments, ifs and loops, plus `break` where a
loop exits early.  What runs in an iteration is then decided by if statements alone,
which the reverse sweep can replay.

- `return e` becomes `result = e`.  Anywhere but the end of the function it also sets
  the flag `returned`; inside a loop it breaks out, and the statements after it are
  wrapped in `if not returned:`.
- `continue` sets a flag `skip` (reset at the top of each iteration) and the rest of
  the body is wrapped in `if not skip:`.
- `break` sets a flag `broke` and breaks; the rest of the body is wrapped likewise.
- The common `if c: <...; jump>` followed by more statements needs no flag: the rest
  moves into the `else` branch instead.
Flags nobody reads are removed later by the optimizer's dead-code elimination.
"""
from __future__ import annotations

from dataclasses import dataclass

from . import ir
from .errors import UnsupportedSyntaxError

JUMPS = (ir.Return, ir.Break, ir.Continue)


@dataclass
class _Loop:
    broke: str
    skip: str
    used_break: bool = False
    used_continue: bool = False


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
        body, _ = self.block(self.fn.body, loop=None, at_function_end=True)
        if self.used_return_flag:
            body.insert(0, _flag(self.returned, False))
        self.fn.body = body
        self.fn.result = self.result
        return self.fn

    def block(self, stmts, loop: _Loop | None, at_function_end: bool):
        """Lower a block; returns it and the set of flags its statements may raise."""
        out: list[ir.Stmt] = []
        raised: set[str] = set()
        stmts = list(stmts)
        i = 0
        while i < len(stmts):
            s, rest = stmts[i], stmts[i + 1:]
            if isinstance(s, JUMPS):
                jump, flags = self.jump(s, loop, at_function_end and not rest)
                return out + jump, raised | flags
            if isinstance(s, ir.If):
                body_jumps, else_jumps = always_jumps(s.body), always_jumps(s.orelse)
                if rest and body_jumps != else_jumps:
                    # the rest runs only on the branch that does not jump: move it there
                    s = ir.If(s.test, s.body + ([] if body_jumps else rest),
                              s.orelse + ([] if else_jumps else rest), pos=s.pos)
                    rest = []
                    stmts = stmts[:i + 1]
                end = at_function_end and not rest
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
                guarded, more = self.block(rest, loop, at_function_end)
                test = ir.UnaryOp("not", _any_flag(sorted(flags)))
                out.append(ir.If(test, guarded, []))
                return out, raised | more
            i += 1
        return out, raised

    def jump(self, s, loop: _Loop | None, at_end: bool):
        if isinstance(s, ir.Return):
            value = s.value if s.value is not None else ir.Const(None)
            out = [ir.Assign([ir.Name(self.result)], [value], pos=s.pos)]
            if at_end and loop is None:
                return out, set()
            self.used_return_flag = True
            out.append(_flag(self.returned, True, s.pos))
            if loop is not None:
                out.append(ir.Break(pos=s.pos))
            return out, {self.returned}
        if loop is None:
            raise AssertionError("break/continue outside a loop")  # Python's parser rejects this
        if isinstance(s, ir.Break):
            loop.used_break = True
            return [_flag(loop.broke, True, s.pos), ir.Break(pos=s.pos)], {loop.broke}
        loop.used_continue = True
        return [_flag(loop.skip, True, s.pos)], {loop.skip}

    def loop(self, s, out: list, outer: _Loop | None) -> set[str]:
        ctx = _Loop(self.fresh("broke"), self.fresh("skip"))
        body, flags = self.block(s.body, ctx, at_function_end=False)
        if ctx.used_continue:
            body.insert(0, _flag(ctx.skip, False))
        if ctx.used_break:
            out.append(_flag(ctx.broke, False))
        s.body = body
        out.append(s)
        escaping = flags & {self.returned}
        if escaping and outer is not None:
            out.append(ir.If(ir.Name(self.returned), [ir.Break()], []))
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
