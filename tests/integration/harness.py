# SPDX-License-Identifier: LGPL-2.1-or-later
"""Shared pieces of the integration tests: start a workload and read its truth, run smapsaudit,
and compare a report with the truth.

The truth comes from the workload (how it built its memory), never from smapsaudit itself. Paths
come from the environment, as meson passes them: SMAPSAUDIT (the CLI) and WORKLOAD.
"""

import json
import os
import selectors
import signal
import subprocess
import sys
import tempfile
import time
import unittest

EXIT_CONSISTENT, EXIT_DISCREPANCY, EXIT_TROUBLE, EXIT_INCONCLUSIVE = 0, 1, 2, 3


def _env_path(name):
    path = os.environ.get(name)
    if not path:
        raise RuntimeError(f"{name} is not set: run through meson test, or set {name}=PATH")
    if not os.access(path, os.X_OK):
        raise RuntimeError(f"{name}={path} is not an executable")
    return path


def _stop_on_sigterm():
    """meson ends a test that timed out with SIGTERM: turn it into an exception, so that every
    ``with`` block restores its knobs and kills its processes on the way out."""
    def handler(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")
    signal.signal(signal.SIGTERM, handler)


_stop_on_sigterm()


class WorkloadError(AssertionError):
    pass


class Workload:
    """A running workload process. Use as a context manager: it is always killed on exit.

    ``truth`` is the parsed JSON line the workload printed when its memory was ready.
    """

    def __init__(self, shape, *args, ready_timeout=60):
        self.argv = [_env_path("WORKLOAD"), shape, *map(str, args)]
        self.ready_timeout = ready_timeout
        self.proc = None
        self.truth = None
        self._stderr = None

    @property
    def pid(self):
        return self.proc.pid

    def __enter__(self):
        self._stderr = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=self._stderr)
        try:
            self.truth = self._read_truth()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    def stderr(self):
        self._stderr.seek(0)
        return self._stderr.read().decode(errors="replace")

    def _read_truth(self):
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        if not sel.select(timeout=self.ready_timeout):
            raise WorkloadError(f"{self.argv}: no truth line within {self.ready_timeout} s")
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait(timeout=10)
            raise WorkloadError(f"{self.argv} exited {self.proc.returncode} before it was ready: "
                                f"{self.stderr().strip()}")
        truth = json.loads(line)
        if truth.get("pid") != self.proc.pid:
            raise WorkloadError(f"truth names pid {truth.get('pid')}, started {self.proc.pid}")
        return truth

    def skip_reason(self):
        return self.truth.get("skip") if self.truth else None

    def kill(self):
        """SIGKILL now and reap: the process is gone (not a zombie) when this returns."""
        self._kill_child()
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()

    def _kill_child(self):
        # The cow-fork child is ours too. While its parent is alive and has not been told to
        # stop, the child cannot have been reaped, so its PID still names it.
        child = (self.truth or {}).get("child_pid")
        if child and self.proc.poll() is None:
            try:
                os.kill(child, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def stop(self):
        if not self.proc:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.kill()
        if self.proc.stdout:
            self.proc.stdout.close()
        if self._stderr:
            self._stderr.close()
            self._stderr = None


class CheckResult:
    def __init__(self, argv, proc, elapsed):
        self.argv = argv
        self.rc = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        self.elapsed = elapsed
        self.reports = parse_reports(proc.stdout)

    @property
    def report(self):
        """The one report of a single-PID check (None if stdout held no JSON)."""
        return self.reports[0] if self.reports else None

    def describe(self):
        """What a failure message needs: the command, its exit, and the report's verdicts and
        findings (not the whole report: the VMAs it judged consistent say nothing)."""
        lines = [f"$ {' '.join(self.argv)}", f"exit {self.rc} after {self.elapsed:.2f} s"]
        if self.stderr.strip():
            lines.append(f"stderr: {self.stderr.strip()}")
        if not self.reports:
            lines.append(f"stdout: {self.stdout[:2000]}")
        for r in self.reports:
            lines.append(f"report pid {r.get('pid')}: verdict {r.get('verdict')}"
                         + (f", error {r['error']!r}" if r.get("error") else "")
                         + f", mode {json.dumps(r.get('mode'))}")
            for note in r.get("notes", []):
                lines.append(f"  note: {note}")
            for f in r.get("findings", []):
                lines.append(f"  finding: {json.dumps(f)}")
            for v in r.get("vmas", []):
                if v.get("verdict") != "consistent":
                    bad = {k: c for k, c in v.get("fields", {}).items()
                           if c.get("verdict") != "consistent"}
                    lines.append(f"  vma {v['start']}-{v['end']} {v.get('perms')} {v.get('name')!r} "
                                 f"tags {v.get('tags')} verdict {v.get('verdict')}: {json.dumps(bad)}"
                                 f" walk {json.dumps(v.get('walk'))}")
        return "\n".join(lines)


def parse_reports(text):
    """Every JSON value on stdout: one object per PID (concatenated, one a line, or an array)."""
    reports, dec, i = [], json.JSONDecoder(), 0
    while True:
        while i < len(text) and text[i].isspace():
            i += 1
        if i >= len(text):
            break
        try:
            value, i = dec.raw_decode(text, i)
        except json.JSONDecodeError:
            break
        reports.extend(value if isinstance(value, list) else [value])
    return reports


def smapsaudit(*args, timeout=120):
    """Run the CLI; never leaves it running."""
    argv = [_env_path("SMAPSAUDIT"), *map(str, args)]
    start = time.monotonic()
    proc = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=timeout)
    return CheckResult(argv, proc, time.monotonic() - start)


def check(pid, *options, timeout=120):
    return smapsaudit("check", "--local", "--json", *options, pid, timeout=timeout)


def hexint(value):
    return int(value, 16) if isinstance(value, str) else int(value)


def find_vma(report, start):
    """The report's VMA that starts at ``start`` (hex string or int), or None."""
    want = hexint(start)
    for vma in report.get("vmas", []):
        if hexint(vma["start"]) == want:
            return vma
    return None


class AuditTestCase(unittest.TestCase):
    """Assertions that compare smapsaudit's report with a workload's truth."""

    maxDiff = None

    def setUp(self):
        if os.geteuid() != 0:
            self.skipTest("needs root: pagemap PFNs, kpageflags and global knobs")

    def start(self, stack, shape, *args, **kwargs):
        """Start a workload inside ``stack``; skip the test if the workload says it cannot run."""
        w = stack.enter_context(Workload(shape, *args, **kwargs))
        if w.skip_reason():
            self.skipTest(f"workload {shape}: {w.skip_reason()}")
        return w

    def assertCheck(self, result, rc=EXIT_CONSISTENT, verdict="consistent"):
        """Exit status, a report, and its overall verdict."""
        self.assertGreaterEqual(result.rc, 0, f"smapsaudit died of a signal\n{result.describe()}")
        self.assertEqual(result.rc, rc, result.describe())
        self.assertIsNotNone(result.report, f"no JSON report\n{result.describe()}")
        self.assertEqual(result.report.get("schema"), "smapsaudit.report/1", result.describe())
        if verdict is not None:
            self.assertEqual(result.report.get("verdict"), verdict, result.describe())
        return result.report

    def assertConsistent(self, result, pid):
        report = self.assertCheck(result)
        self.assertEqual(report.get("pid"), pid, result.describe())
        self.assertEqual(report.get("findings", []), [], result.describe())
        return report

    def assertRegion(self, report, region, expect=None, tags=(), not_tags=(), kernel_too=True,
                     context=""):
        """The VMA at the truth's start: same end and perms, walk_kb of every expected field equal
        to the truth (and, on this kernel, the kernel's own number too), the tags present."""
        vma = find_vma(report, region["start"])
        where = f"{context}region {region['name']} {region['start']}-{region['end']}"
        self.assertIsNotNone(vma, f"{where}: no VMA at that start in the report; VMAs: "
                             f"{[(v['start'], v['end'], v.get('perms')) for v in report.get('vmas', [])]}")
        self.assertEqual(hexint(vma["end"]), hexint(region["end"]), f"{where}: end")
        self.assertEqual(vma.get("perms"), region["perms"], f"{where}: perms")
        fields = vma.get("fields", {})
        for name, kb in (expect if expect is not None else region["expect"]).items():
            self.assertIn(name, fields, f"{where}: no field {name} in {sorted(fields)}")
            self.assertEqual(fields[name].get("walk_kb"), kb,
                             f"{where}: walk {name} {fields[name]} != truth {kb} kB")
            if kernel_too:
                self.assertEqual(fields[name].get("kernel_kb"), kb,
                                 f"{where}: kernel {name} {fields[name]} != truth {kb} kB "
                                 "(this kernel accounts correctly)")
        for tag in tags:
            self.assertIn(tag, vma.get("tags", []), f"{where}: tags {vma.get('tags')}")
        for tag in not_tags:
            self.assertNotIn(tag, vma.get("tags", []), f"{where}: tags {vma.get('tags')}")
        return vma

    def assertWalkCounts(self, vma, region, **counts):
        """Counts in the VMA's "walk" object, e.g. present_pages=region pages."""
        walk = vma.get("walk", {})
        for name, value in counts.items():
            self.assertEqual(walk.get(name), value,
                             f"region {region['name']}: walk.{name} in {walk}")


def main():
    unittest.main(verbosity=2, buffer=False)


if __name__ == "__main__":
    sys.exit("harness.py is a library for the test_*.py files")
