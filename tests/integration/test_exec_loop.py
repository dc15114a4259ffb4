#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A process that executes itself again every few milliseconds, beside two more copies doing the
same: each exec replaces the mm the audit opened pagemap on, and every copy's exec dips and
restores the mapcounts of the binary's and libc's pages without a fork or an exit anywhere.
Audits of it must never report a finding (the dips once confirmed a Pss "under-accounting" of
the binary's pages) nor say the process exited (the walker lost its mm and called that an exit):
consistent, or inconclusive when it never held still, and the exec is followed and noted."""

import contextlib

import harness

AUDITS = 15


class ExecLoop(harness.AuditTestCase):
    def test_audits_follow_the_exec(self):
        with contextlib.ExitStack() as stack:
            target = self.start(stack, "exec-loop")
            for _ in range(2):
                self.start(stack, "exec-loop")
            followed = 0
            verdicts = {}
            for tier in ((), ("--fast",), ("--no-scan",)):
                for _ in range(AUDITS):
                    result = harness.check(target.pid, *tier)
                    report = result.report
                    self.assertIsNotNone(report, result.describe())
                    self.assertEqual(report.get("pid"), target.pid, result.describe())
                    self.assertEqual(report.get("findings", []), [], result.describe())
                    self.assertIn(result.rc, (harness.EXIT_CONSISTENT, harness.EXIT_INCONCLUSIVE),
                                  result.describe())
                    self.assertIsNone(report.get("error"), result.describe())
                    followed += any("exec'ed during the audit" in n for n in report.get("notes", []))
                    verdicts[report["verdict"]] = verdicts.get(report["verdict"], 0) + 1
            print(f"verdicts over {3 * AUDITS} audits: {verdicts}; exec followed in {followed}")
            self.assertGreater(followed, 0, "no audit saw the target exec: the test proved nothing")


if __name__ == "__main__":
    harness.main()
