#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Churn: while smapsauditd sweeps back to back, tests/robustness/churn starts and ends
>= 1,000 short-lived processes a second for ~10 s (half exit at once, half touch memory and are
SIGKILLed after up to 20 ms), and Check is called on random live ones meanwhile.

Holds: the daemon stays up and answers; its fd count and VmRSS, idle before and idle after, are
within a small bound; every Check gets the report of the PID it named or "no such process"; and
no finding is recorded (a correct kernel: a finding here could only come from a process that
vanished mid-walk being judged on half its pages, or a race judged as a discrepancy).

A process sharing pages with the churning ones (libc's file pages; a churn child's anonymous
pages, COW-shared with its parent and siblings) sees their mapcounts move between the rollup
read and the kpagecount read: libsmapsaudit must not judge its Pss or shared/private split in
such a pass (it watches forks and exits), so no finding of any shape is allowed.
"""

import errno
import json
import random
import subprocess
import threading
import time

import robust
from robust import td

CHURN_SECONDS = 10
CHURN_MAX = 60000           # a bound on the count, whatever the rate
MIN_RATE = 1000             # processes started and ended per second, over the run
FD_SLACK = 2                # fds: idle after minus idle before
RSS_SLACK_KB = 16 * 1024    # VmRSS: idle after minus idle before; not under the sanitizers, see below
CHECK_THREADS = 2


def children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except (OSError, ValueError):
        return []


class Churn(robust.RobustDaemonTestCase):
    config = "[Sweep]\nInterval=1h\nCPUBudgetPercent=100\nMaxProcessesPerSweep=0\n"

    def set_interval(self, interval):
        self.daemon.write_config(self.config.replace("Interval=1h", f"Interval={interval}"))
        td.call_ok("Reload")

    def wait_idle(self):
        td.wait_for(lambda: not td.get_property("StatusText").startswith(("Sweeping", "Listing")),
                    timeout=240, interval=0.1, what="the sweep under way to end")
        time.sleep(0.5)

    def measure(self):
        pid = self.daemon.proc.pid
        return robust.fd_count(pid), robust.vm_rss_kb(pid), robust.fd_targets(pid)

    def churn(self, seconds, checks):
        """Runs churn for seconds while CHECK_THREADS threads call Check on its live children.
        Returns (churn's summary, outcomes of the checks, sweeps that ended meanwhile)."""
        outcomes = {"answered": 0, "gone": 0, "other": []}
        lock = threading.Lock()
        done = threading.Event()
        proc = subprocess.Popen([robust.env_path("CHURN"), "--seconds", str(seconds), "--max", str(CHURN_MAX),
                                 "--pool", "64", "--touch-kb", "256", "--max-life-ms", "20"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.stack.callback(td.stop_popen, proc)

        def checker(seed):
            rnd = random.Random(seed)
            while not done.is_set():
                kids = children(proc.pid)
                if not kids:
                    time.sleep(0.005)
                    continue
                pid = rnd.choice(kids)
                r = td.tool("check", pid, timeout=120)
                with lock:
                    if r.returncode == 0:
                        report = json.loads(r.stdout)
                        if report["pid"] != pid:
                            outcomes["other"].append(f"Check {pid} answered with the report of {report['pid']}")
                        else:
                            outcomes["answered"] += 1
                    else:
                        err, unreachable, message = td.tool_error(r)
                        if err == errno.ESRCH and not unreachable:
                            outcomes["gone"] += 1
                        else:
                            outcomes["other"].append(f"Check {pid}: errno {err}: {message}")

        threads = [threading.Thread(target=checker, args=(i,), daemon=True) for i in range(CHECK_THREADS if checks else 0)]
        sweeps_before = td.get_property("LastSweepUSec")
        sweeps, last = 0, sweeps_before
        try:
            for t in threads:
                t.start()
            deadline = time.monotonic() + seconds + 60
            while proc.poll() is None and time.monotonic() < deadline:
                now = td.get_property("LastSweepUSec")
                if now != last:
                    sweeps, last = sweeps + 1, now
                self.assertTrue(self.daemon.alive(), f"smapsauditd died under churn:\n{self.daemon.log_text()[-4000:]}")
                time.sleep(0.2)
            out, err = proc.communicate(timeout=60)
        finally:
            done.set()
            for t in threads:
                t.join(timeout=180)
        self.assertEqual(proc.returncode, 0, err[-2000:])
        return json.loads(out.strip().split("\n")[-1]), outcomes, sweeps

    def test_churn_under_sweeps(self):
        started_usec = time.time_ns() // 1000
        self.wait_sweep_done()

        # Warm up: sweeps back to back and a short churn, so that the audit threads, their
        # allocator arenas and the process table have grown to their working size.
        self.set_interval("1s")
        self.churn(2, checks=True)
        self.set_interval("1h")
        self.wait_idle()
        fd_before, rss_before, fds_before = self.measure()

        self.set_interval("1s")
        summary, checks, sweeps = self.churn(CHURN_SECONDS, checks=True)
        status_during = td.get_property("StatusText")

        self.set_interval("1h")
        self.wait_idle()
        self.assertTrue(self.daemon.alive(), self.daemon.log_text()[-4000:])
        fd_after, rss_after, fds_after = self.measure()

        print(f"churn: {summary['started']} processes started and ended in {summary['seconds']:.1f} s: "
              f"{summary['rate']:.0f}/s (worst whole second {summary['worst_second']}; "
              f"{summary['exited']} exited, {summary['killed']} killed)")
        print(f"sweeps ended during the churn: {sweeps}; last status: {status_during}")
        print(f"Check during the churn: {checks['answered']} reports, {checks['gone']} 'no such process', "
              f"{len(checks['other'])} other")
        print(f"smapsauditd fds: {fd_before} before, {fd_after} after; "
              f"VmRSS: {rss_before} kB before, {rss_after} kB after ({rss_after - rss_before:+d} kB)")

        self.assertGreaterEqual(summary["rate"], MIN_RATE, summary)
        self.assertEqual(summary["started"], summary["ended"], summary)
        self.assertGreaterEqual(sweeps, 2, "the daemon did not keep sweeping during the churn")
        self.assertEqual(checks["other"], [], "\n".join(checks["other"][:20]))
        self.assertGreater(checks["answered"] + checks["gone"], 0, "no Check was answered during the churn")
        self.assertLessEqual(fd_after - fd_before, FD_SLACK,
                             "fds before:\n" + "\n".join(fds_before) + "\nafter:\n" + "\n".join(fds_after))
        if robust.sanitized():
            # AddressSanitizer keeps freed memory in quarantine (up to 256 MiB) before reusing
            # it: measured +166 MiB here without a leak. LeakSanitizer checks instead, when the
            # daemon exits in tearDown (a report fails the test).
            print("VmRSS not bounded in a sanitizer build (ASan quarantine); leaks are LeakSanitizer's at exit")
        else:
            self.assertLessEqual(rss_after - rss_before, RSS_SLACK_KB)

        # Still answering: a property, and a Check of a process that stays.
        self.assertEqual(td.get_property("Version"), td.get_property("Version"))
        s = self.sleeper()
        self.assertEqual(json.loads(td.call_ok("Check", "ua{sv}", s.pid, 0)[0])["pid"], s.pid)

        # Nothing was found: this kernel accounts correctly, so a finding here would be a
        # process judged on pages it no longer had.
        findings = json.loads(td.call_ok("GetFindings", "t", started_usec)[0])
        print(f"findings: {len(findings)}")
        self.assertEqual(findings, [], json.dumps(findings, indent=1)[:4000])

if __name__ == "__main__":
    robust.main()
