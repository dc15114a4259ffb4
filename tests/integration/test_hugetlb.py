#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Two 2 MiB hugetlb pages: never in Rss, only in Private_Hugetlb."""

import contextlib

import harness
import knobs


class Hugetlb(harness.AuditTestCase):
    def test_private_hugetlb(self):
        with contextlib.ExitStack() as stack:
            pool = stack.enter_context(knobs.HugePages(2))
            if pool.free_pages() < 2:
                self.skipTest(f"could not reserve 2 hugetlb pages (free: {pool.free_pages()})")
            w = self.start(stack, "hugetlb")
            (region,) = w.truth["regions"]
            report = self.assertConsistent(harness.check(w.pid), w.pid)
            self.assertRegion(report, region, tags=("hugetlb",), not_tags=("thp",))


if __name__ == "__main__":
    harness.main()
