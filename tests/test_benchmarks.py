"""`python -m benchmarks --quick` as a smoke test of correctness, never of speed: every
line's gradient either matched its reference to 1e-8 or its peer is not installed
(jax and autograd are not in the test extras); s2sgrad's own lines and PyTorch's always run.
A second test makes one gradient wrong on purpose and checks that the runner says WRONG
and exits nonzero, so that the first test can fail."""
import numpy as np

import benchmarks.__main__ as runner
from benchmarks import harness
from benchmarks.harness import Case, Tool


def test_quick_run_every_gradient_matches_its_reference(tmp_path):
    results, _ = runner.run(quick=True, log=lambda line: None)
    by_status = {}
    for r in results:
        by_status.setdefault(r.status, []).append(f"{r.problem} / {r.tool}: {r.detail}")
    assert set(by_status) <= {"ok", "missing"}, by_status
    problems = {r.problem.split()[0] for r in results}
    assert problems == {"GMM", "BA", "LSTM", "Euler", "MLP"}
    for r in results:
        if r.tool.startswith("s2sgrad") or r.tool.startswith("PyTorch") or r.tool.startswith("manual"):
            assert r.status == "ok", (r.problem, r.tool, r.detail)
            assert r.error <= 1e-8 and r.objective_s > 0 and r.gradient_s > 0
    assert {"s2sgrad python", "s2sgrad numba", "PyTorch eager"} <= {r.tool for r in results}
    from benchmarks import report
    report.write(results, 1.0, str(tmp_path), quick=True)
    text = (tmp_path / "RESULTS.md").read_text()
    assert "| GMM 100 D=2 K=5 | s2sgrad numba |" in text and "## The issue's targets" in text


def test_a_wrong_gradient_is_reported_and_fails_the_run(monkeypatch):
    x = np.linspace(-1.0, 1.0, 5)

    def build(scale):
        return lambda: ((lambda: np.sum(x ** 3)), (lambda: (scale * 3 * x ** 2,)))
    case = Case("cubic", lambda: (3 * x ** 2,), "by hand",
                [Tool("right", build(1.0)), Tool("off by 1e-7", build(1.0 + 1e-7))])
    results = harness.measure(case, runner.QUICK_TIMING, log=lambda line: None)
    assert [r.status for r in results] == ["ok", "WRONG"]
    assert np.isnan(results[1].gradient_s)  # a wrong gradient is never timed
    monkeypatch.setattr(runner, "run", lambda *a, **k: (results, 0.0))
    assert runner.main(["--quick"]) == 1


def test_a_peer_not_installed_is_reported_missing(monkeypatch):
    from benchmarks import peers
    load = peers.load

    def without_jax_and_autograd(name):
        if name.split(".")[0] in ("jax", "autograd"):
            raise peers.Missing(f"{name} hidden by the test")
        return load(name)
    monkeypatch.setattr(peers, "load", without_jax_and_autograd)
    results, _ = runner.run(quick=True, only=["euler"], log=lambda line: None)
    status = {r.tool: r.status for r in results}
    assert status["JAX jit"] == "missing" and status["HIPS autograd"] == "missing"
    assert status["s2sgrad numba"] == status["manual (numba)"] == status["PyTorch eager"] == "ok"
