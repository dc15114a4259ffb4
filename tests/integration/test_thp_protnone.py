#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A THP region whose second half is PROT_NONE: the case 6.1–6.4 dropped from smaps.

On this kernel smaps is right, so the walk, the kernel and the truth must all agree."""

import contextlib

import harness
import knobs


class ThpProtNone(harness.AuditTestCase):
    def test_walk_matches_truth(self):
        with contextlib.ExitStack() as stack:
            stack.enter_context(knobs.thp_madvise())
            w = self.start(stack, "thp-protnone")
            rw, none = w.truth["regions"]
            result = harness.check(w.pid)
            report = self.assertConsistent(result, w.pid)

            vma = self.assertRegion(report, none, tags=("prot_none", "thp"))
            self.assertEqual(vma["verdict"], "consistent")
            self.assertWalkCounts(vma, none, present_pages=none["pages"],
                                  pmd_thps=none["pages"] // 512)

            vma = self.assertRegion(report, rw, tags=("thp",), not_tags=("prot_none",))
            self.assertEqual(vma["verdict"], "consistent")
            self.assertWalkCounts(vma, rw, present_pages=rw["pages"], pmd_thps=rw["pages"] // 512)


if __name__ == "__main__":
    harness.main()
