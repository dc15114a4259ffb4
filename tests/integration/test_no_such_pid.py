#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Auditing a PID that does not exist is trouble (exit 2), and the message names the PID."""

import os
import subprocess

import harness


def vanished_pid():
    """The PID of a process that has exited and been reaped."""
    proc = subprocess.Popen(["/bin/true"])
    proc.wait()
    return proc.pid


class NoSuchPid(harness.AuditTestCase):
    def test_no_such_pid(self):
        pid = vanished_pid()
        if os.path.exists(f"/proc/{pid}"):
            self.skipTest(f"PID {pid} was reused at once")
        result = harness.check(pid)
        self.assertGreaterEqual(result.rc, 0, result.describe())
        self.assertEqual(result.rc, harness.EXIT_TROUBLE, result.describe())
        self.assertIn(str(pid), result.stderr + result.stdout, result.describe())


if __name__ == "__main__":
    harness.main()
