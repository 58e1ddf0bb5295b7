#!/usr/bin/env python3
"""Counts test results from meson's testlog.json: "PASSED FAILED".

A cmocka executable counts its cases (from its summary lines); any other
test (a script, a crashed binary without a summary) counts as one. A failed
executable whose cmocka summary shows no failed case (it crashed, or leaked
under ASan after the summary) counts one failure more."""
import json
import re
import sys

passed = failed = 0
with open(sys.argv[1]) as log:
    for line in log:
        t = json.loads(line)
        out = (t.get("stdout") or "") + "\n" + (t.get("stderr") or "")
        ok = t.get("result") in ("OK", "EXPECTEDFAIL", "SKIP")
        p = sum(int(n) for n in re.findall(r"^\[  PASSED  \] (\d+) test", out, re.M))
        f = sum(int(n) for n in re.findall(r"^\[  FAILED  \] (\d+) test", out, re.M))
        if p or f:
            passed += p
            failed += f
            if not ok and f == 0:
                failed += 1
        elif t.get("result") == "SKIP":
            continue
        elif ok:
            passed += 1
        else:
            failed += 1
print(passed, failed)
