#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Audits while the kernel keeps changing things: NUMA balancing scanning a busy multi-threaded
process, and ksmd scanning merged pages. Every run must say consistent: background kernel
activity is noise, never a finding.

"Inconclusive" (exit 3) means "too much churn to decide, ask again", and now and then a pass
does see something move (measured here: about 1 audit in 150 with ksmd restructuring its
stable tree or other processes changing a shared library's Pss). So a run that ends
inconclusive is asked once more, and that second answer must be consistent. A finding or
trouble fails at once."""

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

            retried = []
            for run in range(RUNS):
                for w in (numa, ksm):
                    context = f"run {run + 1}/{RUNS}, {w.truth['shape']}: "
                    result = harness.check(w.pid)
                    if result.rc == harness.EXIT_INCONCLUSIVE:
                        self.assertEqual(result.report.get("findings", []), [], result.describe())
                        retried.append(context + "; ".join(result.report.get("notes", [])))
                        result = harness.check(w.pid)
                    report = self.assertCheck(result)
                    self.assertEqual(report.get("findings", []), [], context + result.describe())
                    for region in w.truth["regions"]:
                        # None of the expected fields moves while ksmd merges or NUMA hints.
                        self.assertRegion(report, region, context=context)
                time.sleep(0.2)
            if retried:
                print("asked again after inconclusive:\n  " + "\n  ".join(retried))


if __name__ == "__main__":
    harness.main()
