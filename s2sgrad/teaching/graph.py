"""The computational graph of a function of numbers, as Graphviz DOT text.

    dot = s2sgrad.graph(f, 1.5, 2.0)   # one node per operation, edges for data flow
    print(dot)                         # DOT text; dot.write("f.svg") runs Graphviz's `dot`

It runs the function's IR (frontend.load_program) with symbolic.py's evaluator, every
value a graph node: each operation (`+`, `*`, `sin`, ...) one node whose edges come
from the nodes it reads, the parameters marked as inputs and the returned node as the
output; helpers are inlined and loops unrolled, so the graph is the one the call runs
(the tape a tracing AD tool records).  With arguments, every node carries its value
and its adjoint d output / d node, accumulated backwards over the graph from local
partials that sympy takes of each operation: reverse mode by hand, drawn.  Without
arguments, straight-line code and loops of fixed length are drawn, without numbers;
a branch on a parameter needs arguments to say which way it goes.
"""
from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass, field

import numpy as np
import sympy as sp

from .. import frontend, ir
from ..errors import ArgumentError, GraphvizError, NotClosedFormError
from . import symbolic


@dataclass(eq=False)
class Node:
    """One operation (or input) of the graph."""
    id: int
    label: str                       # "x", "*", "sin"
    parents: list = field(default_factory=list)
    local: sp.Expr | None = None     # the operation on its parents' symbols
    symbols: list = field(default_factory=list)
    value: float | sp.Expr | None = None  # a number with arguments, a symbol without
    names: list = field(default_factory=list)  # the variables it was assigned to
    adjoint: float | None = None


class Graph(str):
    """DOT text (a str), with `.nodes`, `.write(path)` and an SVG view in notebooks."""

    nodes: list

    def write(self, path: str) -> str:
        """Writes .dot as text, .svg / .png / .pdf through Graphviz's `dot`; returns path."""
        kind = path.rsplit(".", 1)[-1].lower()
        if kind in ("dot", "gv"):
            with open(path, "w") as out:
                out.write(str(self))
            return path
        with open(path, "wb") as out:
            out.write(render(str(self), kind))
        return path

    def _repr_svg_(self):
        return render(str(self), "svg").decode() if shutil.which("dot") else None


def render(dot: str, kind: str = "svg") -> bytes:
    """DOT text rendered by Graphviz's `dot -T<kind>`."""
    program = shutil.which("dot")
    if program is None:
        raise GraphvizError(f"writing a graph as {kind} needs Graphviz's `dot` program, which is not "
                            f"installed (not found on PATH)")
    done = subprocess.run([program, f"-T{kind}"], input=dot.encode(), capture_output=True, timeout=60)
    if done.returncode != 0:
        raise GraphvizError(f"dot -T{kind} failed: {done.stderr.decode().strip()}")
    return done.stdout


def graph(f, *args) -> Graph:
    """The computational graph of f (DOT text); with arguments, values and adjoints."""
    main, functions = frontend.load_program(frontend.unwrap(f))
    given = bool(args)
    if given and len(args) != len(main.params):
        raise ArgumentError(f"graph({main.name}, ...) takes no arguments or one per parameter {main.params}")
    tracer = Tracer(functions, given)
    inputs = [tracer.parameter(p, a if given else None) for p, a in zip(main.params, args or [None] * len(main.params))]
    out = tracer.call(main, inputs, main.pos)
    if not isinstance(out, Node):
        raise NotClosedFormError(f"{main.name} returns no value computed from its parameters", main.pos)
    drawn = _ancestors(out)
    if given:
        _adjoints(drawn, out)
    params = [n for n in inputs if isinstance(n, Node)]
    text = Graph(_dot(main.name, drawn, params, out))
    text.nodes = drawn
    return text


class Tracer(symbolic.Evaluator):
    """The evaluator with graph nodes for values: an operation on a node makes a node."""

    def __init__(self, functions: dict, with_values: bool):
        super().__init__(functions, max_size=symbolic.MAX_SIZE)
        self.with_values = with_values
        self.nodes: list[Node] = []

    def parameter(self, name: str, value):
        if value is None:
            return self.node(name, value=sp.Symbol(name, real=True))
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise ArgumentError(f"graph draws functions of numbers; {name} is {type(value).__name__}")
        if isinstance(value, (int, np.integer)):
            return sp.Integer(int(value))  # a count (a loop's length): a constant of the graph
        return self.node(name, value=float(value))

    def node(self, label: str, **kw) -> Node:
        n = Node(len(self.nodes), label, **kw)
        self.nodes.append(n)
        return n

    def operation(self, label: str, operands: list, build):
        """A node for `build(*operands)` where an operand is a node, else the plain value."""
        if not any(isinstance(v, Node) for v in operands):
            return build(*operands)
        parents = [v for v in operands if isinstance(v, Node)]
        syms = [sp.Symbol(f"p{k}", real=True) for k in range(len(parents))]
        slots = iter(syms)
        local = build(*[next(slots) if isinstance(v, Node) else v for v in operands])
        shown = [f"{v}" for v in operands if not isinstance(v, Node)]
        value = None
        if self.with_values:
            value = float(sp.N(local.subs({s: p.value for s, p in zip(syms, parents)})))
        return self.node(" ".join([label, *shown]), parents=parents, local=local, symbols=syms, value=value)

    # ------------------------------------------------------------------ overrides
    def expr(self, e, env):
        if isinstance(e, ir.BinOp):
            a, b = self.expr(e.left, env), self.expr(e.right, env)
            return self.operation(e.op, [a, b], lambda x, y: self.binop(e.op, x, y, e))
        if isinstance(e, ir.UnaryOp) and e.op == "-":
            return self.operation("neg", [self.expr(e.operand, env)], lambda x: -x)
        return super().expr(e, env)

    def apply(self, e, rule, args):
        name = e.func.attr if isinstance(e.func, ir.Lib) else "call"
        return self.operation(name, args, lambda *xs: super(Tracer, self).apply(e, rule, list(xs)))

    def compare(self, e, env):
        return super().compare(e, {k: _value_of(v) for k, v in env.items()})

    def condition(self, e, env):
        test = super().condition(e, {k: _value_of(v) for k, v in env.items()})
        if not isinstance(test, bool):
            raise NotClosedFormError("graph() without arguments cannot tell which way this branch goes",
                                     e.pos, "pass the function's arguments, graph(f, 1.5), to draw the "
                                            "path that call takes.")
        return test

    def bind(self, target, value, env, s):
        if isinstance(value, Node) and isinstance(target, ir.Name) and target.id not in value.names:
            value.names.append(target.id)
        super().bind(target, value, env, s)


def _value_of(v):
    if isinstance(v, Node):
        return v.value if v.value is not None else sp.Symbol(f"node{v.id}", real=True)
    if isinstance(v, list):
        return [_value_of(x) for x in v]
    if isinstance(v, tuple):
        return tuple(_value_of(x) for x in v)
    return v


def _ancestors(out: Node) -> list[Node]:
    """The nodes the output depends on, in the order they were computed."""
    seen, todo = {}, [out]
    while todo:
        n = todo.pop()
        if n.id not in seen:
            seen[n.id] = n
            todo += n.parents
    return [seen[k] for k in sorted(seen)]


def _adjoints(nodes: list[Node], out: Node):
    """Reverse mode over the graph: each node passes adjoint * local partial to its parents."""
    for n in nodes:
        n.adjoint = 0.0
    out.adjoint = 1.0
    for n in reversed(nodes):
        point = {s: p.value for s, p in zip(n.symbols, n.parents)}
        for s, parent in zip(n.symbols, n.parents):
            parent.adjoint += n.adjoint * float(sp.N(sp.diff(n.local, s).subs(point)))


def _dot(name: str, nodes: list[Node], inputs: list[Node], out: Node) -> str:
    lines = [f'digraph "{_escaped(name)}" {{', "  rankdir=LR;",
             '  node [shape=ellipse, fontname="Helvetica", fontsize=11];']
    for n in nodes:
        parts = [n.label] if not n.names or n in inputs else [f"{', '.join(n.names)} = {n.label}"]
        if n in inputs:
            parts.append("(input)")
        if n is out:
            parts.append("(output)")
        if isinstance(n.value, float):
            parts.append(f"value {n.value:.6g}")
        if n.adjoint is not None:
            parts.append(f"adjoint {n.adjoint:.6g}")
        style = ""
        if n in inputs:
            style = ', shape=box, style=filled, fillcolor="#dbeafe"'
        elif n is out:
            style = ', peripheries=2, style=filled, fillcolor="#fde2e2"'
        lines.append(f'  n{n.id} [label="{_escaped(chr(10).join(parts))}"{style}];')
    for n in nodes:
        for p in n.parents:
            lines.append(f"  n{p.id} -> n{n.id};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
