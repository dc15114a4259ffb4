#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A forked child of a merged process, forked while ksmd is paused.

On this kernel (4d6fc29f3634 is in 6.18) the child maps its parent's KSM pages with 0 merging
pages and 0 rmap_items of its own: no finding. The global sum of kpagecount over the KSM frames
then exceeds pages_shared + pages_sharing by the child's mappings, which ksmd has not visited
yet: "lag", not a finding. Once ksmd runs again and has scanned the child, everything holds."""

import contextlib

import harness
import test_ksm_common as common


class KsmFork(harness.AuditTestCase):
    def test_child_of_merged_process(self):
        with contextlib.ExitStack() as stack:
            stack.enter_context(common.ksm_lock())
            session, h, total, child = common.merged_fork(self, stack)
            stat = common.ksm_stat(child)
            self.assertEqual(stat["ksm_merging_pages"], 0, stat)
            self.assertEqual(stat["ksm_rmap_items"], 0, stat)

            # the child: its parent's KSM pages mapped, none merged by it; all holds
            result, doc = common.ksm("--pid", child)
            where = common.describe(result, doc)
            self.assertEqual(result.rc, harness.EXIT_CONSISTENT, where)
            self.assertEqual(doc["findings"], [], where)
            self.assertFalse(doc["ksmd"]["running"], where)
            mapped = common.invariant(doc, "merging_le_mapped", pid=child)
            self.assertEqual((mapped["kernel"], mapped["walk"], mapped["verdict"]), (0, total, "holds"), where)
            for inv in common.invariants(doc, pid=child):
                self.assertEqual(inv["verdict"], "holds", f"{inv['name']}\n{where}")
            self.assertEqual(common.process(doc, child)["walk"]["unscanned_ksm_pages"], total, where)

            # the parent is untouched by its child
            result, doc = common.ksm("--pid", h.pid)
            where = common.describe(result, doc)
            self.assertEqual(result.rc, harness.EXIT_CONSISTENT, where)
            for inv in common.invariants(doc, pid=h.pid):
                self.assertEqual(inv["verdict"], "holds", f"{inv['name']}\n{where}")

            # globally: the sums hold; the child's unscanned mappings are lag
            result, doc = common.ksm()
            where = common.describe(result, doc)
            self.assertNotEqual(result.rc, harness.EXIT_DISCREPANCY, where)
            self.assertEqual(doc["findings"], [], where)
            self.assertEqual(common.invariant(doc, "sum_merging_pages")["verdict"], "holds", where)
            self.assertEqual(common.invariant(doc, "general_profit")["verdict"], "holds", where)
            mappings = common.invariant(doc, "ksm_mappings")
            self.assertEqual(mappings["verdict"], "lag", where)
            self.assertGreater(mappings["walk"], mappings["kernel"], where)
            # (a neighbour's stale rmap_items may offset a few of them)
            self.assertGreaterEqual(doc["global"]["unscanned_ksm_pages"], total, where)

            # ksmd visits the child: its rmap_items join the stable tree, and everything holds
            session.resume()
            self.assertTrue(common.wait_full_scans(2), "ksmd did not complete 2 full scans")
            stat = common.ksm_stat(child)
            self.assertEqual(stat["ksm_merging_pages"], total, stat)
            result, doc = common.ksm("--pid", child)
            where = common.describe(result, doc)
            self.assertEqual(result.rc, harness.EXIT_CONSISTENT, where)
            for inv in common.invariants(doc, pid=child):
                self.assertEqual(inv["verdict"], "holds", f"{inv['name']}\n{where}")
            result, doc = common.ksm()
            where = common.describe(result, doc)
            self.assertNotEqual(result.rc, harness.EXIT_DISCREPANCY, where)
            self.assertEqual(doc["findings"], [], where)


if __name__ == "__main__":
    harness.main()
