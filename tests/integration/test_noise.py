#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Audits while the kernel keeps changing things: NUMA balancing scanning a busy multi-threaded
process, and ksmd scanning merged pages. Every run must say consistent: background kernel
activity is noise, never a finding."""

import contextlib
import time

import harness
import knobs

RUNS = 5
SPIN_SECONDS = 12
MERGE_TIMEOUT = 20


class Noise(harness.AuditTestCase):
    def test_consistent_run_after_run(self):
        with contextlib.ExitStack() as stack:
            stack.enter_context(knobs.thp_madvise())
            stack.enter_context(knobs.numa_balancing(1))
            stack.enter_context(knobs.ksm_running())
            # The spinners keep running through the audits (--keep-busy): the NUMA scanner
            # keeps going while we audit.
            numa = self.start(stack, "numa-thp", "--seconds", SPIN_SECONDS, "--keep-busy",
                              ready_timeout=SPIN_SECONDS + 30)
            ksm = self.start(stack, "ksm")
            self.assertTrue(knobs.wait_ksm_full_scans(2, MERGE_TIMEOUT),
                            "ksmd did not complete 2 full scans")

            for run in range(RUNS):
                for w in (numa, ksm):
                    result = harness.check(w.pid)
                    context = f"run {run + 1}/{RUNS}, {w.truth['shape']}: "
                    report = self.assertCheck(result)
                    self.assertEqual(report.get("findings", []), [], context + result.describe())
                    for region in w.truth["regions"]:
                        # None of the expected fields moves while ksmd merges or NUMA hints.
                        self.assertRegion(report, region, context=context)
                time.sleep(0.2)


if __name__ == "__main__":
    harness.main()
