#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Replay: a NUMA-hinted THP in an accessible rw-p VMA, missing from smaps as on 6.1–6.4.

The capture is of a multi-threaded numa-thp workload (its threads park at once, --seconds 0).
Its smaps is edited as the buggy kernels printed it, and the capture's files are made to say
that NUMA balancing is on and the mm has been scanned, which is the evidence the numa_hinted
tag needs: the finding must be on that VMA, tagged numa_hinted and thp, not prot_none."""

import contextlib
import os
import shutil
import tempfile

import harness
import knobs
import replay


class ReplayNumaHinted(harness.AuditTestCase):
    def test_hinted_thp_missing_from_smaps(self):
        with contextlib.ExitStack() as stack:
            stack.enter_context(knobs.thp_madvise())
            w = self.start(stack, "numa-thp", "--seconds", 0)
            (region,) = w.truth["regions"]
            directory = tempfile.mkdtemp(prefix="smapsaudit-replay-")
            stack.callback(shutil.rmtree, directory, ignore_errors=True)
            result = replay.capture(w.pid, directory)
            self.assertEqual(result.rc, 0, result.describe())
            w.kill()

            proc = os.path.join(directory, "proc", str(w.pid))
            removed = replay.zero_vma_fields(os.path.join(proc, "smaps"), region["start"])
            self.assertEqual(removed.get("AnonHugePages"), region["expect"]["AnonHugePages"],
                             "the capture's smaps did not hold the THPs to remove")
            replay.reduce_rollup(os.path.join(proc, "smaps_rollup"), removed)
            written = replay.make_numa_scanned(directory, w.pid)

            result = replay.check_capture(w.pid, directory)
            report = self.assertCheck(result, rc=harness.EXIT_DISCREPANCY, verdict="under-accounted")
            tags = ("numa_hinted", "thp")
            replay.assert_edited_vma(self, report, region, tags=tags)
            vma = harness.find_vma(report, region["start"])
            self.assertNotIn("prot_none", vma["tags"], f"edited {written}")
            replay.assert_findings_name_only(self, result, region, tags=tags)


if __name__ == "__main__":
    harness.main()
