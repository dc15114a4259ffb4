#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""KSM-merged identical pages, half of them in a PROT_NONE VMA.

On this kernel (6.18) PROT_NONE mergeable pages merge too (docs/kernel-bugs.md 3), so once ksmd has merged,
every page of both VMAs is a KSM page."""

import contextlib
import time

import harness
import knobs

MERGE_TIMEOUT = 30


def ksm_merging_pages(pid):
    try:
        with open(f"/proc/{pid}/ksm_stat") as f:
            for line in f:
                if line.startswith("ksm_merging_pages"):
                    return int(line.split()[1])
    except FileNotFoundError:
        pass
    return -1


class Ksm(harness.AuditTestCase):
    def test_merged_pages(self):
        with contextlib.ExitStack() as stack:
            stack.enter_context(knobs.ksm_running())
            w = self.start(stack, "ksm")
            regions = w.truth["regions"]
            total = sum(r["pages"] for r in regions)

            deadline = time.monotonic() + MERGE_TIMEOUT
            self.assertTrue(knobs.wait_ksm_full_scans(2, MERGE_TIMEOUT),
                            "ksmd did not complete 2 full scans")
            # The kernel's own count is only a signal that merging is done; the assertions
            # below compare the walk with the truth (every page identical, so every page merges).
            while ksm_merging_pages(w.pid) < total and time.monotonic() < deadline:
                time.sleep(0.1)
            self.assertEqual(ksm_merging_pages(w.pid), total,
                             f"ksmd merged only part of {total} identical pages in {MERGE_TIMEOUT} s")

            report = self.assertConsistent(harness.check(w.pid), w.pid)
            rw, none = regions
            self.assertRegion(report, rw, expect=rw["expect_merged"],
                              tags=("ksm", "ksm_mergeable"), not_tags=("prot_none",))
            self.assertRegion(report, none, expect=none["expect_merged"],
                              tags=("ksm", "ksm_mergeable", "prot_none"))
            for region in regions:
                vma = harness.find_vma(report, region["start"])
                self.assertWalkCounts(vma, region, present_pages=region["pages"],
                                      ksm_pages=region["pages"], pmd_thps=0)


if __name__ == "__main__":
    harness.main()
