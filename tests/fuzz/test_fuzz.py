"""The differential fuzzer's CI profile (issue #12), and tests of the fuzzer itself.

`test_ci_profile_has_no_failures` judges CI_PROGRAMS random programs of seed CI_SEED
(tests/fuzz/fuzzgen.py) in reverse and forward mode, and every CI_NUMBA_EVERY-th on
backend="numba" too, against each other and against finite differences
(tests/fuzz/fuzzjudge.py), and fails on any wrong, crashed or mutated program, printing
each distinct failure's minimal reproduction (tests/fuzz/fuzzshrink.py).  One failing
program is reproduced alone with

    python -m benchmarks.fuzz --seed 12 --numba-every 40 --only INDEX

The long profile (10,000 programs, benchmarks/results/fuzz.txt) is
`python -m benchmarks.fuzz --programs 10000 --seed 0`.

S2SGRAD_FUZZ_PROGRAMS and S2SGRAD_FUZZ_WORKERS override the number of programs and of
worker processes (default 2, the CI machine's cores; 1 judges in this process).
"""
import os
import sys
import textwrap

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fuzzgen  # noqa: E402
import fuzzjudge  # noqa: E402
import fuzzrun  # noqa: E402
import fuzzshrink  # noqa: E402

CI_SEED = 12
CI_PROGRAMS = int(os.environ.get("S2SGRAD_FUZZ_PROGRAMS", "240"))
CI_NUMBA_EVERY = 40
CI_WORKERS = int(os.environ.get("S2SGRAD_FUZZ_WORKERS", "2"))
SHRINK = 4              # distinct failures shrunk when the profile fails ...
SHRINK_SECONDS = 20.0   # ... for this long each
MAX_REFUSED = 0.20      # a fuzzer whose programs are mostly refused proves nothing


@pytest.fixture(scope="module")
def ci_records():
    return fuzzrun.run(CI_SEED, CI_PROGRAMS, numba_every=CI_NUMBA_EVERY, workers=CI_WORKERS)


def test_ci_profile_has_no_failures(ci_records):
    failures = list(fuzzrun.failing(ci_records))
    if not failures:
        return
    chosen = fuzzrun.distinct_failures(ci_records, per_class=SHRINK)
    chosen.sort(key=lambda c: ("wrong", "crashed", "mutated").index(c[2]["outcome"]))
    shown = chosen[:SHRINK]
    repros = fuzzrun.shrink_all(CI_SEED, shown, numba_every=CI_NUMBA_EVERY, budget=SHRINK_SECONDS,
                                workers=CI_WORKERS)
    lines = [f"{len({r['index'] for r, _ in failures})} of {CI_PROGRAMS} fuzz programs (seed {CI_SEED}) "
             f"fail; reproduce one with: python -m benchmarks.fuzz --seed {CI_SEED} "
             f"--numba-every {CI_NUMBA_EVERY} --only INDEX", ""]
    by_key = {}
    for r, f in failures:
        by_key.setdefault((f["outcome"], f["check"], f["exc"].split(":")[0]), []).append(r["index"])
    for (outcome, check, exc), indices in sorted(by_key.items()):
        lines.append(f"  {outcome:8} {check:28} {exc:22} programs {', '.join(map(str, indices))}")
    lines.append("")
    for (key, r, f, n), res in zip(shown, repros):
        lines.append(f"--- {f['outcome']}: {f['check']} (program {r['index']}, minimal reproduction)")
        lines.append(res["text"])
        lines.append("")
    pytest.fail("\n".join(lines), pytrace=False)


def test_ci_profile_refuses_few(ci_records):
    c, judged = fuzzrun.counts(ci_records)
    assert judged == CI_PROGRAMS
    assert c["discarded"] <= 0.1 * len(ci_records), "the generator writes programs with no usable input"
    assert c["error"] == 0, [r["reason"] for r in ci_records if r["outcome"] == "error"]
    refused = c["refused"] / judged
    reasons = "\n".join(f"{n:4} {cls}: {line}" for (cls, line), n in fuzzrun.histogram(ci_records).most_common(8))
    assert refused < MAX_REFUSED, f"{refused:.0%} of the programs are refused:\n{reasons}"


# ----------------------------------------------------------------------------- the fuzzer itself
def test_generator_is_deterministic_and_writes_runnable_programs():
    config = fuzzgen.Config()
    usable = 0
    for i in range(30):
        a, b = fuzzgen.generate(3, i, config), fuzzgen.generate(3, i, config)
        assert a.source == b.source and a.wrt == b.wrt
        judge = fuzzjudge.Judge(a)
        usable += judge.prepare()
    assert usable >= 27


def test_config_switches_constructs_off():
    config = fuzzgen.Config().override("statements.for=0,statements.while=0,statements.list=0,"
                                       "statements.counter_reuse=0,options.p_helpers=0")
    for i in range(20):
        p = fuzzgen.generate(0, i, config)
        assert "for " not in p.source.replace("for item", "") and "while " not in p.source
        assert "def h" not in p.source
    with pytest.raises(KeyError):
        fuzzgen.Config().override("statements.goto=1")


PLANTED = '''
import numpy as np
import s2sgrad


@s2sgrad.custom_derivative
def sq(x):
    return x * x


@sq.reverse
def sq_reverse(x, g):
    return {reverse}


@sq.forward
def sq_forward(x, t):
    return {forward}


def f(x, a):
    v = np.sin(x) * a
    w = v * 2.0
    if np.sum(w) > 100.0:
        w = w * 0.5
    u = np.cos(w)
    return np.sum(sq(x) * a) + 0.0 * np.sum(u)
'''


def planted(reverse="2.0 * x * g", forward="2.0 * x * t", body=None):
    source = textwrap.dedent(PLANTED).format(reverse=reverse, forward=forward)
    if body is not None:
        source = source[:source.index("def f(")] + body
    params = [fuzzgen.Param("x", "array", (3,)), fuzzgen.Param("a", "float", None)]
    return fuzzgen.Program(seed=0, index=0, source=source, params=params, wrt=("x", "a"),
                           wrt_form="tuple", args={"x": np.array([0.3, -0.5, 0.8]), "a": 0.7})


def test_judge_passes_a_right_rule():
    verdict = fuzzjudge.judge(planted())
    assert verdict.outcome == "ok", verdict.failures


def test_judge_catches_a_wrong_reverse_rule():
    verdict = fuzzjudge.judge(planted(reverse="g * x"))
    assert verdict.outcome == "wrong"
    assert {f.check for f in verdict.failures} == {"reverse-vs-fd"}


def test_judge_catches_a_wrong_forward_rule():
    verdict = fuzzjudge.judge(planted(forward="x * t"))
    assert verdict.outcome == "wrong"
    assert {f.check for f in verdict.failures} == {"forward-vs-fd"}


def test_judge_catches_a_crash():
    verdict = fuzzjudge.judge(planted(reverse="g * x / 0.0 if x.ndim > 5 else 1 / 0"))
    assert verdict.outcome == "crashed"
    assert verdict.failures[0].check == "reverse:crash"
    assert verdict.failures[0].exc.startswith("ZeroDivisionError")


def test_judge_catches_a_mutation():
    verdict = fuzzjudge.judge(planted(forward="t.__setitem__(0, 9.0) or 2.0 * x * t"))
    assert "mutated" in {f.outcome for f in verdict.failures}
    assert any("tangent of x" in f.detail for f in verdict.failures if f.outcome == "mutated")


def test_judge_counts_a_refusal():
    p = planted(body="def f(x, a):\n    return np.sum(np.unique(x) * a)\n")
    verdict = fuzzjudge.judge(p)
    assert verdict.outcome == "refused"
    assert verdict.refusals and all(cls.endswith("Error") for _, cls, _ in verdict.refusals)


def test_draws_stay_away_from_kinks():
    body = "def f(x, a):\n    return np.sum(np.abs(x - a))\n"
    p = planted(body=body)
    judge = fuzzjudge.Judge(p.replace(args={"x": np.array([0.3, -0.5, 0.8]), "a": 0.3000001}))
    assert "kink" in judge.usable(judge.p.args)
    assert judge.usable({"x": np.array([0.3, -0.5, 0.8]), "a": 0.1}) == ""


def test_shrinker_keeps_only_what_fails():
    p = planted(reverse="g * x")
    verdict = fuzzjudge.judge(p)
    best, failure, tried = fuzzshrink.shrink(p, verdict.failures[0], budget_s=60)
    assert failure.check == "reverse-vs-fd"
    body = best.source[best.source.index("def f("):]
    assert "sq(" in body and "np.cos" not in body and "if " not in body, best.source
    assert len(best.wrt) == 1 and best.args["x"].size == 1
