#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A process held inside execve(): the workload's child execs /bin/sleep with argv[0] on a page
registered missing with userfaultfd, so the kernel stops in copy_strings() after copying the
environment. Until the exec commits, fs/exec.c (get_arg_page → acct_arg_size) counts the new
stack's argument pages in the old image's MM_ANONPAGES: status RssAnon and VmRSS stand above its
page tables by those pages, with nothing wrong. Audits of it must report no finding and say why
status was not compared; once the fault is resolved and the exec is done, no such note."""

import contextlib
import os
import signal
import time

import harness

AUDITS = 3
EXEC_NOTE = "was inside execve()"


def kb(path, key):
    with open(path) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise AssertionError(f"{path}: no {key}")


def status_over_rollup(pid):
    """RssAnon above the rollup's Anonymous, read status, rollup, status until two agree."""
    for _ in range(10):
        before = kb(f"/proc/{pid}/status", "RssAnon")
        rollup = kb(f"/proc/{pid}/smaps_rollup", "Anonymous")
        if kb(f"/proc/{pid}/status", "RssAnon") == before:
            return before - rollup
    raise AssertionError(f"PID {pid}: status kept moving")


class HeldExec(harness.AuditTestCase):
    def held(self, shape):
        with contextlib.ExitStack() as stack:
            w = self.start(stack, shape)
            child = w.truth["child_pid"]
            self.assertEqual(w.truth["fault_offset"], 0, w.truth)
            with open(f"/proc/{child}/stack") as f:
                self.assertIn("copy_strings", f.read(), "the child is not held inside execve()")
            over = status_over_rollup(child)
            # the argument pages are there: the scenario holds what it should, or it proves nothing
            self.assertGreaterEqual(over, 4, f"status RssAnon only {over} kB above the rollup")
            for run in range(AUDITS):
                result = harness.check(child)
                what = f"{shape}, audit {run + 1}/{AUDITS}\n{result.describe()}"
                self.assertIsNotNone(result.report, what)
                self.assertEqual(result.report.get("findings", []), [], what)
                self.assertIn(result.rc, (harness.EXIT_CONSISTENT, harness.EXIT_INCONCLUSIVE), what)
                self.assertTrue(any(EXEC_NOTE in n and f"thread {child} " in n
                                    for n in result.report.get("notes", [])), what)

            os.kill(w.pid, signal.SIGUSR1)
            deadline = time.monotonic() + 10
            while os.readlink(f"/proc/{child}/exe") != "/usr/bin/sleep":
                self.assertLess(time.monotonic(), deadline, "the exec did not complete")
                time.sleep(0.05)
            result = harness.check(child)
            self.assertIsNotNone(result.report, result.describe())
            self.assertEqual(result.report.get("findings", []), [], result.describe())
            self.assertFalse(any(EXEC_NOTE in n for n in result.report.get("notes", [])), result.describe())
            print(f"{shape}: {w.truth['env_bytes']} bytes of environment, status RssAnon {over} kB above "
                  f"smaps_rollup Anonymous while held; after the exec: {result.report['verdict']}")
            return over

    def test_short_arguments(self):
        self.assertEqual(self.held("held-exec-short"), 4)

    def test_large_environment(self):
        # 20 KiB of environment and the file name: six pages of the new stack
        self.assertEqual(self.held("held-exec"), 24)


if __name__ == "__main__":
    harness.main()
