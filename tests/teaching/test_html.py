"""A Derivative in a notebook: its generated code highlighted by pygments, or a plain
<pre> where pygments is missing."""
import sys

import s2sgrad


def f(x, y):
    return x * y + x


def test_a_derivative_shows_its_code_in_html(monkeypatch):
    g = s2sgrad.grad(f)
    highlighted = g._repr_html_()
    assert "def" in highlighted and "grad_f" in highlighted and "<span" in highlighted
    monkeypatch.setitem(sys.modules, "pygments", None)  # as if pygments were not installed
    plain = g._repr_html_()
    assert "<pre>" in plain and "def grad_f(x, y):" in plain and "<span" not in plain
