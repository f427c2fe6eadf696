"""graph(): the DOT text parsed (a small parser of what graph writes) and rendered by
Graphviz; its values are f's, its input adjoints the generated gradient's."""
import math
import re
import shutil
import subprocess

import pytest

import s2sgrad

NODE = re.compile(r'^\s*n(\d+) \[label="((?:[^"\\]|\\.)*)"(.*)\];$')
EDGE = re.compile(r"^\s*n(\d+) -> n(\d+);$")


def parse_dot(text):
    """{id: label lines}, [(from, to)], {id: attributes}: fails on any other line."""
    lines = text.strip().splitlines()
    assert re.fullmatch(r'digraph "\w+" \{', lines[0]) and lines[-1] == "}"
    nodes, edges, attrs = {}, [], {}
    for line in lines[1:-1]:
        if m := NODE.match(line):
            nodes[int(m[1])] = m[2].split("\\n")
            attrs[int(m[1])] = m[3]
        elif m := EDGE.match(line):
            edges.append((int(m[1]), int(m[2])))
        else:
            assert line.strip().endswith(";") and "[" in line or line.strip() == "rankdir=LR;", line
    assert all(a in nodes and b in nodes for a, b in edges)
    return nodes, edges, attrs


def f(x, y):
    z = x * y + math.sin(x)
    if z > 0:
        z = z * z
    return z


def test_one_node_per_operation_with_values_and_adjoints():
    nodes, edges, attrs = parse_dot(s2sgrad.graph(f, 1.5, 2.0))
    ops = [lines[0] for i, lines in nodes.items() if "(input)" not in lines]
    assert ops == ["*", "sin", "z = +", "z = *"]
    inputs = [i for i, lines in nodes.items() if "(input)" in lines]
    outputs = [i for i, lines in nodes.items() if "(output)" in lines]
    assert len(inputs) == 2 and len(outputs) == 1
    assert "peripheries=2" in attrs[outputs[0]] and "shape=box" in attrs[inputs[0]]
    assert (outputs[0] - 1, outputs[0]) in edges and edges.count((outputs[0] - 1, outputs[0])) == 2  # z * z
    value = float(nodes[outputs[0]][2].split()[1])
    assert value == pytest.approx(f(1.5, 2.0), rel=1e-5)
    gx, gy = s2sgrad.grad(f, wrt=(0, 1))(1.5, 2.0)
    adj = {nodes[i][0]: float(nodes[i][-1].split()[1]) for i in inputs}
    assert adj == {"x": pytest.approx(gx, rel=1e-5), "y": pytest.approx(gy, rel=1e-5)}


def test_node_adjoints_are_exact_in_the_graph_object():
    g = s2sgrad.graph(f, -2.0, 0.25)  # z < 0: the branch is not taken
    gx, gy = s2sgrad.grad(f, wrt=(0, 1))(-2.0, 0.25)
    inputs = {n.label: n.adjoint for n in g.nodes if n.label in ("x", "y")}
    assert inputs == {"x": pytest.approx(gx, rel=1e-14), "y": pytest.approx(gy, rel=1e-14)}
    assert len(g.nodes) == 5


def loop(x, n):
    for i in range(n):
        x = x * 0.5 + 1
    return x


def test_loops_unroll_and_without_arguments_there_are_no_numbers():
    nodes, edges, _ = parse_dot(s2sgrad.graph(loop, 2.0, 3))
    assert len(nodes) == 1 + 2 * 3 and len(edges) == 6
    plain = s2sgrad.graph(horner_free)
    nodes, _, _ = parse_dot(plain)
    assert not any("value" in " ".join(lines) for lines in nodes.values())
    with pytest.raises(s2sgrad.NotClosedFormError, match="which way this branch goes"):
        s2sgrad.graph(f)


def horner_free(x):
    return (x + 2) * x + 3


def test_dot_renders_when_graphviz_is_installed_and_says_so_when_not(tmp_path, monkeypatch):
    g = s2sgrad.graph(f, 1.5, 2.0)
    assert g.write(str(tmp_path / "g.dot")) and (tmp_path / "g.dot").read_text() == str(g)
    if shutil.which("dot"):
        done = subprocess.run(["dot", "-Tsvg"], input=str(g).encode(), capture_output=True)
        assert done.returncode == 0 and b"<svg" in done.stdout
        g.write(str(tmp_path / "g.svg"))
        assert (tmp_path / "g.svg").read_bytes().lstrip().startswith(b"<?xml")
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(s2sgrad.GraphvizError, match="not installed"):
        g.write(str(tmp_path / "g.png"))
    assert g._repr_svg_() is None
