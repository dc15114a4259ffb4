#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Mergeable memory that never holds still: no finding.

The helper rewrites one region with a new counter in every page every millisecond or so (ksmd
never sees a checksum twice, so nothing merges, and coverage must see the content change), and
another with the same content every 50 ms (ksmd merges it and the next write copies it again:
per-mm counters lag behind, cow_ksm moves). Neither is a finding: not the invariants, which are
judged only on stable readings and after a full scan, and not coverage."""

import contextlib

import harness
import test_ksm_common as common


class KsmVolatile(harness.AuditTestCase):
    def test_no_finding(self):
        with contextlib.ExitStack() as stack:
            stack.enter_context(common.ksm_lock())
            stack.enter_context(common.KsmSession())
            h = stack.enter_context(common.Helper("volatile", 4))
            volatile, rewrite = h.truth["regions"]
            self.assertTrue(common.wait_full_scans(3), "ksmd did not complete 3 full scans")

            for _ in range(2):
                result, doc = common.ksm("--pid", h.pid, "--coverage", "--wait", "30")
                where = common.describe(result, doc)
                self.assertIn(result.rc, (harness.EXIT_CONSISTENT, harness.EXIT_INCONCLUSIVE), where)
                self.assertEqual(doc["findings"], [], where)
                for inv in common.invariants(doc, pid=h.pid):
                    self.assertNotEqual(inv["verdict"], "violated", f"{inv['name']}\n{where}")
                v = common.coverage_vma(doc, volatile["start"])
                self.assertIsNotNone(v, where)
                # every page changed between the readings: none is a candidate
                self.assertEqual(v["candidates"], 0, where)
                self.assertEqual(v["changed"], v["hashed"], where)
                self.assertGreater(v["hashed"], 0, where)
                self.assertIn(v["verdict"], ("complete", "not-judged"), where)
                v = common.coverage_vma(doc, rewrite["start"])
                self.assertIsNotNone(v, where)
                self.assertNotEqual(v["verdict"], "unmerged", where)

            result, doc = common.ksm()
            where = common.describe(result, doc)
            self.assertIn(result.rc, (harness.EXIT_CONSISTENT, harness.EXIT_INCONCLUSIVE), where)
            self.assertEqual(doc["findings"], [], where)


if __name__ == "__main__":
    harness.main()
