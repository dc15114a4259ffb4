#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Isolated pages, each a populated range of its own for PAGEMAP_SCAN, in VMAs where the walker's
vector of ranges fills up exactly on the last page, and across 2 TiB of address space (the shape
of AddressSanitizer's shadow or a sparse heap). Linux 6.18 then hands back a walk_end below ranges
it has already returned: a walker that resumed there counted 512 pages twice and reported the
kernel under-accounting by 2 MiB. Both tiers must count every page once."""

import contextlib

import harness


class Sparse(harness.AuditTestCase):
    def test_every_page_counted_once(self):
        with contextlib.ExitStack() as stack:
            w = self.start(stack, "sparse")
            regions = w.truth["regions"]
            self.assertEqual([r["name"] for r in regions], ["sparse-1024", "sparse-tib", "sparse-1500"])
            for tier in ((), ("--fast",), ("--no-scan",)):
                if tier == ("--no-scan",):
                    # pagemap read page by page: 2 TiB is half a billion entries (seconds per pass)
                    regions = [r for r in regions if r["name"] != "sparse-tib"]
                result = harness.check(w.pid, *tier)
                report = self.assertConsistent(result, w.pid)
                for region in regions:
                    fast = tier == ("--fast",)
                    expect = {k: v for k, v in region["expect"].items() if not (fast and k == "Pss")}
                    vma = self.assertRegion(report, region, expect=expect, context=f"{tier or 'full'}: ")
                    self.assertWalkCounts(vma, region, present_pages=region["expect"]["Rss"] // 4)


if __name__ == "__main__":
    harness.main()
