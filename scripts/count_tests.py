#!/usr/bin/env python3
"""Counts test cases in a meson testlog.json: TAP tests count each
'ok'/'not ok' line (a TAP test that crashed before its plan ended counts
the missing cases as failed); other tests count as one case. Appends
'<name>: N passed, M failed' to $RAFTKV_COUNT_FILE and prints it."""
import json
import os
import re
import sys

path, name = sys.argv[1], sys.argv[2]
passed = failed = 0
try:
    lines = open(path, encoding="utf-8", errors="replace").read().splitlines()
except OSError:
    lines = []
for line in lines:
    if not line.strip():
        continue
    t = json.loads(line)
    out = t.get("stdout") or ""
    result = t.get("result", "")
    if re.search(r"^1\.\.\d+", out, re.M) or re.search(r"^(not )?ok\b", out, re.M):
        # Criterion writes "ok - name", others "ok 3 - name".
        ok = len(re.findall(r"^ok\b", out, re.M))
        bad = len(re.findall(r"^not ok\b", out, re.M))
        plan = re.search(r"^1\.\.(\d+)", out, re.M)
        missing = max(0, int(plan.group(1)) - ok - bad) if plan else 0
        if ok + bad == 0 and result not in ("OK", "EXPECTEDFAIL", "SKIP"):
            bad = 1  # crashed or timed out before reporting anything
        if result not in ("OK", "EXPECTEDFAIL", "SKIP") and bad == 0 and missing == 0:
            bad = 1  # nonzero exit with all cases ok: count the binary
        passed += ok
        failed += bad + missing
    else:
        if result in ("OK", "EXPECTEDFAIL"):
            passed += 1
        elif result != "SKIP":
            failed += 1
line = f"{name}: {passed} passed, {failed} failed"
print(line)
cf = os.environ.get("RAFTKV_COUNT_FILE")
if cf:
    with open(cf, "a") as f:
        f.write(line + "\n")
