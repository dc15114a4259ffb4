#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""KSM's first merges during an audit are no finding (issue 17.2).

With KSM's stable tree empty (run=2 unmerged everything), a process with 4 MiB of identical
MADV_MERGEABLE pages is audited back to back while ksmd, just started, merges them. kpageflags
sets KPF_KSM on every anonymous page on some kernels (docs/kernel-bugs.md, entry 6), so the walk
counts KPF_KSM only while KSM has a stable tree; read once per audit, that guard made every real
KSM page of the audit's passes invisible, and smaps' KSM line an "over-accounted" finding."""

import collections
import contextlib
import time

import harness
import test_ksm_common as common

ATTEMPTS = 20
PAGES = 1024  # the rw half of an 8 MiB ksm workload: 4 MiB of identical pages


def wait_unmerged(timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if int(common.read_knob("pages_shared")) == 0 and int(common.read_knob("pages_sharing")) == 0:
            return True
        time.sleep(0.02)
    return False


class KsmFirstMerge(harness.AuditTestCase):
    def test_no_finding(self):
        audits = merged_seen = 0
        verdicts = collections.Counter()
        with contextlib.ExitStack() as stack:
            stack.enter_context(common.ksm_lock())
            session = stack.enter_context(common.KsmSession(sleep_millisecs=100))
            for attempt in range(ATTEMPTS):
                with contextlib.ExitStack() as run:
                    common.write_knob("run", 2)
                    self.assertTrue(wait_unmerged(), "run=2 left merged pages behind")
                    w = self.start(run, "ksm", "--size-mb", "8")
                    session.resume()
                    deadline = time.monotonic() + 10
                    merged = 0
                    # until every page is merged, and a few audits more
                    for extra in range(1000):
                        result = harness.check(w.pid)
                        audits += 1
                        what = f"attempt {attempt + 1}/{ATTEMPTS}, audit {extra + 1}\n{result.describe()}"
                        self.assertIsNotNone(result.report, what)
                        self.assertEqual(result.report.get("findings", []), [], what)
                        self.assertIn(result.rc, (harness.EXIT_CONSISTENT, harness.EXIT_INCONCLUSIVE), what)
                        verdicts[result.report["verdict"]] += 1
                        if merged < PAGES:
                            merged = common.ksm_stat(w.pid)["ksm_merging_pages"]
                            if merged >= PAGES:
                                merged_seen += 1
                                stop = audits + 3
                        elif audits >= stop:
                            break
                        if time.monotonic() > deadline:
                            break
        print(f"{audits} audits over {ATTEMPTS} first merges, {merged_seen} of them completed: {dict(verdicts)}")
        self.assertGreater(merged_seen, ATTEMPTS // 2, "ksmd did not merge the pages in most attempts")


if __name__ == "__main__":
    harness.main()
