#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Audits while other processes start and exit all the time, as on any busy machine.

Every short-lived process maps and unmaps pages of libc and ld.so, so the Pss of the target's
shared-library VMAs moves under the audit (mapcount changes), sometimes only for an instant.
That is noise: the audit may say inconclusive, never a finding."""

import contextlib
import subprocess
import threading

import harness
import knobs

AUDITS = 30


class ExecChurn(threading.Thread):
    """Start and reap short-lived processes until stopped. Each is waited for: none outlives it."""

    def __init__(self):
        super().__init__(daemon=True)
        self.stopping = threading.Event()
        self.started_processes = 0

    def run(self):
        while not self.stopping.is_set():
            subprocess.run(["/bin/ls", "/"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            self.started_processes += 1

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stopping.set()
        self.join()
        return False


class ExecChurnNoise(harness.AuditTestCase):
    def test_no_findings_while_processes_come_and_go(self):
        verdicts = []
        with contextlib.ExitStack() as stack:
            stack.enter_context(knobs.thp_madvise())
            w = self.start(stack, "thp-protnone")
            churn = stack.enter_context(ExecChurn())
            for i in range(AUDITS):
                result = harness.check(w.pid)
                what = f"audit {i + 1}/{AUDITS} ({churn.started_processes} processes so far)\n" \
                       + result.describe()
                self.assertIn(result.rc, (harness.EXIT_CONSISTENT, harness.EXIT_INCONCLUSIVE), what)
                self.assertEqual(result.report.get("findings", []), [], what)
                for region in w.truth["regions"]:
                    self.assertRegion(result.report, region, context=f"audit {i + 1}: ")
                verdicts.append(result.report["verdict"])
        print(f"{churn.started_processes} processes started; verdicts: {verdicts}")


if __name__ == "__main__":
    harness.main()
