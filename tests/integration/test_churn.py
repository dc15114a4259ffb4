#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A process that maps, touches and unmaps memory all the time. Its VMAs change under the audit,
so "inconclusive" is an honest answer; a finding (a race reported as a discrepancy), trouble or
a crash is not."""

import contextlib

import harness

RUNS = 5


class Churn(harness.AuditTestCase):
    def test_no_false_findings(self):
        outcomes = []
        with contextlib.ExitStack() as stack:
            w = self.start(stack, "churn")
            for run in range(RUNS):
                result = harness.check(w.pid)
                what = f"run {run + 1}/{RUNS}\n{result.describe()}"
                self.assertGreaterEqual(result.rc, 0, f"crashed\n{what}")
                self.assertIn(result.rc, (harness.EXIT_CONSISTENT, harness.EXIT_INCONCLUSIVE), what)
                self.assertIsNotNone(result.report, what)
                self.assertIn(result.report.get("verdict"), ("consistent", "inconclusive"), what)
                self.assertEqual(result.report.get("findings", []), [], what)
                outcomes.append(result.report["verdict"])
            self.assertIsNone(w.proc.poll(), "the workload died under audit")
        print(f"verdicts: {outcomes}")


if __name__ == "__main__":
    harness.main()
