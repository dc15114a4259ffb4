#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""capture on processes that hold still and on ones that never do.

An idle process with 256 VMAs is captured and its replay agrees with the live audit. A process
that keeps mapping and unmapping (the churn workload) is either captured, with a replay that
agrees, or refused with one message that says why, within the capture's 25 s and nothing left
behind; with --freeze=auto it is captured, stopped while it is copied.
"""

import contextlib
import os
import tempfile

from harness import AuditTestCase, check, main, smapsaudit

EXIT_TROUBLE = 2


class CaptureBusyTest(AuditTestCase):
    def setUp(self):
        super().setUp()
        self.tmp = self.enterContext(tempfile.TemporaryDirectory(prefix="capture-busy-"))

    def capture(self, pid, *options):
        out = os.path.join(self.tmp, f"cap-{pid}-{len(os.listdir(self.tmp))}")
        return out, smapsaudit("capture", *options, pid, "-o", out, timeout=60)

    def replay(self, pid, out):
        return check(pid, "--proc-root", f"{out}/proc", "--sys-root", f"{out}/sys")

    def test_idle_many_vmas(self):
        with contextlib.ExitStack() as stack:
            w = self.start(stack, "many-vmas", "--size-mb", "1")
            self.assertConsistent(check(w.pid), w.pid)
            out, res = self.capture(w.pid)
            self.assertEqual(res.rc, 0, res.describe())
            self.assertNotIn("changing", res.stderr, res.describe())
            report = self.assertConsistent(self.replay(w.pid, out), w.pid)
            self.assertGreaterEqual(len(report["vmas"]), 256)

    def test_churn_told_or_captured(self):
        with contextlib.ExitStack() as stack:
            w = self.start(stack, "churn")
            out, res = self.capture(w.pid)
            self.assertLess(res.elapsed, 30, res.describe())
            if res.rc == 0:
                self.assertConsistent(self.replay(w.pid, out), w.pid)
                return
            self.assertEqual(res.rc, EXIT_TROUBLE, res.describe())
            lines = res.stderr.strip().splitlines()
            self.assertEqual(len(lines), 1, f"one message, not one per attempt\n{res.describe()}")
            self.assertIn("nothing was captured", lines[0], res.describe())
            self.assertIn("--freeze=auto", lines[0], res.describe())
            if os.path.exists(out):
                self.fail(f"{out} left behind: {os.listdir(out)}")

    def test_churn_frozen(self):
        with contextlib.ExitStack() as stack:
            w = self.start(stack, "churn")
            out, res = self.capture(w.pid, "--freeze=auto")
            self.assertEqual(res.rc, 0, res.describe())
            self.assertLess(res.elapsed, 30, res.describe())
            self.assertNotIn("nothing was captured", res.stderr, res.describe())
            self.assertConsistent(self.replay(w.pid, out), w.pid)


if __name__ == "__main__":
    main()
