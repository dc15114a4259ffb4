#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Auditing a PID that does not exist is trouble (exit 2), and the message names the PID; with
--json, stdout still holds a JSON document that says so (issue 17.3)."""

import json
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

    def test_json_documents(self):
        pid = vanished_pid()
        if os.path.exists(f"/proc/{pid}"):
            self.skipTest(f"PID {pid} was reused at once")
        for args, schema in ((("check", "--local", "--json", pid), "smapsaudit.report/1"),
                             (("ksm", "--json", "--pid", pid), "smapsaudit.ksm/1")):
            result = harness.smapsaudit(*args)
            self.assertEqual(result.rc, harness.EXIT_TROUBLE, result.describe())
            doc = json.loads(result.stdout)
            self.assertEqual(doc.get("schema"), schema, result.describe())
            self.assertEqual(doc.get("pid"), pid, result.describe())
            self.assertIn(str(pid), doc.get("error", ""), result.describe())


if __name__ == "__main__":
    harness.main()
