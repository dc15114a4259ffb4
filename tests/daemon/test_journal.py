#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""smapsauditd's journal entries, read back with journalctl -o json.

Test machines often have no journald (PID 1 is not systemd here). The test makes its own: it
re-runs itself in a private mount namespace (unshare --mount), mounts tmpfs over /run/systemd,
/run/log and /var/log/journal there, and starts systemd-journald, which creates its socket
where sd_journal_send() looks for it. Nothing outside the namespace sees this journal, and it
is gone with the namespace. Without unshare or systemd-journald the test is skipped (77) and
says why.

Then, on test_daemon.py's private bus with its Daemon and Capture (the replayed under-accounting
bug): the finding, its resolution and a regression are each one entry with their MESSAGE_ID and
the documented fields. And the kernel's probe (ProbeOnBoot=) makes one entry per bug it found
present, with that bug's own MESSAGE_ID (probe/catalog.c), and none for the others.
"""

import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

import test_daemon as td

JOURNALD = "/lib/systemd/systemd-journald"
MARK = "SMAPSAUDIT_TEST_MOUNT_NS"

UNDER = "7ddd7618abbe4d7a918fd3e2dd9de5fb"
RESOLVED = "0a43ff4ce5cb43968fee579dd35bb27e"
REGRESSION = "df96abcee88d4e4f8ff9167138373133"

FIELDS = ("PID", "COMM", "FIELD", "SOURCE", "VMA_START", "VMA_END", "KERNEL_KB", "WALK_KB", "DELTA_KB", "TAGS",
          "KERNEL_RELEASE")


CATALOGUE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "probe", "catalog.c")


def bug_message_ids():
    """{bug id: MESSAGE_ID} of the probe's catalogue."""
    with open(CATALOGUE) as f:
        return dict(re.findall(r'\.id = "([a-z-]+)".*?\n\s*\.message_id = "([0-9a-f]{32})"', f.read()))


def skip(why):
    print(f"SKIP: {why}")
    sys.exit(77)


def entries(message_id, since):
    r = subprocess.run(["journalctl", "-o", "json", "--no-pager", "--since", since, f"MESSAGE_ID={message_id}"],
                       capture_output=True, text=True, timeout=60)
    return [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]


class Journal(unittest.TestCase):
    def setUp(self):
        self.stack = contextlib.ExitStack()
        self.tmp = tempfile.mkdtemp(prefix="smapsauditd-journal-")
        self.stack.callback(shutil.rmtree, self.tmp, ignore_errors=True)
        self.capture = td.Capture(self, self.stack, self.tmp)
        self.since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(time.time() - 1))

    def tearDown(self):
        self.stack.close()

    def daemon(self):
        d = td.Daemon(self.tmp, "[Sweep]\nInterval=1h\n[Metrics]\nTextfilePath=\n", self.capture.daemon_args())
        self.stack.callback(d.kill)
        return d.start()

    def check(self):
        return json.loads(td.call_ok("Check", "ua{sv}", self.capture.pid, 0)[0])

    def wait_entries(self, message_id, count=1):
        return td.wait_for(lambda: (lambda e: e if len(e) >= count else None)(entries(message_id, self.since)),
                           timeout=30, interval=0.2, what=f"{count} journal entries {message_id}")

    def test_finding_resolved_regression(self):
        # Release A, consistent: the baseline for B. No finding entry.
        self.capture.set_release("6.0.0-A")
        d = self.daemon()
        self.assertEqual(self.check()["verdict"], "consistent")
        td.sweep()
        d.stop()

        # Release B under-accounts: one entry per finding, and one regression entry.
        self.capture.set_release("6.1.0-B")
        self.capture.add_bug()
        d = self.daemon()
        report = self.check()
        self.assertEqual(report["verdict"], "under-accounted")
        found = self.wait_entries(UNDER, len(report["findings"]))
        self.assertEqual(len(found), len(report["findings"]), found)
        thp = next(e for e in found if e["FIELD"] == "AnonHugePages" and e["SOURCE"] == "smaps")
        for field in FIELDS:
            self.assertIn(field, thp)
        region = self.capture.regions[1]
        self.assertEqual(int(thp["PID"]), self.capture.pid)
        self.assertEqual(int(thp["VMA_START"], 16), int(region["start"], 16))
        self.assertEqual(int(thp["VMA_END"], 16), int(region["end"], 16))
        self.assertEqual(int(thp["KERNEL_KB"]), 0)
        self.assertEqual(int(thp["WALK_KB"]), region["expect"]["AnonHugePages"])
        self.assertEqual(int(thp["DELTA_KB"]), -region["expect"]["AnonHugePages"])
        self.assertEqual(thp["TAGS"], "prot_none,thp")
        self.assertEqual(thp["KERNEL_RELEASE"], "6.1.0-B")
        self.assertEqual(thp["SYSLOG_IDENTIFIER"], "smapsauditd")
        self.assertEqual(thp["PRIORITY"], "4")
        self.assertIn("AnonHugePages under-accounted in smaps", thp["MESSAGE"])

        # One regression entry per kind of finding (kind/field/tags) that A's baseline lacks (A had
        # none), once a second sweep has confirmed the findings; root's Checks never do.
        self.assertEqual(entries(REGRESSION, self.since), [])
        self.check()
        time.sleep(1)
        self.assertEqual(entries(REGRESSION, self.since), [])
        td.sweep()
        td.sweep()
        kinds = {f"{f['kind']}/{f['field']}/{','.join(f['tags']) or 'none'}" for f in report["findings"]}
        regression = self.wait_entries(REGRESSION, len(kinds))
        self.assertEqual({e["SIGNATURE"] for e in regression}, kinds)
        self.assertEqual(len(regression), len(kinds))
        self.assertIn("under-accounted/AnonHugePages/prot_none,thp", kinds)
        for e in regression:
            self.assertEqual((e["PREVIOUS_RELEASE"], e["KERNEL_RELEASE"]), ("6.0.0-A", "6.1.0-B"))
            self.assertIn("6.0.0-A", e["MESSAGE"])
            self.assertIn("6.1.0-B", e["MESSAGE"])
            self.assertEqual(e["PRIORITY"], "3")

        # The same finding again is not logged again.
        self.check()
        time.sleep(1)
        self.assertEqual(len(entries(UNDER, self.since)), len(found))

        # Cured: one resolved entry per logged finding, REASON=gone.
        self.capture.remove_bug()
        self.assertEqual(self.check()["verdict"], "consistent")
        resolved = self.wait_entries(RESOLVED, len(found))
        self.assertEqual(len(resolved), len(found), resolved)
        self.assertEqual({e["REASON"] for e in resolved}, {"gone"})
        self.assertIn("AnonHugePages", {e["FIELD"] for e in resolved})
        d.stop()


    def test_kernel_bugs(self):
        ids = bug_message_ids()
        self.assertEqual(len(ids), 6, ids)
        if td.sanitized():
            self.skipTest("an ASan daemon's probe may outlast the wait (daemon-probe runs it under ASan)")
        d = td.Daemon(self.tmp, "[Sweep]\nInterval=1h\nProbeOnBoot=yes\n[Metrics]\nTextfilePath=\n",
                      env={"SMAPSAUDITD_PROBE_RELEASE": "6.99.9-journal"})
        self.stack.callback(d.kill)
        d.start()
        try:
            td.wait_for(lambda: td.get_property("ProbeState") in ("done", "failed"), timeout=120, interval=0.2,
                        what="the probe to end")
        except AssertionError as e:
            raise AssertionError(f"{e}; the daemon's log:\n{d.log_text()}") from None
        self.assertEqual(td.get_property("ProbeState"), "done", d.log_text())
        probe = json.loads(td.call_ok("GetProbe")[0])
        present = {b["id"] for b in probe["bugs"] if b["state"] == "present" and b["kind"] == "bug"}
        for bug, message_id in ids.items():
            found = entries(message_id, self.since)
            self.assertEqual(len(found), bug in present, found)
            for e in found:
                self.assertEqual((e["BUG"], e["RELEASE"], e["KIND"], e["PRIORITY"]),
                                 (bug, "6.99.9-journal", "kernel-bug", "3"))
                self.assertIn(f"Kernel 6.99.9-journal has accounting bug {bug}: ", e["MESSAGE"])
        r = subprocess.run(["journalctl", "-o", "json", "--no-pager", "--since", self.since, "KIND=kernel-bug"],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(len([line for line in r.stdout.splitlines() if line.startswith("{")]), len(present))
        print(f"kernel-bug entries: {len(present)} ({', '.join(sorted(present)) or 'no bug present here'})")
        d.stop()


def in_namespace():
    for where in ("/run/systemd", "/run/log", "/var/log/journal"):
        os.makedirs(where, exist_ok=True)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=0755", "tmpfs", where], check=True)
    journald = subprocess.Popen([JOURNALD], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while not os.path.exists("/run/systemd/journal/socket"):
            if journald.poll() is not None or time.monotonic() > deadline:
                skip(f"{JOURNALD} did not start (exit {journald.poll()})")
            time.sleep(0.05)
        td.main()
    finally:
        td.stop_popen(journald)


def main():
    if os.geteuid() != 0:
        skip("needs root (a mount namespace and journald of its own)")
    if os.environ.get(MARK) == "1":
        in_namespace()
        return
    for tool in ("unshare", "journalctl"):
        if not shutil.which(tool):
            skip(f"no {tool}: journal entries not checked")
    if not os.access(JOURNALD, os.X_OK):
        skip(f"no {JOURNALD}: journal entries not checked")
    r = subprocess.run(["unshare", "--mount", "--propagation", "private", "true"], capture_output=True, text=True)
    if r.returncode != 0:
        skip(f"cannot make a mount namespace for a private journald: {r.stderr.strip()}")
    os.execvpe("unshare", ["unshare", "--mount", "--propagation", "private", sys.executable,
                           os.path.abspath(__file__)], dict(os.environ, **{MARK: "1"}))


if __name__ == "__main__":
    main()
