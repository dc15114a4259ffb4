#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A written memfd (shmem) mapped MAP_SHARED: Rss but no Anonymous, and status RssShmem."""

import contextlib

import harness


class Memfd(harness.AuditTestCase):
    def test_shmem(self):
        with contextlib.ExitStack() as stack:
            w = self.start(stack, "memfd")
            (region,) = w.truth["regions"]
            result = harness.check(w.pid)
            report = self.assertConsistent(result, w.pid)
            self.assertRegion(report, region, tags=("shmem",), not_tags=("thp", "prot_none"))

            # Nothing else in the workload is shmem, so the process-wide counter is the region.
            shmem = report.get("totals", {}).get("RssShmem")
            self.assertIsNotNone(shmem, f"no totals.RssShmem\n{result.describe()}")
            want = w.truth["expect_status"]["RssShmem"]
            self.assertEqual(shmem.get("status_kb"), want, f"totals.RssShmem {shmem}")
            if "walk_kb" in shmem:
                self.assertEqual(shmem["walk_kb"], want, f"totals.RssShmem {shmem}")


if __name__ == "__main__":
    harness.main()
