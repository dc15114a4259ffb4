#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A PROT_NONE region of 4 KiB pages: protnone PTEs were always counted, THP or not."""

import contextlib

import harness


class ProtNone4k(harness.AuditTestCase):
    def test_walk_matches_truth(self):
        with contextlib.ExitStack() as stack:
            w = self.start(stack, "protnone-4k")
            (region,) = w.truth["regions"]
            report = self.assertConsistent(harness.check(w.pid), w.pid)
            vma = self.assertRegion(report, region, tags=("prot_none",), not_tags=("thp",))
            self.assertWalkCounts(vma, region, present_pages=region["pages"], pmd_thps=0)


if __name__ == "__main__":
    harness.main()
