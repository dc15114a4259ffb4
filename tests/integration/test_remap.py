#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A range mapped again and again with another shape is no finding (issue 17.1).

The workload maps the same 2 MiB-aligned range every ~150 us, a THP one time and two 4 KiB pages
the next. The two smaps reads around a walk can match (two iterations of the same shape) while
the walk between them saw the other shape: only the events of that window (the THP fault that
made the shape come back) tell that the difference is churn. Audited without --freeze, every
audit is consistent or inconclusive, never a finding."""

import collections
import contextlib

import harness

AUDITS = 300
AUDITS_FROZEN = 100


class Remap(harness.AuditTestCase):
    def test_no_finding(self):
        verdicts = collections.Counter()
        with contextlib.ExitStack() as stack:
            w = self.start(stack, "remap")
            for run in range(AUDITS):
                result = harness.check(w.pid)
                what = f"audit {run + 1}/{AUDITS}\n{result.describe()}"
                self.assertIsNotNone(result.report, what)
                self.assertEqual(result.report.get("findings", []), [], what)
                self.assertIn(result.rc, (harness.EXIT_CONSISTENT, harness.EXIT_INCONCLUSIVE), what)
                verdicts[result.report["verdict"]] += 1
            self.assertIsNone(w.proc.poll(), "the workload died under audit")
        print(f"verdicts over {AUDITS} audits: {dict(verdicts)}")

    def test_freeze_auto(self):
        """--freeze=auto stops the target briefly to settle what churn left undecided: no finding,
        and nearly every audit decided (the stop is noted)."""
        verdicts = collections.Counter()
        with contextlib.ExitStack() as stack:
            w = self.start(stack, "remap")
            for run in range(AUDITS_FROZEN):
                result = harness.check(w.pid, "--freeze=auto")
                what = f"audit {run + 1}/{AUDITS_FROZEN}\n{result.describe()}"
                self.assertIsNotNone(result.report, what)
                self.assertEqual(result.report.get("findings", []), [], what)
                self.assertIn(result.rc, (harness.EXIT_CONSISTENT, harness.EXIT_INCONCLUSIVE), what)
                self.assertFalse(result.report["mode"]["frozen"], what)
                verdicts[result.report["verdict"]] += 1
            self.assertIsNone(w.proc.poll(), "the workload died under audit")
        print(f"verdicts over {AUDITS_FROZEN} audits with --freeze=auto: {dict(verdicts)}")
        self.assertLessEqual(verdicts["inconclusive"], AUDITS_FROZEN // 20, dict(verdicts))


if __name__ == "__main__":
    harness.main()
