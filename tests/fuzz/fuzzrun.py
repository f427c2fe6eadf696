"""Run s2sgrad's differential fuzzer: generate, judge, shrink, report.

Two profiles use it:

* the CI profile, `tests/fuzz/test_fuzz.py` (CI_SEED, CI_PROGRAMS programs in this
  process, numba on every CI_NUMBA_EVERY-th), fails on any wrong, crashed or mutated
  program and prints the minimal reproductions;
* the long profile, `python -m benchmarks.fuzz --programs 10000 --seed 0` from the
  repository root (benchmarks/fuzz.py calls `main` here), which judges in worker
  processes (`--workers`, each a `python tests/fuzz/fuzzrun.py worker ...` streaming one
  JSON line per program, so a worker that dies takes only its current program with it)
  and writes benchmarks/results/fuzz.txt.

Program i of a run is `fuzzgen.generate(seed, i)`; a run judges programs 0, 1, 2, ...
until it has `programs` judged ones (a program with no usable input draw is discarded
and counted).  `--only I` judges program I alone and prints it with its verdict.
"""
from __future__ import annotations

import argparse
import collections
import datetime
import json
import os
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
if __name__ == "__main__" and ROOT not in sys.path:
    sys.path.insert(0, ROOT)  # a worker process judges this checkout's s2sgrad
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import fuzzgen  # noqa: E402
import fuzzjudge  # noqa: E402
import fuzzshrink  # noqa: E402

PROGRAM_SECONDS = 120   # a program judged longer than this is a timeout (reported apart)


def program(seed, index, config=None, numba_every=0):
    """Program `index` of the seed; every numba_every-th is written for numba too
    (Config.for_numba) and judged on both backends."""
    config = config or fuzzgen.Config()
    numba = bool(numba_every) and index % numba_every == 0
    p = fuzzgen.generate(seed, index, config.for_numba() if numba else config)
    return p.replace(numba=numba)


def judge_one(seed, index, config=None, numba_every=0, timeout=PROGRAM_SECONDS):
    """The record of program `index`: its verdict's summary and features."""
    p = program(seed, index, config, numba_every)
    start = time.perf_counter()
    try:
        with fuzzjudge.time_limit(timeout):
            verdict = fuzzjudge.judge(p)
        record = verdict.summary()
    except fuzzjudge.Timeout:
        record = fuzzjudge.Verdict("timeout", reason=f"judged over {timeout} s").summary()
    except Exception as exc:  # the fuzzer's own failure: report it, do not stop the run
        record = fuzzjudge.Verdict("error", reason=fuzzjudge._exc_line(exc) + " at "
                                   + fuzzjudge._where(exc)).summary()
    record.update(index=index, seed=seed, numba_tried=p.numba, features=sorted(p.features),
                  lines=p.source.count("\n"), seconds=round(time.perf_counter() - start, 3))
    return record


def _cache_dir():
    """Compiled (numba) derivatives go to a fresh directory of the run, not ~/.cache."""
    if "S2SGRAD_CACHE_DIR" not in os.environ:
        os.environ["S2SGRAD_CACHE_DIR"] = os.path.join(fuzzjudge.module_dir(), "cache")


# ----------------------------------------------------------------------------- running
def _env():
    """A worker's environment: this checkout's s2sgrad first, one thread for BLAS."""
    env = dict(os.environ)
    env["PYTHONPATH"] = ROOT + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.setdefault("OMP_NUM_THREADS", "1")
    env.setdefault("OPENBLAS_NUM_THREADS", "1")
    _cache_dir()
    env["S2SGRAD_CACHE_DIR"] = os.environ["S2SGRAD_CACHE_DIR"]
    return env


def run(seed, programs, config_spec="", numba_every=0, workers=1, timeout=PROGRAM_SECONDS,
        log=None):
    """Records of the first `programs` judged programs of this seed, in index order."""
    if workers <= 1:
        _cache_dir()
        config = fuzzgen.Config().override(config_spec)
        records, judged, index = [], 0, 0
        while judged < programs:
            r = judge_one(seed, index, config, numba_every, timeout)
            records.append(r)
            judged += r["outcome"] != "discarded"
            index += 1
            if log and (index % 25 == 0):
                log(_progress(records, judged))
        return records
    return _run_parallel(seed, programs, config_spec, numba_every, workers, timeout, log)


def _progress(records, judged):
    c = collections.Counter(r["outcome"] for r in records)
    return f"  {judged} judged: " + ", ".join(f"{k} {v}" for k, v in sorted(c.items()))


def _run_parallel(seed, programs, config_spec, numba_every, workers, timeout, log, chunk=None):
    # each chunk is one process (imports cost seconds): a few chunks per worker at least
    chunk = chunk or max(20, min(100, programs // (3 * workers)))
    lock = threading.Lock()
    results: dict[int, dict] = {}
    next_start = [0]

    def enough():
        # programs 0..k judged with no gaps, and `programs` of them not discarded
        judged, i = 0, 0
        while i in results:
            judged += results[i]["outcome"] != "discarded"
            if judged >= programs:
                return True
            i += 1
        return False

    def worker():
        while True:
            with lock:
                if enough():
                    return
                start = next_start[0]
                next_start[0] += chunk
            stop = start + chunk
            while start < stop:
                cmd = [sys.executable, os.path.join(HERE, "fuzzrun.py"), "worker", "--seed", str(seed),
                       "--start", str(start), "--stop", str(stop), "--numba-every", str(numba_every),
                       "--timeout", str(timeout), "--config", config_spec]
                proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, cwd=ROOT, text=True, env=_env())
                for line in proc.stdout:
                    r = json.loads(line)
                    with lock:
                        results[r["index"]] = r
                    start = r["index"] + 1
                proc.wait()
                if start < stop and proc.returncode != 0:
                    # the worker died judging program `start`: that program crashed it
                    r = fuzzjudge.Verdict("crashed").summary()
                    r["failures"] = [{"outcome": "crashed", "check": "process:died",
                                      "detail": f"the judging process exited with {proc.returncode}",
                                      "exc": f"exit status {proc.returncode}", "where": ""}]
                    r.update(index=start, seed=seed, numba_tried=False, features=[], lines=0)
                    with lock:
                        results[start] = r
                    start += 1
            if log:
                with lock:
                    done = [results[i] for i in sorted(results)]
                log(_progress(done, sum(r["outcome"] != "discarded" for r in done)))

    threads = [threading.Thread(target=worker) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out, judged = [], 0
    for i in sorted(results):
        if judged >= programs:
            break
        out.append(results[i])
        judged += results[i]["outcome"] != "discarded"
    return out


def worker_main(args):
    _cache_dir()
    config = fuzzgen.Config().override(args.config)
    for index in range(args.start, args.stop):
        r = judge_one(args.seed, index, config, args.numba_every, args.timeout)
        sys.stdout.write(json.dumps(r) + "\n")
        sys.stdout.flush()


# ----------------------------------------------------------------------------- shrinking
def failing(records):
    """(record, failure dict) for every failure, in index order."""
    for r in records:
        for f in r.get("failures", []):
            yield r, f


def failure_key(f: dict):
    return fuzzshrink.failure_key(fuzzjudge.Failure(**f))


def distinct_failures(records, per_class=6, per_key=1):
    """[(key, record, failure, programs failing with that key)]: the first per_key
    failures of each distinct key (outcome, check, message up to names), keys in the order
    they first appear, at most per_class of them per outcome class."""
    by_key, counts = {}, collections.Counter()
    for r, f in failing(records):
        key = failure_key(f)
        counts[key] += 1
        by_key.setdefault(key, [])
        if len(by_key[key]) < per_key and all(x["index"] != r["index"] for x, _ in by_key[key]):
            by_key[key].append((r, f))
    chosen, per = [], collections.Counter()
    for key, items in by_key.items():
        for r, f in items:
            if per[f["outcome"]] < per_class:
                per[f["outcome"]] += 1
                chosen.append((key, r, f, counts[key]))
    return chosen


def shrink_one(seed, index, failure: dict, config_spec="", numba_every=0, budget=60.0):
    """The minimal reproduction of program index's failure, as printable text."""
    _cache_dir()
    config = fuzzgen.Config().override(config_spec)
    p = program(seed, index, config, numba_every)
    judge = fuzzjudge.Judge(p)
    judge.prepare()
    p = judge.p
    target = fuzzjudge.Failure(**failure)
    start = time.perf_counter()
    best, best_failure, tried = fuzzshrink.shrink(p, target, budget_s=budget)
    options = fuzzshrink.judge_options(target)
    final = fuzzjudge.Judge(best, **options)
    verdict = final.run()
    found = [f for f in verdict.failures if fuzzshrink.failure_key(f) == fuzzshrink.failure_key(target)]
    if found:
        best_failure = found[0]
    return {"text": reproduction(final, best_failure),
            "seconds": round(time.perf_counter() - start, 1), "tried": tried,
            "lines": best.source.count("\n"), "constructs": list(fuzzshrink.constructs(best.source)),
            "still_fails": bool(found)}


def reproduction(judge, failure) -> str:
    """The minimal program, how to call it, and what goes wrong."""
    p = judge.p
    fmt = fuzzjudge.fmt
    lines = [line for line in p.source.splitlines() if not line.startswith('"""Generated by')]
    while lines and not lines[0].strip():
        lines.pop(0)
    values = p.args
    pos, kw = p.call_parts(values)
    names = [q.name for q in p.params if q.name not in p.omitted]
    shown = ", ".join(f"{q}" for q in names)
    backend = ', backend="numba"' if failure.check.startswith("numba") else ""
    spec = p.wrt_spec()
    out = ["    " + line for line in lines]
    out.append("    # at: " + "; ".join(f"{n} = {fmt(values[n])}" for n in names))
    call_args = ", ".join(f"{n}={n}" if n in p.kw else n for n in names)
    if "forward" in failure.check and hasattr(judge, "tangents"):
        t = ", ".join(fmt(t) for t in judge.tangents)
        out.append(f"    # s2sgrad.jvp(f, wrt={spec!r}{backend})({call_args}, {t})")
    elif hasattr(judge, "api"):
        api = judge.api
        if api == "vjp":
            out.append(f"    # s2sgrad.vjp(f, wrt={spec!r}{backend})({call_args}, {fmt(judge.cotangent)})")
        else:
            out.append(f"    # s2sgrad.{api}(f, wrt={spec!r}{backend})({call_args})")
    out.append(f"    # {failure.outcome}: {failure.check}")
    for line in failure.detail.splitlines():
        out.append("    #   " + line.strip())
    del shown, pos, kw
    return "\n".join(out)


def shrink_all(seed, chosen, config_spec="", numba_every=0, budget=60.0, workers=1, log=None):
    """Reproductions for the chosen failures (in worker processes when workers > 1)."""
    out = [None] * len(chosen)
    if workers <= 1:
        for i, (key, r, f, count) in enumerate(chosen):
            if log:
                log(f"shrinking program {r['index']}: {f['outcome']} {f['check']}")
            out[i] = _shrink_safely(seed, r["index"], f, config_spec, numba_every, budget)
        return out
    lock = threading.Lock()
    todo = list(range(len(chosen)))

    def worker():
        while True:
            with lock:
                if not todo:
                    return
                i = todo.pop(0)
            key, r, f, count = chosen[i]
            if log:
                log(f"shrinking program {r['index']}: {f['outcome']} {f['check']}")
            cmd = [sys.executable, os.path.join(HERE, "fuzzrun.py"), "shrink", "--seed", str(seed),
                   "--index", str(r["index"]), "--failure", json.dumps(f), "--budget", str(budget),
                   "--numba-every", str(numba_every), "--config", config_spec]
            try:
                done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=_env(),
                                      timeout=budget * 3 + 300)
                lines = done.stdout.strip().splitlines()
                res = json.loads(lines[-1]) if lines else {
                    "text": f"    (shrinking failed: {done.stderr.strip()[-500:]})"}
            except (subprocess.TimeoutExpired, ValueError) as exc:
                res = {"text": f"    (shrinking failed: {exc})"}
            out[i] = res

    threads = [threading.Thread(target=worker) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def _shrink_safely(seed, index, f, config_spec, numba_every, budget):
    try:
        return shrink_one(seed, index, f, config_spec, numba_every, budget)
    except Exception as exc:
        return {"text": f"    (shrinking failed: {fuzzjudge._exc_line(exc)})"}


# ----------------------------------------------------------------------------- reporting
def histogram(records, numba=False):
    """Refusal reasons: (class, normalized first line) -> number of programs (of the
    python backend's modes, or of numba's)."""
    h = collections.Counter()
    for r in records:
        seen = set()
        for mode, cls, line in r.get("refusals", []):
            if mode.startswith("numba") != numba:
                continue
            key = (cls, fuzzshrink.normalized(line)[:150])
            if key not in seen:
                seen.add(key)
                h[key] += 1
    return h


def counts(records):
    c = collections.Counter(r["outcome"] for r in records)
    judged = sum(v for k, v in c.items() if k != "discarded")
    return c, judged


def feature_table(records):
    """feature -> (programs, refused, failed)."""
    t = collections.defaultdict(lambda: [0, 0, 0])
    for r in records:
        if r["outcome"] == "discarded":
            continue
        for feat in r.get("features", []):
            row = t[feat]
            row[0] += 1
            row[1] += r["outcome"] == "refused"
            row[2] += r["outcome"] in fuzzjudge.FAILURES
    return t


def report(records, repros, meta) -> str:
    c, judged = counts(records)
    pct = (lambda n: f"{100.0 * n / judged:5.1f}%") if judged else (lambda n: "")
    out = ["s2sgrad differential fuzzer (tests/fuzz, issue #12)", ""]
    for k in ("date", "commit", "command", "profile", "seed", "workers", "elapsed"):
        if k in meta:
            out.append(f"{k + ':':10} {meta[k]}")
    generated = len(records)
    out.append(f"{'programs:':10} {judged} judged ({generated} generated, {c['discarded']} discarded: "
               f"no input draw away from kinks, or f itself fails)")
    out.append("")
    out.append("outcomes:")
    for k in ("ok", "refused", "wrong", "crashed", "mutated", "timeout", "error"):
        if k in ("timeout", "error") and not c[k]:
            continue
        out.append(f"  {k:9} {c[k]:6}  {pct(c[k])}")
    fd = sum(1 for r in records if r.get("fd_skipped"))
    out.append(f"  (finite differences not smooth enough to judge at the drawn point, cross-checks "
               f"only: {fd})")
    nb = collections.Counter(r.get("numba") for r in records if r.get("numba_tried")
                             and r["outcome"] != "discarded")
    if sum(nb.values()):
        out.append(f"  numba backend tried on {sum(nb.values())}: ok {nb['ok']}, refused {nb['refused']}, "
                   f"numba cannot compile f itself {nb['f-not-compiled']}, failed {nb['failed']}")
    out.append("")
    out.append("refusal reasons (programs; an S2SGradError when the derivative is made or first called):")
    for (cls, line), n in histogram(records).most_common():
        out.append(f"  {n:6}  {cls}: {line}")
    nbh = histogram(records, numba=True)
    if nbh:
        out.append("")
        out.append("numba backend refusals (programs; not counted above):")
        for (cls, line), n in nbh.most_common():
            out.append(f"  {n:6}  {cls}: {line}")
    out.append("")
    out.append("failures by check (programs with that failure):")
    fc = collections.Counter()
    firsts = collections.defaultdict(list)
    for r, f in failing(records):
        key = (f["outcome"], f["check"], f["exc"].split(":")[0])
        fc[key] += 1
        if len(firsts[key]) < 8:
            firsts[key].append(r["index"])
    for key, n in fc.most_common():
        out.append(f"  {n:6}  {key[0]:8} {key[1]}{'  ' + key[2] if key[2] else ''}   "
                   f"(programs {', '.join(map(str, firsts[key]))}{', ...' if n > 8 else ''})")
    out.append("")
    out.append("constructs (programs judged / refused / wrong, crashed or mutated):")
    table = feature_table(records)
    for feat in sorted(table):
        n, ref, bad = table[feat]
        out.append(f"  {feat:28} {n:6} {ref:6} ({100.0 * ref / n:4.1f}%) {bad:6} ({100.0 * bad / n:4.1f}%)")
    out.append("")
    if repros:
        out.append("minimal reproductions: the first failures of each distinct check and message "
                   "(names and numbers blurred), shrunk; those whose minimal programs are made of "
                   "the same constructs are shown once:")
        groups = collections.OrderedDict()
        for (key, r, f, n), res in repros:
            groups.setdefault(key, collections.OrderedDict()).setdefault(
                tuple(res.get("constructs", ())), []).append((r, f, n, res))
        for key, by_constructs in groups.items():
            for cons, items in by_constructs.items():
                r, f, n, res = min(items, key=lambda it: it[3].get("lines", 1e9))
                out.append("")
                exc = f" ({f['exc'].splitlines()[0]})" if f["exc"] else ""
                out.append(f"--- {f['outcome']}: {f['check']}{exc}")
                others = [str(it[0]["index"]) for it in items if it[0] is not r]
                out.append(f"    program {r['index']} of seed {r['seed']}"
                           + (f" (and {', '.join(others)}, shrunk to the same constructs)" if others else "")
                           + f"; {n} program(s) fail with this check and message; shrunk in "
                           f"{res.get('seconds', '?')} s, {res.get('tried', '?')} candidates")
                if cons:
                    out.append(f"    constructs: {', '.join(cons)}")
                out.append(res["text"])
    slow = sorted(records, key=lambda r: -r.get("seconds", 0))[:3]
    if slow:
        out.append("")
        out.append("slowest programs: " + ", ".join(f"{r['index']} ({r['seconds']} s)" for r in slow))
    return "\n".join(out) + "\n"


def git_commit():
    try:
        sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                             cwd=ROOT).stdout.strip()
        branch = subprocess.run(["git", "rev-parse", "--abbrev-ref", "HEAD"], capture_output=True,
                                text=True, cwd=ROOT).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "s2sgrad"], capture_output=True,
                               text=True, cwd=ROOT).stdout.strip()
        return f"{sha} ({branch}{', s2sgrad/ modified' if dirty else ''})"
    except OSError:
        return "unknown"


# ----------------------------------------------------------------------------- command line
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="cmd")
    w = sub.add_parser("worker")
    w.add_argument("--seed", type=int, default=0)
    w.add_argument("--start", type=int, required=True)
    w.add_argument("--stop", type=int, required=True)
    w.add_argument("--numba-every", type=int, default=0)
    w.add_argument("--timeout", type=float, default=PROGRAM_SECONDS)
    w.add_argument("--config", default="")
    s = sub.add_parser("shrink")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--index", type=int, required=True)
    s.add_argument("--failure", required=True)
    s.add_argument("--budget", type=float, default=60.0)
    s.add_argument("--numba-every", type=int, default=0)
    s.add_argument("--config", default="")
    parser.add_argument("--programs", type=int, default=10000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--numba-every", type=int, default=40,
                        help="also judge backend='numba' on every k-th program (0: never)")
    parser.add_argument("--shrink-per-class", type=int, default=14,
                        help="failures shrunk per class (wrong, crashed, mutated)")
    parser.add_argument("--shrink-per-key", type=int, default=3,
                        help="failures shrunk per distinct check and message")
    parser.add_argument("--shrink-budget", type=float, default=120.0, help="seconds per failure")
    parser.add_argument("--config", default="", help='weights, e.g. "statements.while=0,options.p_array=1"')
    parser.add_argument("--timeout", type=float, default=PROGRAM_SECONDS)
    parser.add_argument("--out", default=os.path.join(ROOT, "benchmarks", "results", "fuzz.txt"))
    parser.add_argument("--only", type=int, help="judge this one program and print it")
    parser.add_argument("--records", help="also write every program's record here (JSON lines)")
    args = parser.parse_args(argv)
    if args.cmd == "worker":
        return worker_main(args)
    if args.cmd == "shrink":
        res = _shrink_safely(args.seed, args.index, json.loads(args.failure), args.config,
                             args.numba_every, args.budget)
        print(json.dumps(res))
        return
    log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
    if args.only is not None:
        _cache_dir()
        p = program(args.seed, args.only, fuzzgen.Config().override(args.config), args.numba_every)
        print(p.source)
        r = judge_one(args.seed, args.only, fuzzgen.Config().override(args.config), args.numba_every,
                      args.timeout)
        print(json.dumps(r, indent=1))
        for key, rec, f, n in distinct_failures([r], per_class=99):
            print(shrink_one(args.seed, args.only, f, args.config, args.numba_every,
                             args.shrink_budget)["text"])
        return
    start = time.time()
    records = run(args.seed, args.programs, args.config, args.numba_every, args.workers,
                  args.timeout, log)
    chosen = distinct_failures(records, args.shrink_per_class, args.shrink_per_key)
    repros = shrink_all(args.seed, chosen, args.config, args.numba_every, args.shrink_budget,
                        args.workers, log)
    elapsed = time.time() - start
    command = "python -m benchmarks.fuzz " + " ".join(argv if argv is not None else sys.argv[1:])
    commit = os.environ.get("S2SGRAD_FUZZ_COMMIT") or git_commit()  # a run from a snapshot says which
    meta = {"date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"), "commit": commit,
            "command": command.strip(), "profile": "long", "seed": args.seed,
            "workers": args.workers, "elapsed": f"{elapsed / 60:.1f} min"}
    text = report(records, list(zip(chosen, repros)), meta)
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as fh:
        fh.write(text)
    if args.records:
        with open(args.records, "w") as fh:
            for r in records:
                fh.write(json.dumps(r) + "\n")
    print(text)


if __name__ == "__main__":
    main()
