"""compare(): the table's numbers against hand derivations and sympy's count_ops, the
HTML parsed back, the error-against-h curve shaped like a V."""
import ast
import math
from html.parser import HTMLParser

import numpy as np
import pytest
import sympy as sp

import s2sgrad

EPS = np.finfo(float).eps


def f(x, y):
    return x * x * y + math.sin(x)


def halving(x):
    while x > 1.0:
        x = x / 2
    return x * x


def test_all_four_methods_against_the_hand_derivative():
    report = s2sgrad.compare(f, 1.5, 2.0, wrt=(0, 1))
    hand = {"x": 2 * 1.5 * 2.0 + math.cos(1.5), "y": 1.5 ** 2}
    for r in report.inputs:
        names = [m.name for m in r.methods]
        assert names == ["symbolic", "reverse mode", "forward mode", "central difference"]
        assert r.method("symbolic").value == pytest.approx(hand[r.name], rel=1e-15)
        for m in ("reverse mode", "forward mode"):
            assert r.method(m).value == pytest.approx(hand[r.name], rel=1e-14)
            assert r.method(m).error <= 4 * EPS * abs(hand[r.name])
        fd = r.method("central difference")
        assert r.step == pytest.approx(EPS ** (1 / 3) * max(1.0, r.at))
        h = r.step
        up, down = list(report.args), list(report.args)
        k = ["x", "y"].index(r.name)
        up[k] += h
        down[k] -= h
        assert fd.value == (f(*up) - f(*down)) / (2 * h)
        assert 1e-14 < fd.error < 1e-8  # truncation and round-off: small, never zero here
        assert fd.error == pytest.approx(abs(fd.value - hand[r.name]), rel=1e-3, abs=1e-15)
        assert all(m.seconds > 0 for m in r.methods)
    x, y = sp.symbols("x y", real=True)
    assert report["x"].closed_form == 2 * x * y + sp.cos(x)
    assert report["x"].sizes == {"diff": sp.count_ops(2 * x * y + sp.cos(x)),
                                 "simplify": sp.count_ops(2 * x * y + sp.cos(x)),
                                 "cse": sp.count_ops(2 * x * y + sp.cos(x))}
    grad_source = s2sgrad.grad(f, wrt=(0, 1)).source
    fn = next(n for n in ast.walk(ast.parse(grad_source)) if isinstance(n, ast.FunctionDef) and n.name == "grad_f")
    assert report.adjoint_statements == len(fn.body) - 1  # straight-line: the body less its docstring
    assert report.function_statements == 1


def test_the_terminal_table_shows_the_numbers():
    report = s2sgrad.compare(f, 1.5, 2.0)
    text = str(report)
    for m in report["x"].methods:
        assert m.name in text and repr(m.value) in text
        if m.error is not None:
            assert f"{m.error:.1e}" in text
    assert "h=9.1e-06" in text and "(reference)" in text and "2*x*y + cos(x)" in text


class Tables(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tables, self.cell, self.code = [], None, False

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self.cell = ""

    def handle_endtag(self, tag):
        if tag in ("td", "th"):
            self.tables[-1][-1].append(self.cell)
            self.cell = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell += data


def test_the_html_table_parses_back_to_the_numbers():
    report = s2sgrad.compare(f, 1.5, 2.0, wrt=(0, 1))
    parser = Tables()
    parser.feed(report._repr_html_())
    assert len(parser.tables) == 2
    for table, r in zip(parser.tables, report.inputs):
        header, *rows = table
        assert header == ["method", "value", "error vs symbolic", "time a call"]
        assert len(rows) == 4
        for row, m in zip(rows, r.methods):
            assert row[0].startswith(m.name)
            assert float(row[1]) == m.value
            assert row[2] == ("(reference)" if m.error is None else f"{m.error:.1e}")


def test_without_a_closed_form_the_errors_are_against_reverse_mode():
    report = s2sgrad.compare(halving, 3.0)
    r = report["x"]
    assert r.reference == "reverse mode" and "while loop" in r.why_not_symbolic
    assert [m.name for m in r.methods] == ["reverse mode", "forward mode", "central difference"]
    assert r.method("reverse mode").value == 2 * 0.375 * 0.5  # x = 0.75 after two halvings
    assert r.method("forward mode").error == 0.0
    assert "no closed form" in str(report)


def test_integer_arguments_fix_loop_lengths():
    def orbit(x, r, n):
        for i in range(n):
            x = r * x * (1 - x)
        return x
    report = s2sgrad.compare(orbit, 0.3, 3.7, 3, wrt=(0, 1))
    gx, gr = s2sgrad.grad(orbit, wrt=(0, 1))(0.3, 3.7, 3)
    assert report["x"].method("symbolic").value == pytest.approx(gx, rel=1e-13)
    assert report["r"].method("symbolic").value == pytest.approx(gr, rel=1e-13)
    assert report["x"].sizes["diff"] > report["x"].sizes["cse"]


def test_array_inputs_are_refused():
    def total(v):
        return np.sum(v * v)
    with pytest.raises(s2sgrad.ArgumentError, match="numbers"):
        s2sgrad.compare(total, np.ones(3))


def test_the_error_against_h_is_a_v(tmp_path):
    report = s2sgrad.compare(f, 1.5, 2.0)
    steps, errors = report.error_against_step("x", [1e-1, 1e-5, 1e-13])
    assert errors[0] > 100 * errors[1] and errors[2] > 100 * errors[1]  # truncation, then round-off
    # the truncation error of a central difference: h**2 f'''(x) / 6, with f''' = -cos(x)
    assert errors[0] == pytest.approx(1e-2 / 6 * math.cos(1.5), rel=0.05)
    fig = report.plot(path=str(tmp_path / "v.png"))
    assert (tmp_path / "v.png").stat().st_size > 1000
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    assert len(ax.lines[0].get_xdata()) == 49
