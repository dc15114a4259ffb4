#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A heap that never holds still is judged, and consistent on a correct kernel (issue 12).

One MADV_HUGEPAGE VMA: its first half THPs, NUMA-hinted while two threads spin with
numa_balancing=1 and then left alone; its second half faulted into page by page and dropped
4-64 KiB at a time by the main thread, without end. The VMA differs between any two reads, so
"held still" never decides it; the event budget does (docs/report.md): in a pass without THP
events its core fields agree within what the target's faults could move. Every audit is
consistent, with the VMA decided."""

import collections
import contextlib

import harness
import knobs

AUDITS = 30
SPIN_SECONDS = 12


class BusyHeap(harness.AuditTestCase):
    def test_consistent(self):
        verdicts = collections.Counter()
        failures = []
        with contextlib.ExitStack() as stack:
            stack.enter_context(knobs.thp_madvise())
            stack.enter_context(knobs.numa_balancing(1))
            w = self.start(stack, "busy-heap", "--seconds", SPIN_SECONDS, ready_timeout=SPIN_SECONDS + 30)
            (region,) = w.truth["regions"]
            for run in range(AUDITS):
                result = harness.check(w.pid)
                what = f"audit {run + 1}/{AUDITS}\n{result.describe()}"
                self.assertIsNotNone(result.report, what)
                self.assertEqual(result.report.get("findings", []), [], what)
                verdicts[result.report["verdict"]] += 1
                vma = harness.find_vma(result.report, region["start"])
                if result.rc != harness.EXIT_CONSISTENT or not vma or vma.get("verdict") != "consistent":
                    failures.append(what)
            self.assertIsNone(w.proc.poll(), "the workload died under audit")
        print(f"verdicts over {AUDITS} audits: {dict(verdicts)}")
        self.assertEqual(failures, [], f"{len(failures)} audits not consistent on the heap:\n" +
                         "\n".join(failures[:2]))


if __name__ == "__main__":
    harness.main()
