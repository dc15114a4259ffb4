#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""PID reuse: a report never mixes two processes.

A workload A (memfd, 512 MiB, audited with no_scan: ~2 s of walking) is audited, through the
daemon's Check and through `smapsaudit check --local`. Once the auditor has A's pagemap open, A
is SIGKILLed and reaped, and a `sleep` B is started at the same PID at once
(tests/robustness/spawn-at-pid: clone3 with set_tid). The answer must be A's report (the audit
ended before A did) or "the process exited during the audit" -- never a report that names
B's comm or describes B's memory. A Check issued after the swap describes B.

When this kernel or caller cannot choose PIDs (clone3 set_tid needs CAP_SYS_ADMIN or
CAP_CHECKPOINT_RESTORE), the library's guard is tested alone: A killed mid-audit, no reuse."""

import contextlib
import json
import os
import subprocess
import time
import unittest

import robust
from robust import td

import harness  # tests/integration, on the path robust set up

ROUNDS = 6
SIZE_MB = 512
# What "A went away" may be called: exited mid-audit, gone before the audit opened anything, or
# caught in exit with its address space already torn down (a zombie has none).
EXITED = ("exited during the audit", "No process with PID", "no such process", "no address space")


def opened_pagemap(pid, target):
    """Whether process pid has target's pagemap open (the walk has begun)."""
    want = f"/proc/{target}/pagemap"
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return False
    for fd in fds:
        with contextlib.suppress(OSError):
            if os.readlink(f"/proc/{pid}/fd/{fd}") == want:
                return True
    return False


def wait_exists_as(pid, comm, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            with open(f"/proc/{pid}/comm") as f:
                if f.read().strip() == comm:
                    return True
        time.sleep(0.002)
    return False


class Reuse:
    """One round: A running, audited by start_audit(); swap() kills A and starts B at its PID."""

    def __init__(self, testcase, stack):
        self.t = testcase
        self.stack = stack
        self.a = stack.enter_context(harness.Workload("memfd", "--size-mb", SIZE_MB))
        self.pid = self.a.pid
        self.b = None

    def swap(self):
        """Kill A, start B at its PID. Returns True when B has A's PID."""
        self.a.kill()
        for _ in range(20):
            b = subprocess.Popen([robust.env_path("SPAWN_AT_PID"), str(self.pid), "sleep", "1000"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            self.stack.callback(td.stop_popen, b)
            if wait_exists_as(self.pid, "sleep", timeout=5):
                self.b = b
                # B dies with its spawner; kill B itself first, by PID, on the way out.
                self.stack.callback(self._kill_b)
                return True
            b.wait(timeout=10)
            if b.returncode == 77:
                self.t.skipTest(f"cannot choose PIDs here: {b.stderr.read().strip()}")
            if b.returncode != 75:   # 75: the PID was taken by someone else meanwhile
                raise AssertionError(f"spawn-at-pid exited {b.returncode}: {b.stderr.read()}")
        return False

    def _kill_b(self):
        if self.b and self.b.poll() is None:
            td.kill_pid(self.pid)
            td.stop_popen(self.b)


def rss_kb(report):
    """The report's Rss as walked (or as the kernel said), in kB; None if it has none."""
    rss = report.get("totals", {}).get("Rss")
    if isinstance(rss, dict):
        rss = rss.get("walk_kb", rss.get("kernel_kb"))
    return rss if isinstance(rss, (int, float)) else None


class Outcomes:
    def __init__(self):
        self.a_reports = self.exited = self.swapped = 0

    def judge(self, t, pid, report=None, error=None):
        """A's report, or an error saying A is gone; never anything of B."""
        if report is None:
            t.assertTrue(any(e in error for e in EXITED), f"neither A's report nor 'exited': {error}")
            self.exited += 1
            return
        dump = json.dumps(report)[:2000]
        t.assertEqual(report["pid"], pid)
        t.assertNotEqual(report.get("comm"), "sleep", f"a report of B under A's PID:\n{dump}")
        t.assertEqual(report.get("comm"), "workload", dump)
        if report.get("error"):
            t.assertTrue(any(e in report["error"] for e in EXITED), report["error"])
            self.exited += 1
            return
        # A's address space torn down under the audit must read as A gone, never as an empty A
        t.assertTrue(report.get("vmas") or report.get("totals"),
                     f"PID {pid}: verdict {report.get('verdict')}, no VMAs, no totals, notes {report.get('notes')}")
        # A's memfd is SIZE_MB, touched; B (sleep) maps a few hundred kB: a report with VMAs
        # and B's size would be B's pages under A's name.
        kb = rss_kb(report)
        t.assertIsNotNone(kb, dump)
        t.assertGreater(kb, SIZE_MB * 1024 // 2, f"A's name with a size that is not A's:\n{dump}")
        self.a_reports += 1

    def summary(self, who, rounds):
        return (f"{who}: {rounds} rounds, PID reused in {self.swapped}; {self.a_reports} reports of A, "
                f"{self.exited} 'exited during the audit'")


def audit_seconds():
    """How long an undisturbed `check --local --no-scan` of A takes: the rounds kill A at
    fractions of it."""
    with harness.Workload("memfd", "--size-mb", SIZE_MB) as a:
        r, seconds = robust.run_capture([robust.env_path("SMAPSAUDIT"), "check", "--local", "--json", "--no-scan",
                                         a.pid])
        if r.returncode != 0:
            raise AssertionError(f"baseline audit of A exited {r.returncode}: {r.stderr}")
    return seconds


def run_rounds(t, who, start, finish, after_swap=None):
    """ROUNDS rounds, A killed a growing fraction of an audit's time after the auditor opened its
    pagemap: start(pid) -> (the Popen to wait for, the PID of the process that audits);
    finish(popen, stdout, stderr, pid, outcomes) judges the answer; after_swap(pid) runs once B
    holds the PID."""
    full = audit_seconds()
    out = Outcomes()
    for i in range(ROUNDS):
        with contextlib.ExitStack() as stack:
            r = Reuse(t, stack)
            proc, auditor = start(r.pid)
            stack.callback(td.stop_popen, proc)
            td.wait_for(lambda: opened_pagemap(auditor, r.pid) or proc.poll() is not None,
                        timeout=30, interval=0.001, what=f"{who} to open A's pagemap")
            time.sleep(full * i / ROUNDS)
            swapped = r.swap()
            out.swapped += swapped
            stdout, stderr = proc.communicate(timeout=180)
            finish(proc, stdout, stderr, r.pid, out)
            if swapped and after_swap:
                after_swap(r.pid)
    print(out.summary(who, ROUNDS))
    t.assertGreater(out.swapped, 0, "the PID was never reused")
    t.assertGreater(out.exited, 0, "no round ended with A gone mid-audit: the test proved nothing")


class PidReuseDaemon(robust.RobustDaemonTestCase):
    def test_check_never_mixes(self):
        def start(pid):
            client = subprocess.Popen([robust.env_path("BUS_FLOOD"), "--connections", "1", "1", f"{pid}:no_scan"],
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            return client, self.daemon.proc.pid

        def finish(client, stdout, stderr, pid, out):
            kind, _, _, _, rest = stdout.split("\n")[0].split(" ", 4)
            if kind == "ok":
                out.judge(self, pid, report=json.loads(rest))
            else:
                out.judge(self, pid, error=rest)

        def after_swap(pid):
            # Asked now, the PID names B.
            b = json.loads(td.call_ok("Check", "ua{sv}", pid, 0)[0])
            self.assertEqual((b["pid"], b["comm"]), (pid, "sleep"))

        run_rounds(self, "daemon Check", start, finish, after_swap)
        self.assertTrue(self.daemon.alive())


class PidReuseLocal(unittest.TestCase):
    def test_local_never_mixes(self):
        def start(pid):
            cli = subprocess.Popen([robust.env_path("SMAPSAUDIT"), "check", "--local", "--json", "--no-scan", str(pid)],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            return cli, cli.pid

        def finish(cli, stdout, stderr, pid, out):
            self.assertNotIn(cli.returncode, robust.CRASH_STATUSES, stderr)
            self.assertIsNone(robust.sanitizer_report(stderr), stderr)
            reports = harness.parse_reports(stdout)
            if reports:
                self.assertIn(cli.returncode, (0, 1, 2, 3), stderr)
                out.judge(self, pid, report=reports[0])
            else:
                self.assertEqual(cli.returncode, 2, stderr)
                out.judge(self, pid, error=stderr)

        run_rounds(self, "check --local", start, finish)


if __name__ == "__main__":
    robust.main()
