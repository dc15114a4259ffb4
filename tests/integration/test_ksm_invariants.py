#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""KSM's books on a real ksmd: the workload's identical pages, half of them PROT_NONE, merged.

After two full scans every page of both halves is a KSM page on this kernel (6.18 merges
PROT_NONE pages too). Then the per-process invariants hold (`smapsaudit ksm --pid`), the global
ones hold (`smapsaudit ksm`), merge coverage is 100 % for both halves (`--coverage`), and the
audit's own KSM part (SMAPSAUDIT_AUDIT_KSM) agrees."""

import contextlib
import time

import harness
import test_ksm_common as common

PROCESS_INVARIANTS = {"smaps_ksm", "merging_le_rmap_items", "merging_le_mapped", "zero_pages_le_mapped",
                      "process_profit"}
GLOBAL_INVARIANTS = {"sum_merging_pages", "ksm_pfns", "ksm_mappings", "sum_zero_pages", "general_profit"}


class KsmInvariants(harness.AuditTestCase):
    def setUp(self):
        super().setUp()
        stack = contextlib.ExitStack()
        self.addCleanup(stack.close)
        stack.enter_context(common.ksm_lock())
        stack.enter_context(common.KsmSession())
        self.w = self.start(stack, "ksm")
        self.regions = self.w.truth["regions"]
        self.total = sum(r["pages"] for r in self.regions)
        common.wait_merged(self, self.w.pid, self.total)

    def assertProcessHolds(self, result, doc, pid, pages):
        where = common.describe(result, doc)
        found = {i["name"]: i for i in common.invariants(doc, pid=pid)}
        self.assertEqual(set(found), PROCESS_INVARIANTS, where)
        for name, inv in found.items():
            self.assertEqual(inv["verdict"], "holds", f"{name}\n{where}")
        # both sides' numbers, and they are the truth's
        self.assertEqual(found["merging_le_mapped"]["kernel"], pages, where)
        self.assertEqual(found["merging_le_mapped"]["walk"], pages, where)
        self.assertEqual(found["smaps_ksm"]["kernel"], pages * 4, where)
        self.assertEqual(found["smaps_ksm"]["walk"], pages * 4, where)
        self.assertEqual(found["merging_le_rmap_items"]["walk"], pages, where)
        self.assertEqual(common.process(doc, pid)["walk"]["ksm_pages"], pages, where)

    def test_process(self):
        result, doc = common.ksm("--pid", self.w.pid)
        where = common.describe(result, doc)
        self.assertEqual(result.rc, harness.EXIT_CONSISTENT, where)
        self.assertEqual(doc["schema"], "smapsaudit.ksm/1", where)
        self.assertEqual(doc["verdict"], "consistent", where)
        self.assertEqual(doc["findings"], [], where)
        self.assertTrue(doc["ksmd"]["running"], where)
        self.assertProcessHolds(result, doc, self.w.pid, self.total)

    def test_global(self):
        # Every mergeable process on the machine moves the global counters (docs/ksm.md): give
        # a busy neighbour a few tries to hold still, then judge.
        for attempt in range(5):
            result, doc = common.ksm()
            where = common.describe(result, doc)
            self.assertNotEqual(result.rc, harness.EXIT_DISCREPANCY, where)
            self.assertEqual(doc["findings"], [], where)
            verdicts = {i["name"]: i["verdict"] for i in common.invariants(doc, scope="global")}
            if all(v == "holds" for v in verdicts.values()):
                break
            time.sleep(1)
        self.assertEqual(set(verdicts), GLOBAL_INVARIANTS, where)
        others = [p for p in doc["processes"] if p["pid"] != self.w.pid]
        if not all(v == "holds" for v in verdicts.values()) and others:
            # a neighbour kept merging or copying all along: nothing may be a violation, and the
            # difference must be one the rules call lag, stale or unsettled
            for name, v in verdicts.items():
                self.assertIn(v, ("holds", "lag", "stale", "inconclusive"), f"{name}\n{where}")
        else:
            for name, v in verdicts.items():
                self.assertEqual(v, "holds", f"{name}\n{where}")
        g = doc["global"]
        self.assertTrue(g["all_processes"], where)
        self.assertGreaterEqual(g["ksm_pages_mapped"], self.total, where)
        self.assertGreaterEqual(g["sum_ksm_merging_pages"], self.total, where)
        self.assertProcessHolds(result, doc, self.w.pid, self.total)

    def test_coverage(self):
        result, doc = common.ksm("--pid", self.w.pid, "--coverage", "--wait", "60")
        where = common.describe(result, doc)
        self.assertEqual(result.rc, harness.EXIT_CONSISTENT, where)
        self.assertEqual(doc["findings"], [], where)
        cov = doc["coverage"]
        self.assertTrue(cov["judged"], where)
        self.assertGreaterEqual(cov["full_scans"]["complete_between"], 2, where)
        for region in self.regions:
            v = common.coverage_vma(doc, region["start"])
            self.assertIsNotNone(v, f"no coverage entry for {region['name']}\n{where}")
            self.assertEqual(harness.hexint(v["end"]), harness.hexint(region["end"]), where)
            self.assertEqual(v["verdict"], "complete", where)
            self.assertEqual(v["candidates"], region["pages"], where)
            self.assertEqual(v["merged"], region["pages"], where)
            self.assertEqual(v["unmerged"], 0, where)
            self.assertEqual(v["percent"], 100.0, where)
            self.assertIn("ksm_mergeable", v["tags"], where)
            if region["perms"] == "---p":
                self.assertIn("prot_none", v["tags"], where)
            else:
                self.assertNotIn("prot_none", v["tags"], where)

    def test_audit_ksm_part(self):
        report = common.audit_with_ksm(self.w.pid)
        self.assertIn("ksm", report, report.get("notes"))
        ksm = report["ksm"]
        self.assertEqual(ksm["ksm_stat"]["ksm_merging_pages"], self.total, ksm)
        self.assertEqual(ksm["walk"]["ksm_pages"], self.total, ksm)
        for inv in ksm["invariants"]:
            self.assertEqual(inv["verdict"], "holds", ksm)
        self.assertEqual([f for f in report["findings"] if f["source"] == "ksm_stat"], [], report["findings"])


if __name__ == "__main__":
    harness.main()
