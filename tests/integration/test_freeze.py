#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""--freeze stops the target for an exact snapshot and lets it go again."""

import contextlib
import os

import harness
import knobs


def task_states(pid):
    states = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{tid}/stat") as f:
            states[int(tid)] = f.read().rsplit(")", 1)[1].split()[0]
    return states


def tracer(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("TracerPid:"):
                return int(line.split()[1])
    return None


class Freeze(harness.AuditTestCase):
    def test_freeze_thp_protnone(self):
        with contextlib.ExitStack() as stack:
            stack.enter_context(knobs.thp_madvise())
            w = self.start(stack, "thp-protnone")
            result = harness.check(w.pid, "--freeze")
            report = self.assertConsistent(result, w.pid)
            self.assertIs(report.get("mode", {}).get("frozen"), True, result.describe())
            rw, none = w.truth["regions"]
            self.assertRegion(report, none, tags=("prot_none", "thp"))
            self.assertRegion(report, rw, tags=("thp",), not_tags=("prot_none",))

            # Released: not traced, not stopped.
            self.assertEqual(tracer(w.pid), 0)
            for tid, state in task_states(w.pid).items():
                self.assertNotIn(state, ("t", "T"), f"thread {tid} left stopped")


if __name__ == "__main__":
    harness.main()
