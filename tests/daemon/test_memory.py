#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""smapsauditd's memory stays bounded while it sweeps many-VMA and churning processes.

Three processes of 20,000 VMAs each and two that keep mapping and unmapping (one of them
shrinking 32 MiB mappings with mremap) are swept every second for MEMORY_TEST_SECONDS (default
90); short-lived processes come and go meanwhile, so that the daemon keeps learning and
forgetting processes. The daemon's VmRSS is sampled from /proc every 0.5 s. It must stay at or
below the bound smapsauditd(8) states, and must not grow after the warm-up: the highest RSS of
the last third of the run may exceed that of the second third by no more than the slack.
"""

import contextlib
import os
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import test_daemon as td

# smapsauditd(8), SYSTEMD: the bound while sweeping; SLACK_KB: what one more report may add
BOUND_KB = 256 * 1024
SLACK_KB = 16 * 1024
MANY_VMAS = 3
SECONDS = int(os.environ.get("MEMORY_TEST_SECONDS", "90"))


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class Workloads(contextlib.ExitStack):
    def start(self, *argv):
        p = subprocess.Popen([td.env_path("WORKLOAD"), *argv], stdout=subprocess.PIPE, text=True)
        self.callback(td.stop_popen, p)
        if not p.stdout.readline():
            raise AssertionError(f"workload {argv} did not start")
        return p


class Memory(td.DaemonTestCase):
    config = "[Sweep]\nInterval=1s\nCPUBudgetPercent=100\n"

    def test_rss_bounded(self):
        if not td.env_path("WORKLOAD", required=False):
            self.skipTest("no workload binary")
        if td.sanitized():
            self.skipTest("an ASan build's RSS is its quarantine and shadow memory, not the daemon's")
        stop = threading.Event()

        def come_and_go():
            # processes the daemon learns about and must forget again
            while not stop.is_set():
                procs = [subprocess.Popen(["sleep", "2"]) for _ in range(20)]
                stop.wait(1)
                for p in procs:
                    td.stop_popen(p)

        with Workloads() as w:
            for _ in range(MANY_VMAS):
                w.start("many-vmas", "--size-mb", "80")
            w.start("churn")
            w.start("mremap-shrink", "--pause-ms", "0")
            spawner = threading.Thread(target=come_and_go)
            spawner.start()
            samples = []
            last_sweep = td.get_property("LastSweepUSec")
            try:
                end = time.monotonic() + SECONDS
                while time.monotonic() < end:
                    self.assertTrue(self.daemon.alive(), self.daemon.log_text()[-4000:])
                    samples.append(rss_kb(self.daemon.proc.pid))
                    time.sleep(0.5)
            finally:
                stop.set()
                spawner.join()
            audited = td.get_property("SweepProcessesAudited")

        self.assertGreater(td.get_property("LastSweepUSec"), last_sweep, "no sweep ended during the run")
        third = len(samples) // 3
        peak = max(samples)
        middle, last = max(samples[third:2 * third]), max(samples[2 * third:])
        print(f"daemon VmRSS: peak {peak} kB, second third {middle} kB, last third {last} kB, "
              f"{len(samples)} samples, the last sweep audited {audited}", file=sys.stderr)
        self.assertLessEqual(peak, BOUND_KB, f"samples (kB): {samples}")
        self.assertLessEqual(last, middle + SLACK_KB, f"still growing after the warm-up: {samples}")


if __name__ == "__main__":
    td.main()
