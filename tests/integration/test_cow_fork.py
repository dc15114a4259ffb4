#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Anonymous pages shared copy-on-write after fork(): Pss is half of Rss in both processes."""

import contextlib

import harness


class CowFork(harness.AuditTestCase):
    def test_parent_and_child(self):
        with contextlib.ExitStack() as stack:
            w = self.start(stack, "cow-fork")
            (region,) = w.truth["regions"]
            self.assertEqual(region["expect"]["Pss"] * 2, region["expect"]["Rss"])

            report = self.assertConsistent(harness.check(w.pid), w.pid)
            self.assertRegion(report, region)

            child = w.truth["child_pid"]
            report = self.assertConsistent(harness.check(child), child)
            self.assertRegion(report, region, expect=w.truth["child_expect"], context="child: ")


if __name__ == "__main__":
    harness.main()
