#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""smapsaudit probe on this machine: a fixed kernel (6.18), so every bug absent; the knobs it may
change are back as they were however the probe ends (normally, SIGTERM, SIGKILL); no process of
it is left behind; the integration workloads running beside it are not disturbed."""

import contextlib
import fcntl
import json
import os
import shutil
import signal
import subprocess
import time
import unittest

import harness
import knobs

KSM_LOCK = "/run/lock/smapsaudit-ksm-tests.lock"
KNOBS = [knobs.THP_ENABLED, knobs.NUMA_BALANCING] + [f"{knobs.KSM}/{k}" for k in
                                                     ("run", "sleep_millisecs", "pages_to_scan")]
BUGS = ["thp-protnone", "numa-thp", "ksm-protnone", "ksm-fork", "rollup-skip", "kpf-ksm", "status-lag"]
MAX_PEAK_KB = 256 * 1024


def sanitized():
    """An ASan build: its shadow memory makes every process of the probe far larger, and one NUMA
    scan pass over a shape's mm (terabytes of shadow mappings) longer than the probe waits."""
    ldd = subprocess.run(["ldd", os.environ["SMAPSAUDIT"]], capture_output=True, text=True).stdout
    return "libasan" in ldd


def knob_values():
    return {k: knobs.read_knob(k) for k in KNOBS if os.path.exists(k)}


def smapsaudit_pids(exclude=()):
    """Processes running the CLI binary (the probe forks its shapes and guardian from it)."""
    exe = os.path.realpath(os.environ["SMAPSAUDIT"])
    pids = set()
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) in exclude:
            continue
        try:
            if os.readlink(f"/proc/{d}/exe") == exe:
                pids.add(int(d))
        except OSError:
            pass
    return pids


def leftovers(before, timeout=5.0):
    """CLI processes that were not there before; PID 1 reaps orphans a moment after SIGKILL."""
    deadline = time.monotonic() + timeout
    while True:
        left = smapsaudit_pids() - before
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.1)


@contextlib.contextmanager
def ksm_lock():
    """The integration KSM tests' lock: the probe touches KSM's knobs with --allow-knobs."""
    os.makedirs(os.path.dirname(KSM_LOCK), exist_ok=True)
    with open(KSM_LOCK, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        yield


def probe(*args, timeout=120):
    return harness.smapsaudit("probe", *args, timeout=timeout)


class ProbeTest(harness.AuditTestCase):

    def run_probe_json(self, *args):
        r = probe("--json", *args)
        self.assertGreaterEqual(r.rc, 0, r.describe())
        doc = json.loads(r.stdout)
        self.assertEqual(doc["schema"], "smapsaudit.probe/1", r.stdout)
        return r, doc

    def assertNoBugs(self, r, doc, allowed_not_testable=()):
        states = {b["id"]: b for b in doc["bugs"]}
        for bug, b in states.items():
            if b["state"] == "not-testable":
                self.assertIn(bug, allowed_not_testable, f"{bug}: not-testable here: {b['reason']}")
                self.assertTrue(b["reason"], f"{bug}: not-testable without a reason")
            else:
                self.assertEqual(b["state"], "absent", f"{bug} on this fixed kernel: {json.dumps(b, indent=1)}")
                self.assertTrue(b["summary"], f"{bug}: absent without evidence")
        self.assertEqual(r.rc, 0, r.describe())
        self.assertEqual(doc["present"], 0)
        if not sanitized():
            self.assertLessEqual(doc["peak_rss_kb"], MAX_PEAK_KB, f"peak RSS {doc['peak_rss_kb']} kB")

    def test_host_all_absent_beside_workloads(self):
        """--allow-knobs beside running workloads: every bug absent, knobs back, nothing left, and
        the workloads still audit consistent."""
        with contextlib.ExitStack() as stack:
            stack.enter_context(ksm_lock())
            # the knobs as a fleet host would have them: NUMA balancing and ksmd off
            stack.enter_context(knobs.Knobs([(knobs.NUMA_BALANCING, 0), (f"{knobs.KSM}/run", 0)]))
            workloads = [self.start(stack, shape) for shape in ("thp-protnone", "memfd", "churn")]
            before_knobs, before_pids = knob_values(), smapsaudit_pids()
            r, doc = self.run_probe_json("--allow-knobs")
            self.assertEqual(knob_values(), before_knobs, "the probe left a knob changed")
            self.assertEqual(leftovers(before_pids), set(), "the probe left processes behind")
            self.assertEqual([b["id"] for b in doc["bugs"]], BUGS)
            self.assertNoBugs(r, doc, allowed_not_testable=("numa-thp",) if sanitized() else ())
            changed = {k["path"] for k in doc["knobs_changed"]}
            self.assertIn(knobs.NUMA_BALANCING, changed)
            self.assertIn(f"{knobs.KSM}/run", changed)
            for w in workloads:
                self.assertIsNone(w.proc.poll(), f"workload {w.argv} died beside the probe")
            for w in workloads[:2]:
                self.assertConsistent(harness.check(w.pid), w.pid)

    def test_without_knobs_not_testable(self):
        """Without --allow-knobs nothing is switched on: what needs it is not-testable, and says so."""
        with ksm_lock(), knobs.Knobs([(knobs.NUMA_BALANCING, 0), (f"{knobs.KSM}/run", 0)]):
            before = knob_values()
            r, doc = self.run_probe_json()
            self.assertEqual(knob_values(), before)
            self.assertEqual(doc["knobs_changed"], [])
            states = {b["id"]: b for b in doc["bugs"]}
            for bug in ("numa-thp", "ksm-protnone", "ksm-fork"):
                self.assertEqual(states[bug]["state"], "not-testable", json.dumps(states[bug]))
                self.assertIn("--allow-knobs", states[bug]["reason"])
            self.assertNoBugs(r, doc, allowed_not_testable=("numa-thp", "ksm-protnone", "ksm-fork"))

    def _interrupt(self, sig):
        """Stop a probe with sig while it has switched NUMA balancing on."""
        with ksm_lock(), knobs.Knobs([(knobs.NUMA_BALANCING, 0), (f"{knobs.KSM}/run", 0)]):
            before_knobs, before_pids = knob_values(), smapsaudit_pids()
            proc = subprocess.Popen([os.environ["SMAPSAUDIT"], "probe", "--allow-knobs", "--only", "numa-thp",
                                     "ksm-protnone"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            try:
                deadline = time.monotonic() + 30
                while knobs.read_knob(knobs.NUMA_BALANCING) != "1":
                    self.assertIsNone(proc.poll(), "the probe ended before it switched NUMA balancing on")
                    self.assertLess(time.monotonic(), deadline, "the probe never switched NUMA balancing on")
                    time.sleep(0.02)
                self.assertGreater(len(smapsaudit_pids() - before_pids), 1, "no shape running")
                proc.send_signal(sig)
                self.assertEqual(proc.wait(timeout=30), -sig)
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
            # after SIGKILL the guardian restores: give it a moment
            deadline = time.monotonic() + 5
            while knob_values() != before_knobs and time.monotonic() < deadline:
                time.sleep(0.05)
            self.assertEqual(knob_values(), before_knobs, f"knobs not restored after signal {sig}")
            self.assertEqual(leftovers(before_pids), set(), f"processes left after signal {sig}")

    def test_sigterm_restores(self):
        self._interrupt(signal.SIGTERM)

    def test_sigint_restores(self):
        self._interrupt(signal.SIGINT)

    def test_sigkill_restores(self):
        self._interrupt(signal.SIGKILL)

    def test_not_root(self):
        """An unprivileged probe provokes nothing: every bug not-testable, saying why; exit 0."""
        if not shutil.which("setpriv"):
            self.skipTest("no setpriv")
        proc = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                               os.environ["SMAPSAUDIT"], "probe", "--json"], capture_output=True, text=True,
                              timeout=60)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        doc = json.loads(proc.stdout)
        self.assertEqual([b["id"] for b in doc["bugs"]], BUGS)
        for b in doc["bugs"]:
            self.assertEqual(b["state"], "not-testable", json.dumps(b))
            self.assertIn("not root", b["reason"])

    def test_capabilities_instead_of_root(self):
        """A user that is not root but holds CAP_SYS_ADMIN and CAP_DAC_READ_SEARCH (as smapsauditd
        does when it runs as a user of its own) probes: its shapes' frame numbers and kpageflags
        are readable to it."""
        if not shutil.which("setpriv"):
            self.skipTest("no setpriv")
        caps = "+sys_admin,+dac_read_search"
        proc = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", f"--inh-caps={caps}",
                               f"--ambient-caps={caps}", os.environ["SMAPSAUDIT"], "probe", "--json", "--only",
                               "thp-protnone", "kpf-ksm"], capture_output=True, text=True, timeout=60)
        self.assertIn(proc.returncode, (0, 1), proc.stderr)
        doc = json.loads(proc.stdout)
        self.assertEqual([b["id"] for b in doc["bugs"]], ["thp-protnone", "kpf-ksm"])
        for b in doc["bugs"]:
            self.assertIn(b["state"], ("present", "absent"), json.dumps(b))

    def test_only_and_text(self):
        r = probe("--only", "thp-protnone", "kpf-ksm")
        self.assertEqual(r.rc, 0, r.describe())
        self.assertIn("absent       #1 thp-protnone", r.stdout)
        self.assertIn("absent       #6 kpf-ksm", r.stdout)
        self.assertNotIn("ksm-fork", r.stdout)

    def test_report(self):
        r = probe("--report", "thp-protnone")
        self.assertEqual(r.rc, 0, r.describe())
        for part in ("Subject: [BUG] smaps skips PROT_NONE PMD-mapped THPs", f"Kernel: {os.uname().release}",
                     "CONFIG_TRANSPARENT_HUGEPAGE", "Symptom:", "Evidence from this run", "absent",
                     "tests/kernels/repro/thp-protnone.c", "int main", "Suspected introducing commit: 474098edac26",
                     "Fixed by: d74943a2f3cd"):
            self.assertIn(part, r.stdout, r.stdout)

    def test_list_and_usage(self):
        r = probe("--list")
        self.assertEqual(r.rc, 0, r.describe())
        self.assertEqual([line.split()[0] for line in r.stdout.splitlines() if not line.startswith(" ")], BUGS)
        for bad in (["--only"], ["--only", "no-such-bug"], ["thp-protnone"], ["--report", "no-such-bug"],
                    ["--report", "kpf-ksm", "--json"], ["--bogus"], ["--report"]):
            r = probe(*bad)
            self.assertEqual(r.rc, harness.EXIT_TROUBLE, r.describe())
            self.assertIn("smapsaudit", r.stderr)


if __name__ == "__main__":
    harness.main()
