"""analysis.dataflow on its own, on small blocks of IR built by hand: what a block reads,
what is bound on every path through it, first bindings, assignment counts, breaks."""

from s2sgrad import ir
from s2sgrad.analysis import dataflow


def assign(target, value):
    return ir.Assign([ir.Name(target)], [value])


def name(n):
    return ir.Name(n)


def test_reads_leaves_out_a_skipped_loops_body():
    loop = ir.ForRange(name("i"), [ir.Const(0), name("n"), ir.Const(1)], [assign("a", name("b"))])
    block = [assign("c", name("d")), loop]
    assert dataflow.reads(block) == {"d", "n", "b"}
    assert dataflow.reads(block, skip=loop) == {"d", "n"}


def test_definitely_bound_through_branches_and_loops():
    both = ir.If(name("c"), [assign("a", ir.Const(1.0))], [assign("a", ir.Const(2.0))])
    one = ir.If(name("c"), [assign("b", ir.Const(1.0))], [])
    loop = ir.ForRange(name("i"), [ir.Const(0), name("n"), ir.Const(1)], [assign("l", ir.Const(1.0))])
    last = assign("z", name("a"))
    before: dict = {}
    bound = dataflow.definitely_bound([both, one, loop, last], {"c", "n"}, before)
    assert bound == {"c", "n", "a", "z"}    # b: one branch only; l: the loop may not run
    assert before[id(last)] == {"c", "n", "a"}
    assert before[id(loop.body[0])] == {"c", "n", "a"}


def test_first_bindings_in_source_order():
    first, second = assign("a", ir.Const(1.0)), assign("a", ir.Const(2.0))
    pop = ir.Pop(name("tape"), into=name("v"))
    assert dataflow.first_bindings([ir.If(name("c"), [first], []), second, pop]) == {"a": first, "v": pop}


def test_count_assignments():
    body = [assign("a", ir.Const(1.0)),
            ir.ForRange(name("i"), [ir.Const(0), name("n"), ir.Const(1)], [assign("a", name("x"))])]
    fn = ir.Function("f", ["x", "n"], {}, body)
    assert dataflow.count_assignments(fn) == {"x": 1, "n": 1, "a": 2, "i": 1}


def test_breaks_counts_this_loops_breaks_only():
    inner = ir.While(name("c"), [ir.Break()])
    assert not dataflow.breaks([inner])
    assert dataflow.breaks([ir.If(name("c"), [], [ir.Break()])])
