#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Anonymous pages pushed out to swap (zram, set up for the test and removed after it when the
machine has no swap): pagemap's swap entries give smaps Swap exactly, SwapPss as a range, and
status VmSwap; the present half stays Rss. Both tiers."""

import contextlib

import harness
import knobs


class Swap(harness.AuditTestCase):
    def test_swapped_out_half(self):
        with contextlib.ExitStack() as stack:
            swap = stack.enter_context(knobs.Swap())
            if not swap.active:
                self.skipTest("no swap and no zram0 to make one")
            w = self.start(stack, "swap")
            (region,) = w.truth["regions"]
            self.assertGreater(region["expect"]["Swap"], 0)
            # every page was written: each one is either present or swapped out
            self.assertEqual(region["expect"]["Rss"] + region["expect"]["Swap"], region["pages"] * 4, region)
            for tier in ((), ("--fast",)):
                with self.subTest(tier=tier or "full"):
                    result = harness.check(w.pid, *tier)
                    report = self.assertConsistent(result, w.pid)
                    vma = self.assertRegion(report, region)
                    self.assertEqual(vma["walk"]["swap_pages"] * 4, region["expect"]["Swap"], vma["walk"])
                    swap_pss = vma["fields"]["SwapPss"]
                    self.assertLessEqual(swap_pss.get("walk_lo_kb", swap_pss["walk_kb"]), swap_pss["kernel_kb"])
                    self.assertGreaterEqual(swap_pss.get("walk_hi_kb", swap_pss["walk_kb"]), swap_pss["kernel_kb"])
                    vmswap = report["totals"]["VmSwap"]
                    self.assertEqual(vmswap["status_kb"], w.truth["expect_status"]["VmSwap"], vmswap)
                    self.assertEqual(vmswap["walk_kb"], vmswap["status_kb"], vmswap)


if __name__ == "__main__":
    harness.main()
