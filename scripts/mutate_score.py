"""Print the mutation score of one staged module from mutmut 3's results file.

Usage: python scripts/mutate_score.py STAGE_DIR STAGED_MODULE_PATH [--diffs | --names]

Killed counts mutants a test failed on (and timeouts: the mutant made a test hang);
everything else that ran or had no test (survived, no tests, suspicious) counts against the
score. ``--diffs`` prints each survivor's diff (``mutmut show``); ``--names`` prints only
the names of the mutants not killed.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

KILLED = {1, 3, 36, 24, -24, 152, 255, 37}
LABEL = {0: "survived", 33: "no tests", 5: "no tests", None: "not checked", 34: "skipped"}


def main(argv: list[str]) -> int:
    stage, module, *flags = argv
    meta = Path(stage) / "mutants" / (module + ".meta")
    codes: dict[str, int | None] = json.loads(meta.read_text())["exit_code_by_key"]
    if "--names" in flags:  # the mutants left alive, for ``mutmut run NAME ...``
        print(" ".join(sorted(name for name, code in codes.items() if code not in KILLED)))
        return 0
    counts = Counter("killed" if c in KILLED else LABEL.get(c, f"exit {c}") for c in codes.values())
    total = len(codes)
    killed = counts["killed"]
    score = 100.0 * killed / total if total else 0.0
    print(f"{module}: {total} mutants, {killed} killed, {total - killed} not killed "
          f"({dict(counts)}), score {score:.1f}%")
    mutmut = str(Path(sys.executable).with_name("mutmut"))
    for name, code in sorted(codes.items()):
        if code in KILLED:
            continue
        print(f"  {LABEL.get(code, code)}: {name}")
        if "--diffs" in flags:
            diff = subprocess.run([mutmut, "show", name], cwd=stage, capture_output=True, text=True)
            print("\n".join("      " + line for line in diff.stdout.splitlines()[1:]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
