#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A THP region in an accessible VMA that NUMA balancing has made protnone (hint faults).

The workload's threads spin until /proc/vmstat numa_huge_pte_updates rises, then park, so the
hinted PMDs stay protnone while the audit runs."""

import contextlib

import harness
import knobs

SPIN_SECONDS = 12       # the workload gives up waiting for the scanner after this


class NumaThp(harness.AuditTestCase):
    def test_hinted_thp_accounted(self):
        with contextlib.ExitStack() as stack:
            stack.enter_context(knobs.thp_madvise())
            stack.enter_context(knobs.numa_balancing(1))
            w = self.start(stack, "numa-thp", "--seconds", SPIN_SECONDS, ready_timeout=SPIN_SECONDS + 30)
            t = w.truth
            rose = t["numa_huge_pte_updates_after"] - t["numa_huge_pte_updates_before"]
            if rose < 1:
                self.skipTest(f"NUMA balancing made no huge PMD protnone in {t['spun_ms']} ms "
                              f"(numa_huge_pte_updates stayed {t['numa_huge_pte_updates_after']}): "
                              "nothing hinted to audit")
            (region,) = t["regions"]
            report = self.assertConsistent(harness.check(w.pid), w.pid)
            tags = ["thp"]
            if t["numa_scan_seq"] > 0:
                tags.append("numa_hinted")
            vma = self.assertRegion(report, region, tags=tags, not_tags=("prot_none",))
            self.assertWalkCounts(vma, region, present_pages=region["pages"],
                                  pmd_thps=region["pages"] // 512)


if __name__ == "__main__":
    harness.main()
