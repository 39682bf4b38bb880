#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Judge one QEMU run of the kprim test pipeline.

ktap-report.py --results results.log --console console.log --out DIR
               [--kunit-py PATH] [--expect-module NAME ...] [--label LABEL]

* results.log is the guest's protocol channel (second serial port): lines
  "KPRIM ok|fail ...", "KPRIM module-begin|module-end NAME", "KPRIM done",
  and per-suite KTAP documents framed by "KPRIM ktap-begin|ktap-end SUITE".
* Every KTAP document is parsed with the kernel's own parser
  (tools/testing/kunit/kunit.py parse --json); its summary is shown and the
  leaf test results are counted from its JSON.
* console.log (the kernel console) is scanned for kernel complaints.  Any is
  a failure, except a plain WARN() splat ("WARNING: CPU: n PID: n at ...")
  raised inside a KUnit case whose name contains "_warns": such a case
  provokes the warning on purpose.
* Each expected test module must have produced at least one suite, and the
  guest must have reached "KPRIM done" (no crash, no timeout).

Prints the findings and a last line "COUNTS <passed> <failed> <skipped>".
"""

import argparse
import json
import os
import re
import subprocess
import sys

SPLAT = re.compile(
    r"(WARNING:|BUG:|Oops|Kernel panic|KASAN:|UBSAN:|general protection fault|"
    r"sleeping function called from invalid context|refcount_t:|"
    r"rcu: INFO:|rcu_sched self-detected stall|detected stall|soft lockup|"
    r"hard LOCKUP|hung_task|INFO: task .* blocked|possible circular locking|"
    r"possible recursive locking|inconsistent lock state|suspicious RCU usage|"
    r"lock held when returning to user space|list_add corruption|"
    r"list_del corruption|unreferenced object|Call Trace:)")
PLAIN_WARN = re.compile(r"WARNING: CPU: \d+ PID: \d+ at ")
RESULT = re.compile(r"^(\s*)(ok|not ok) \d+ (\S+)")
SUBTEST = re.compile(r"^\s*# Subtest: ")


def scan_console(path):
    """Return a list of (line, reason) complaints not whitelisted."""
    bad = []
    pending = []          # splat lines since the last test result
    in_warn = False       # inside a whitelistable WARN() block
    with open(path, errors="replace") as f:
        lines = [l.rstrip("\r\n") for l in f]
    for line in lines:
        m = RESULT.match(line)
        if m and len(m.group(1)) <= 4:
            name = m.group(3)
            for l, plain in pending:
                if not (plain and "_warns" in name):
                    bad.append(l)
            pending = []
            in_warn = False
            continue
        if SUBTEST.match(line):
            bad.extend(l for l, _ in pending)
            pending = []
            continue
        if "---[ end trace" in line:
            in_warn = False
            continue
        if SPLAT.search(line):
            if "Call Trace:" in line:
                # A backtrace inside a plain WARN block belongs to it.
                pending.append((line, in_warn))
            else:
                in_warn = bool(PLAIN_WARN.search(line))
                pending.append((line, in_warn))
    bad.extend(l for l, _ in pending)
    return bad, lines


def count_leaves(group):
    p = f = s = 0
    for tc in group.get("test_cases", []):
        st = tc.get("status")
        if st == "PASS":
            p += 1
        elif st == "SKIP":
            s += 1
        else:
            f += 1
    for sub in group.get("sub_groups", []):
        a, b, c = count_leaves(sub)
        p, f, s = p + a, f + b, s + c
    return p, f, s


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--results", required=True)
    ap.add_argument("--console", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--kunit-py")
    ap.add_argument("--expect-module", action="append", default=[])
    ap.add_argument("--label", default="guest")
    a = ap.parse_args()

    passed = failed = skipped = 0
    suites = {}          # suite -> ktap lines
    module_suites = {}   # module -> [suite]
    done = False
    cur_mod = None
    cur_suite = None
    with open(a.results, errors="replace") as f:
        for raw in f:
            line = raw.rstrip("\r\n")
            if cur_suite is not None:
                if line == "KPRIM ktap-end " + cur_suite:
                    cur_suite = None
                else:
                    suites[cur_suite].append(line)
                continue
            if not line.startswith("KPRIM "):
                continue
            words = line.split()
            ev = words[1] if len(words) > 1 else ""
            if ev == "ktap-begin":
                cur_suite = words[2]
                suites[cur_suite] = []
                module_suites.setdefault(cur_mod, []).append(cur_suite)
            elif ev == "module-begin":
                cur_mod = words[2]
                module_suites.setdefault(cur_mod, [])
            elif ev == "ok":
                passed += 1
                print(f"  ok    {a.label}: {' '.join(words[2:])}")
            elif ev == "fail":
                failed += 1
                print(f"  FAIL  {a.label}: {' '.join(words[2:])}")
            elif ev == "done":
                done = True

    for suite, ktap in suites.items():
        path = os.path.abspath(os.path.join(a.out, f"ktap-{suite}.log"))
        jpath = path[:-4] + ".json"
        with open(path, "w") as f:
            f.write("\n".join(ktap) + "\n")
        proc = subprocess.run(
            [sys.executable, a.kunit_py, "parse", "--json=" + jpath, path],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        summary = [l for l in proc.stdout.splitlines()
                   if re.search(r"\[(FAILED|CRASHED|SKIPPED)\]|Testing complete|"
                                r"^\s*#|Expected|ASSERTION|EXPECTATION|"
                                r"not ok|Ran \d+", l)]
        try:
            with open(jpath) as f:
                p, fl, s = count_leaves(json.load(f))
        except (OSError, ValueError):
            p, fl, s = 0, 1, 0
        if p + fl + s == 0:
            fl = 1
            summary.append("no test results in this suite")
        if proc.returncode != 0 and fl == 0:
            fl = 1
        passed, failed, skipped = passed + p, failed + fl, skipped + s
        state = "ok  " if fl == 0 else "FAIL"
        done_line = [l for l in proc.stdout.splitlines() if "Testing complete" in l]
        kunit_says = re.sub(r"^\[[0-9:]+\] ", "", done_line[-1]) if done_line else "no summary"
        print(f"  {state}  suite {suite}: {p} passed, {fl} failed, {s} skipped"
              f"  (kunit.py: {kunit_says})")
        if fl:
            for l in summary:
                print("        " + l)

    for mod in a.expect_module:
        if not module_suites.get(mod):
            failed += 1
            print(f"  FAIL  {a.label}: test module {mod} produced no KUnit suite")

    if not done:
        failed += 1
        print(f"  FAIL  {a.label}: guest did not finish (crash or timeout); "
              f"console tail:")
        with open(a.console, errors="replace") as f:
            for l in f.readlines()[-40:]:
                print("        " + l.rstrip())

    bad, _ = scan_console(a.console)
    if bad:
        failed += 1
        print(f"  FAIL  {a.label}: kernel complaints on the console "
              f"({len(bad)} lines):")
        for l in bad[:60]:
            print("        " + l)
    else:
        passed += 1
        print(f"  ok    {a.label}: kernel console clean (no splats)")

    print(f"COUNTS {passed} {failed} {skipped}")


if __name__ == "__main__":
    main()
