#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A process whose main thread called pthread_exit() while another thread runs on: the leader is
a zombie and its own /proc/PID smaps, pagemap and status show no memory, but the process has all
of it. The audit reads the mm through the live thread and says so; it is neither "exiting" nor a
kernel thread, and a capture of it replays with all its memory (unit-proclist holds the sweep's
process list to it too)."""

import contextlib
import os
import shutil
import tempfile
import time

import harness
import replay


def state(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("State:"):
                return line.split()[1]
    return None


class LeaderExit(harness.AuditTestCase):
    def test_audited_through_a_live_thread(self):
        with contextlib.ExitStack() as stack:
            w = self.start(stack, "leader-exit")
            (region,) = w.truth["regions"]
            deadline = time.monotonic() + 10
            while state(w.pid) != "Z" and time.monotonic() < deadline:
                time.sleep(0.05)
            self.assertEqual(state(w.pid), "Z", "the workload's main thread did not exit")
            with open(f"/proc/{w.pid}/smaps") as f:
                self.assertEqual(f.read(), "", "the zombie leader's own smaps is not empty: nothing to test")
            for tier in ((), ("--fast",), ("--freeze",)):
                result = harness.check(w.pid, *tier)
                report = self.assertConsistent(result, w.pid)
                self.assertEqual(report.get("comm"), "workload", result.describe())
                self.assertTrue(any("main thread has exited" in n for n in report.get("notes", [])),
                                result.describe())
                expect = {k: v for k, v in region["expect"].items() if not (tier == ("--fast",) and k == "Pss")}
                self.assertRegion(report, region, expect=expect, context=f"{tier or 'full'}: ")

            # a capture holds the memory too, under the process's own PID
            directory = tempfile.mkdtemp(prefix="smapsaudit-leader-exit-")
            stack.callback(shutil.rmtree, directory, ignore_errors=True)
            result = replay.capture(w.pid, directory)
            self.assertEqual(result.rc, 0, result.describe())
            with open(os.path.join(directory, "proc", str(w.pid), "comm")) as f:
                self.assertEqual(f.read().strip(), "workload")
            report = self.assertConsistent(replay.check_capture(w.pid, directory), w.pid)
            self.assertRegion(report, region, context="replayed capture: ")


if __name__ == "__main__":
    harness.main()
