#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A process that exits while it is being audited: exit 2 saying it exited, or 0 if the audit
finished first; never a crash, a hang or a finding."""

import contextlib
import re
import subprocess
import time

import harness

ROUNDS = 10
# What "the process went away" may be called: it can be gone (or a zombie, exited but not yet
# reaped) before the audit opened anything.
GONE = re.compile(r"exit|no such process|zombie", re.IGNORECASE)


def audit_in_background(pid):
    argv = [harness._env_path("SMAPSAUDIT"), "check", "--local", "--json", str(pid)]
    return argv, subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)


class ExitMidAudit(harness.AuditTestCase):
    def baseline_seconds(self):
        with contextlib.ExitStack() as stack:
            w = self.start(stack, "protnone-4k", "--size-mb", 256)
            result = harness.check(w.pid)
            self.assertCheck(result)
            return result.elapsed

    def test_killed_while_auditing(self):
        full = self.baseline_seconds()
        outcomes = []
        for i in range(ROUNDS):
            delay = full * i / ROUNDS
            with contextlib.ExitStack() as stack:
                w = self.start(stack, "protnone-4k", "--size-mb", 256)
                argv, tool = audit_in_background(w.pid)
                started = time.monotonic()
                try:
                    time.sleep(delay)
                    w.kill()
                    out, err = tool.communicate(timeout=60)
                finally:
                    if tool.poll() is None:
                        tool.kill()
                        tool.wait()
                result = harness.CheckResult(argv, subprocess.CompletedProcess(
                    argv, tool.returncode, out, err), time.monotonic() - started)
                what = (f"round {i}: killed the workload {delay * 1000:.1f} ms into a "
                        f"{full * 1000:.1f} ms audit\n{result.describe()}")
                self.assertGreaterEqual(tool.returncode, 0, f"crashed\n{what}")
                self.assertIn(tool.returncode, (harness.EXIT_CONSISTENT, harness.EXIT_TROUBLE), what)
                if tool.returncode == harness.EXIT_TROUBLE:
                    message = err + " ".join(r.get("error", "") for r in result.reports)
                    self.assertRegex(message, GONE, what)
                    for r in result.reports:
                        self.assertEqual(r.get("findings", []), [], what)
                outcomes.append(tool.returncode)
        print(f"baseline audit {full * 1000:.1f} ms; exit codes by round: {outcomes}")


if __name__ == "__main__":
    harness.main()
