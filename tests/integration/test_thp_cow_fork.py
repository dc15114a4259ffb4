#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""THPs shared copy-on-write after fork(), one page of the first copied by the child.

The parent's first THP stays PMD-mapped while its pages stop sharing one mapcount (511 at 2,
one at 1): the walk joins a PMD-mapped THP as one entry and must still sum Pss page by page
where the kernel keeps per-page mapcounts. The child maps the same folio through PTEs."""

import contextlib

import harness


class ThpCowFork(harness.AuditTestCase):
    def test_parent_and_child(self):
        with contextlib.ExitStack() as stack:
            w = self.start(stack, "thp-cow-fork")
            (region,) = w.truth["regions"]
            child = w.truth["child_pid"]

            report = self.assertConsistent(harness.check(w.pid), w.pid)
            precise = report["mode"]["mapcount"] == "precise"
            expect = dict(region["expect"])
            if not precise:
                # CONFIG_NO_PAGE_MAPCOUNT: Pss is the folio's average mapcount, no per-page truth
                del expect["Pss"]
            vma = self.assertRegion(report, region, expect=expect, tags=("thp",))

            child_expect = dict(w.truth["child_expect"])
            if not precise:
                del child_expect["Pss"]
            report = self.assertConsistent(harness.check(child), child)
            self.assertRegion(report, region, expect=child_expect, context="child: ")
            self.assertGreater(vma["fields"]["Shared_Dirty"]["kernel_kb"] +
                               vma["fields"]["Shared_Clean"]["kernel_kb"], 0,
                               "parent: the THPs are shared with the child")


if __name__ == "__main__":
    harness.main()
