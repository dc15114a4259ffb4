#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""KSM from captures: what kernels with the bugs showed, rebuilt from a capture of this one.

* The PROT_NONE half never merged (474098edac26, 6.1–6.4): the workload's identical pages are
  captured merged, with their hashes (`capture` reads them twice across ksmd's full scans); then
  the PROT_NONE half's frames lose KPF_KSM in the captured kpageflags, and smaps, smaps_rollup,
  ksm_stat and the hashes file's readings say so too, over a window with no other KSM activity
  (common.quiet_window: this machine's other mergeable processes copy KSM pages all the time).
  Coverage must find that VMA's pages unmerged, tagged prot_none, and nothing else.
* A forked child's counters inherited (6.1 without 4d6fc29f3634, measured under qemu: right after
  fork the child reports its parent's merging pages and rmap_items; after ksmd scanned it, twice
  as many merging pages as it maps KSM pages). Parent and child are captured with ksmd paused;
  their ksm_stat is then edited into both states: findings, globally and for the child."""

import contextlib
import os
import shutil
import tempfile

import harness
import test_ksm_common as common

KPF_KSM = 21


class KsmReplay(harness.AuditTestCase):
    def tmpdir(self, stack):
        d = tempfile.mkdtemp(prefix="smapsaudit-ksm-replay-")
        stack.callback(shutil.rmtree, d, ignore_errors=True)
        return d

    def capture(self, pid, directory):
        result = common.capture(pid, directory, "--wait", "60")
        self.assertEqual(result.rc, 0, result.describe())
        return os.path.join(directory, "proc", str(pid))

    # ------------------------------------------------------------ PROT_NONE never merged

    def test_protnone_half_never_merged(self):
        with contextlib.ExitStack() as stack:
            stack.enter_context(common.ksm_lock())
            stack.enter_context(common.KsmSession())
            w = self.start(stack, "ksm")
            rw, none = w.truth["regions"]
            total = rw["pages"] + none["pages"]
            common.wait_merged(self, w.pid, total)
            d = self.tmpdir(stack)
            proc = self.capture(w.pid, d)
            w.kill()    # the files alone must be enough
            self.assertTrue(os.path.exists(os.path.join(proc, "smapsaudit-ksm-hashes")), "no hashes captured")

            # as captured: all merged, coverage complete
            result, doc = common.ksm("--pid", w.pid, "--coverage", *common.replay_args(d))
            where = common.describe(result, doc)
            self.assertEqual(doc["coverage"]["source"], "capture", where)
            self.assertEqual(doc["findings"], [], where)
            for region in (rw, none):
                v = common.coverage_vma(doc, region["start"])
                self.assertIsNotNone(v, where)
                self.assertEqual((v["merged"], v["unmerged"]), (region["pages"], 0), where)
            for inv in common.invariants(doc, pid=w.pid):
                self.assertEqual(inv["verdict"], "holds", f"{inv['name']}\n{where}")

            # the PROT_NONE half as a kernel that never merged it would show it
            none_pfns = common.pagemap_pfns(d, w.pid, none["start"], none["end"])
            rw_pfns = common.pagemap_pfns(d, w.pid, rw["start"], rw["end"])
            self.assertEqual(len(none_pfns), none["pages"])
            self.assertFalse(set(none_pfns) & set(rw_pfns),
                             "the halves share KSM frames: clearing KPF_KSM would unmerge both")
            n = none["pages"]
            common.clear_kpageflag(d, none_pfns, KPF_KSM)
            removed = common.smaps_set_field(os.path.join(proc, "smaps"), none["start"], "KSM", 0)
            self.assertEqual(removed, n * 4)
            common.smaps_set_field(os.path.join(proc, "smaps_rollup"), None, "KSM", lambda kb: kb - removed)
            common.edit_keyed(os.path.join(proc, "ksm_stat"), {
                "ksm_merging_pages": lambda v: v - n, "ksm_process_profit": lambda v: v - n * common.PAGE})
            common.write_file(os.path.join(proc, "ksm_merging_pages"), total - n)

            def unmerged_readings(index, r):
                r["merging_pages"] = str(int(r["merging_pages"]) - n)
                r["ksm_ptes"] = str(int(r["ksm_ptes"]) - n)
                r["process_profit"] = str(int(r["process_profit"]) - n * common.PAGE)
            common.edit_hashes(os.path.join(proc, "smapsaudit-ksm-hashes"), edit_reading=unmerged_readings)
            common.quiet_window(d, w.pid)

            result, doc = common.ksm("--pid", w.pid, "--coverage", *common.replay_args(d))
            where = common.describe(result, doc)
            self.assertEqual(result.rc, harness.EXIT_DISCREPANCY, where)
            self.assertEqual(doc["verdict"], "under-accounted", where)
            findings = doc["findings"]
            self.assertEqual(len(findings), 1, where)
            f = findings[0]
            self.assertEqual((f["field"], f["source"], f["kind"]), ("ksm_coverage", "ksm_coverage", "under-accounted"),
                             where)
            self.assertEqual((harness.hexint(f["vma"]["start"]), harness.hexint(f["vma"]["end"])),
                             (harness.hexint(none["start"]), harness.hexint(none["end"])), where)
            self.assertIn("prot_none", f["tags"], where)
            self.assertIn("ksm_mergeable", f["tags"], where)
            self.assertEqual((f["kernel"], f["walk"]), (0, n), where)
            v = common.coverage_vma(doc, none["start"])
            self.assertEqual((v["verdict"], v["unmerged"], v["merged"]), ("unmerged", n, 0), where)
            v = common.coverage_vma(doc, rw["start"])
            self.assertEqual((v["verdict"], v["merged"], v["unmerged"]), ("complete", rw["pages"], 0), where)
            # KSM's counters agree with the edited pages: only coverage sees the bug
            for inv in common.invariants(doc, pid=w.pid):
                self.assertEqual(inv["verdict"], "holds", f"{inv['name']}\n{where}")

            # and the audit of the same files is consistent: smaps and the walk agree on KSM
            check = harness.check(w.pid, *common.replay_args(d))
            self.assertEqual(check.rc, harness.EXIT_CONSISTENT, check.describe())

    # ------------------------------------------------------------ 6.1: counters inherited on fork

    def capture_fork(self, stack):
        _, h, total, child = common.merged_fork(self, stack)
        d, d_child = self.tmpdir(stack), self.tmpdir(stack)
        self.capture(h.pid, d)
        self.capture(child, d_child)
        # one capture of both: the child's files beside the parent's (same KSM frames); moved, not
        # copied: pagemap is a sparse file as large as the address space
        os.rename(os.path.join(d_child, "proc", str(child)), os.path.join(d, "proc", str(child)))
        # The capture's globals also count every other mergeable process of this machine. Make
        # them what a machine with only these two processes shows (as the 6.1 guest did): ksmd
        # merged the parent's pages only.
        pfns = set()
        for r in h.truth["regions"]:
            pfns |= set(common.pagemap_pfns(d, h.pid, r["start"], r["end"]))
        sysfs = os.path.join(d, "sys", "kernel", "mm", "ksm")
        shared, sharing = len(pfns), total - len(pfns)
        for name, value in (("pages_shared", shared), ("pages_sharing", sharing), ("pages_unshared", 0),
                            ("pages_volatile", 0), ("ksm_zero_pages", 0),
                            ("general_profit", sharing * common.PAGE - total * 64)):
            common.write_file(os.path.join(sysfs, name), value)
        h.kill()
        return d, h.pid, child, total

    def test_fork_inherited_counters(self):
        with contextlib.ExitStack() as stack:
            stack.enter_context(common.ksm_lock())
            d, parent, child, total = self.capture_fork(stack)
            cproc = os.path.join(d, "proc", str(child))
            stat = os.path.join(cproc, "ksm_stat")

            # as captured on this fixed kernel: nothing to say
            result, doc = common.ksm(*common.replay_args(d))
            where = common.describe(result, doc)
            self.assertEqual(result.rc, harness.EXIT_CONSISTENT, where)
            self.assertEqual(doc["findings"], [], where)
            self.assertFalse(doc["global"]["all_processes"], where)
            self.assertEqual(common.invariant(doc, "merging_le_mapped", pid=child)["kernel"], 0, where)

            # state 1, right after fork on 6.1: the child reports its parent's counters
            profit = total * common.PAGE - total * 64
            common.edit_keyed(stat, {"ksm_rmap_items": total, "ksm_merging_pages": total, "ksm_process_profit": profit})
            common.write_file(os.path.join(cproc, "ksm_merging_pages"), total)
            result, doc = common.ksm(*common.replay_args(d))
            where = common.describe(result, doc)
            self.assertEqual(result.rc, harness.EXIT_DISCREPANCY, where)
            fields = {(f["field"], f["source"], f["kind"]) for f in doc["findings"]}
            self.assertIn(("ksm_merging_pages", "ksm_stat", "over-accounted"), fields, where)
            self.assertIn(("general_profit", "ksm_sysfs", "over-accounted"), fields, where)
            inv = common.invariant(doc, "sum_merging_pages")
            self.assertEqual((inv["verdict"], inv["kernel"] - inv["walk"]), ("violated", total), where)

            # state 2, after ksmd scanned the child on 6.1: its own merges on top of the inherited
            # ones, twice the KSM pages it maps; ksmd ran (full scans advanced) with the numbers
            # unchanged since the capture's first reading
            profit = 2 * total * common.PAGE - 2 * total * 64
            common.edit_keyed(stat, {"ksm_rmap_items": 2 * total, "ksm_merging_pages": 2 * total,
                                     "ksm_process_profit": profit})
            common.write_file(os.path.join(cproc, "ksm_merging_pages"), 2 * total)
            sysfs = os.path.join(d, "sys", "kernel", "mm", "ksm")
            with open(os.path.join(sysfs, "full_scans")) as f:
                scans = int(f.read())
            common.write_file(os.path.join(sysfs, "run"), 1)
            common.write_file(os.path.join(sysfs, "full_scans"), scans + 3)

            def readings(index, r):
                r["rmap_items"], r["merging_pages"], r["process_profit"] = str(2 * total), str(2 * total), str(profit)
            common.edit_hashes(os.path.join(cproc, "smapsaudit-ksm-hashes"), edit_reading=readings)
            common.quiet_window(d, child, run=1)

            result, doc = common.ksm("--pid", child, *common.replay_args(d))
            where = common.describe(result, doc)
            self.assertEqual(result.rc, harness.EXIT_DISCREPANCY, where)
            inv = common.invariant(doc, "merging_le_mapped", pid=child)
            self.assertEqual((inv["verdict"], inv["kernel"], inv["walk"]), ("violated", 2 * total, total), where)
            self.assertIn(("ksm_merging_pages", "ksm_stat", "over-accounted"),
                          {(f["field"], f["source"], f["kind"]) for f in doc["findings"]}, where)

            result, doc = common.ksm(*common.replay_args(d))
            where = common.describe(result, doc)
            self.assertEqual(result.rc, harness.EXIT_DISCREPANCY, where)
            self.assertEqual(common.invariant(doc, "sum_merging_pages")["verdict"], "violated", where)
            self.assertEqual(common.invariant(doc, "merging_le_mapped", pid=child)["verdict"], "violated", where)


if __name__ == "__main__":
    harness.main()
