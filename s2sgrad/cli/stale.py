"""`s2sgrad check OUT.py`: regenerate a written file from the command in its header and
exit 1 with a unified diff when the file differs (as `black --check` does), so a project
that commits derivative files keeps them current in CI or a pre-commit hook."""
from __future__ import annotations

import difflib
import os
import re
import shlex
import sys

from .reading import FileReadError

COMMAND = re.compile(r"^Command: (s2sgrad grad .*)$", re.MULTILINE)


def check(files: list[str]) -> int:
    stale = 0
    for path in files:
        stale += _stale(path)
    return 1 if stale else 0


def _stale(path: str) -> bool:
    from .options import parser
    from .grad_command import request_of, written
    try:
        with open(path, encoding="utf-8") as fh:
            current = fh.read()
    except OSError as exc:
        raise FileReadError(f"cannot read {path}: {exc.strerror}") from None
    found = COMMAND.search(current[:2000])
    if found is None:
        raise FileReadError(f"{path} has no `Command: s2sgrad grad ...` line in its header: it was not "
                            f"written by s2sgrad grad -o")
    args = parser().parse_args(shlex.split(found.group(1))[1:])
    folder = os.path.dirname(path)
    args.targets = [os.path.join(folder, t) if not os.path.isabs(t) else t for t in args.targets]
    fresh, _ = written(request_of(args), path)
    if fresh == current:
        return False
    diff = difflib.unified_diff(current.splitlines(True), fresh.splitlines(True), f"{path} (written)",
                                f"{path} (regenerated)")
    sys.stdout.writelines(diff)
    print(f"{path} is stale: regenerate it with `{found.group(1)} -o {os.path.basename(path)}` "
          f"in {folder or '.'}", file=sys.stderr)
    return True
