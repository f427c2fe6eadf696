"""examples/compare.ipynb runs top to bottom in a fresh kernel, its outputs are the
report's (HTML table, V plot, SVG graph or DOT text), and no cell raises."""
import os
import shutil
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[2]


def test_the_comparison_notebook_runs():
    nb = nbformat.read(ROOT / "examples" / "compare.ipynb", as_version=4)
    env_path = os.environ.get("PYTHONPATH", "")
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env_path) if p)  # this checkout's s2sgrad
    try:
        NotebookClient(nb, timeout=120, kernel_name="python3",
                       resources={"metadata": {"path": str(ROOT / "examples")}}).execute()
    finally:
        os.environ["PYTHONPATH"] = env_path
    outputs = {i: [o for o in cell.get("outputs", [])] for i, cell in enumerate(nb.cells)}
    kinds = {i: set().union(*(o.get("data", {}).keys() for o in outs)) if outs else set()
             for i, outs in outputs.items()}
    report_cell = next(i for i, c in enumerate(nb.cells) if "s2sgrad.compare(" in c.source)
    assert "text/html" in kinds[report_cell]
    html = "".join(o["data"]["text/html"] for o in outputs[report_cell] if "text/html" in o.get("data", {}))
    assert html.count("<table>") == 2 and "central difference" in html
    plot_cell = next(i for i, c in enumerate(nb.cells) if "report.plot" in c.source)
    assert "image/png" in kinds[plot_cell]
    graph_cell = next(i for i, c in enumerate(nb.cells) if "s2sgrad.graph(" in c.source)
    assert ("image/svg+xml" in kinds[graph_cell]) == bool(shutil.which("dot"))
    grad_cell = next(i for i, c in enumerate(nb.cells) if "s2sgrad.grad(f" in c.source)
    assert "text/html" in kinds[grad_cell]
    last = "".join(o.get("text", "") for o in outputs[len(nb.cells) - 1])
    assert last.splitlines()[0] == "1 4" and "lines of adjoint, for every n" in last
