#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""valgrind memcheck on `smapsaudit check --local --json PID` of a live workload
(thp-protnone: a THP region whose second half is PROT_NONE; with THP off it is 4 KiB pages, still
audited) and of an idle process: exit 0, no invalid access, no definite leak.

Skipped (77) where valgrind is not installed, and in sanitizer builds (valgrind cannot run
AddressSanitizer's binaries)."""

import os
import re
import shutil
import sys
import tempfile
import unittest

import robust

import harness  # tests/integration

VALGRIND = ["valgrind", "--error-exitcode=9", "--leak-check=full", "--errors-for-leak-kinds=definite",
            "--track-fds=no", "--num-callers=30"]


class Valgrind(unittest.TestCase):
    def run_valgrind(self, pid, *extra):
        tmp = tempfile.mkdtemp(prefix="smapsaudit-valgrind-")
        try:
            log = os.path.join(tmp, "valgrind.log")
            r, seconds = robust.run_capture(VALGRIND + [f"--log-file={log}", robust.env_path("SMAPSAUDIT"), "check",
                                                        "--local", "--json", *extra, pid], timeout=240)
            with open(log) as f:
                text = f.read()
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        summary = re.search(r"ERROR SUMMARY: (\d+) errors", text)
        definite = re.search(r"definitely lost: ([\d,]+) bytes in ([\d,]+) blocks", text)
        indirect = re.search(r"indirectly lost: ([\d,]+) bytes", text)
        print(f"valgrind check --local {' '.join(extra)} {pid}: exit {r.returncode} in {seconds:.1f} s, "
              f"{summary.group(0) if summary else 'no ERROR SUMMARY'}, "
              f"definitely lost: {definite.group(1) if definite else 0} bytes, "
              f"indirectly lost: {indirect.group(1) if indirect else 0} bytes")
        what = f"exit {r.returncode}\nstderr: {r.stderr[-2000:]}\nvalgrind:\n{text[-6000:]}"
        self.assertNotEqual(r.returncode, 9, f"valgrind found errors:\n{what}")
        self.assertEqual(r.returncode, 0, what)
        self.assertTrue(summary, what)
        self.assertEqual(summary.group(1), "0", what)
        self.assertTrue(not definite or definite.group(1) == "0", what)
        report = harness.parse_reports(r.stdout)
        self.assertTrue(report and report[0]["pid"] == pid, r.stdout[:500])
        return report[0]

    def test_thp_protnone(self):
        with harness.Workload("thp-protnone") as w:
            if w.skip_reason():
                print(f"thp-protnone: {w.skip_reason()}; audited anyway")
            self.run_valgrind(w.pid)
            self.run_valgrind(w.pid, "--no-scan")
            self.assertIsNone(w.proc.poll(), "the workload died under audit")

    def test_idle_process(self):
        with harness.Workload("protnone-4k", "--size-mb", 8) as w:
            self.run_valgrind(w.pid, "--fast")


if __name__ == "__main__":
    if not shutil.which("valgrind"):
        print("SKIP: valgrind is not installed (apt-get install valgrind)")
        sys.exit(77)
    if robust.sanitized():
        print("SKIP: valgrind cannot run a sanitizer build's binaries (b_sanitize="
              f"{os.environ.get('BUILD_SANITIZE')})")
        sys.exit(77)
    robust.main()
