"""The teaching views of a function: its closed-form derivative (symbolic.py), the four
ways of differentiating it side by side (compare.py) and its computational graph
(graph.py), plus the HTML a notebook shows a derivative's code with (html.py)."""
