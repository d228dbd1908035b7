#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Count real results: each TAP line of the unit-test binaries (from meson's
testlog.json), each pytest case (JUnit XML) and each TAP line of the lanes
that report TAP files (the device-mapper guest).  A binary that crashed or a
report that is missing counts as a failure, never as nothing.  Prints
"N passed, N failed[, N skipped]" last and exits 1 on any failure."""
import json
import re
import sys
import xml.etree.ElementTree as ET

passed = failed = skipped = 0
problems = []


def count_meson(path):
    global passed, failed, skipped
    try:
        entries = [json.loads(line) for line in open(path) if line.strip()]
    except OSError as e:
        problems.append(f"no unit-test log: {e}")
        failed += 1
        return
    lane = "asan " if "asan" in path else ""
    for t in entries:
        ok = nok = skip = 0
        for line in (t.get("stdout") or "").splitlines():
            if re.match(r"^ok \d+.*# SKIP", line):
                skip += 1
            elif re.match(r"^ok \d+", line):
                ok += 1
            elif re.match(r"^not ok \d+", line):
                nok += 1
                problems.append(f"{lane}unit {t['name']}: {line}")
        if t.get("result") not in ("OK", "SKIP", "EXPECTEDFAIL") and nok == 0:
            nok = 1         # crashed or bailed out before reporting
            problems.append(f"{lane}unit {t['name']}: {t.get('result')}")
        passed += ok
        failed += nok
        skipped += skip


def count_junit(path):
    global passed, failed, skipped
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError) as e:
        problems.append(f"no API-test report: {e}")
        failed += 1
        return
    for case in root.iter("testcase"):
        if case.find("failure") is not None or case.find("error") is not None:
            failed += 1
            problems.append(f"{path}: {case.get('classname')}.{case.get('name')}")
        elif case.find("skipped") is not None:
            skipped += 1
        else:
            passed += 1


def count_tap(path):
    global passed, failed, skipped
    try:
        lines = open(path).read().splitlines()
    except OSError as e:
        problems.append(f"no report from {path}: {e}")
        failed += 1
        return
    plan = ok = nok = 0
    for line in lines:
        m = re.match(r"^1\.\.(\d+)", line)
        if m:
            plan = int(m.group(1))
        elif re.match(r"^ok \d+.*# SKIP", line):
            skipped += 1
            ok += 1
        elif re.match(r"^ok \d+", line):
            passed += 1
            ok += 1
        elif re.match(r"^not ok \d+", line):
            failed += 1
            nok += 1
            problems.append(f"{path}: {line}")
    missing = plan - ok - nok
    if missing > 0 or plan == 0:
        failed += max(missing, 1)
        problems.append(f"{path}: {max(missing, 1)} planned tests did not report"
                        + (f" ({[l for l in lines if l.startswith('Bail out')][0]})" if any(l.startswith("Bail out") for l in lines) else ""))


# Each report by its kind: meson's testlog (.json), JUnit (.xml), TAP (.tap).
for report in sys.argv[1:]:
    if report.endswith(".json"):
        count_meson(report)
    elif report.endswith(".xml"):
        count_junit(report)
    else:
        count_tap(report)
for p in problems:
    print("FAILED:", p)
line = f"{passed} passed, {failed} failed"
if skipped:
    line += f", {skipped} skipped"
print(line)
sys.exit(1 if failed or passed == 0 else 0)
