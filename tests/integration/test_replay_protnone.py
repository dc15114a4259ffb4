#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Replay: a capture of the thp-protnone workload, audited from files.

Unedited, the capture must reproduce the live verdict. Edited the way 6.1–6.4 printed smaps for
a PROT_NONE PMD-mapped THP (the VMA's Rss, Pss, Anonymous, AnonHugePages... 0 kB, smaps_rollup
short by the same amounts, status untouched), it must be an under-accounting of that VMA."""

import contextlib
import os
import shutil
import tempfile

import harness
import knobs
import replay


class ReplayProtNone(harness.AuditTestCase):
    def capture(self, stack):
        stack.enter_context(knobs.thp_madvise())
        w = self.start(stack, "thp-protnone")
        directory = tempfile.mkdtemp(prefix="smapsaudit-replay-")
        stack.callback(shutil.rmtree, directory, ignore_errors=True)
        result = replay.capture(w.pid, directory)
        self.assertEqual(result.rc, 0, result.describe())
        self.assertTrue(os.path.exists(os.path.join(directory, "proc", str(w.pid), "smaps")),
                        f"capture wrote no proc/{w.pid}/smaps\n{result.describe()}")
        return w, directory

    def test_unedited_capture_is_consistent(self):
        with contextlib.ExitStack() as stack:
            w, directory = self.capture(stack)
            w.kill()    # the files alone must be enough
            rw, none = w.truth["regions"]
            report = self.assertConsistent(replay.check_capture(w.pid, directory), w.pid)
            self.assertRegion(report, none, tags=("prot_none", "thp"))
            self.assertRegion(report, rw, tags=("thp",), not_tags=("prot_none",))

    def test_protnone_thp_missing_from_smaps(self):
        with contextlib.ExitStack() as stack:
            w, directory = self.capture(stack)
            w.kill()
            rw, none = w.truth["regions"]
            proc = os.path.join(directory, "proc", str(w.pid))
            removed = replay.zero_vma_fields(os.path.join(proc, "smaps"), none["start"])
            self.assertEqual(removed.get("AnonHugePages"), none["expect"]["AnonHugePages"],
                             "the capture's smaps did not hold the THPs to remove")
            replay.reduce_rollup(os.path.join(proc, "smaps_rollup"), removed)

            result = replay.check_capture(w.pid, directory)
            report = self.assertCheck(result, rc=harness.EXIT_DISCREPANCY, verdict="under-accounted")
            replay.assert_edited_vma(self, report, none, tags=("prot_none", "thp"))
            replay.assert_findings_name_only(self, result, none, tags=("prot_none", "thp"))
            # The accessible half was not edited: nothing to say about it.
            self.assertRegion(report, rw, tags=("thp",), not_tags=("prot_none",))


if __name__ == "__main__":
    harness.main()
