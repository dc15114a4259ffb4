#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""What the KSM tests share; no tests of its own.

* ``KsmSession``: ksmd scanning fast, with every KSM knob a test may touch (run,
  sleep_millisecs, pages_to_scan, max_page_sharing, use_zero_pages) saved on entry and, whatever
  happens, restored on exit: run=2 first (unmerge everything), then the saved values.
* ``ksm_lock``: one KSM test at a time on this machine (the knobs are global).
* ``Helper``: ksm-helper.c (built here on first use) for the shapes tests/workload does not
  build: a merged region that forks on request, and regions rewritten without end. It prints its
  truth as one JSON line like the workload, and is always killed by PID (its child too).
* readers: ksm_stat, ``smapsaudit ksm --json``, the invariants in its output, captures.
"""

import contextlib
import fcntl
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import unittest

import harness
import knobs

KSM = knobs.KSM
PAGE = 4096
LOCK_PATH = "/run/lock/smapsaudit-ksm-tests.lock"


# ------------------------------------------------------------------ knobs

def read_knob(name):
    return knobs.read_knob(f"{KSM}/{name}")


def write_knob(name, value):
    knobs.write_knob(f"{KSM}/{name}", value)


def wait_full_scans(count, timeout=60):
    """ksmd completed ``count`` more full scans; False on timeout."""
    return knobs.wait_ksm_full_scans(count, timeout)


class KsmSession(knobs.Knobs):
    """ksmd on and fast. All five knobs a KSM test may touch are saved (those it leaves alone are
    written back their own value) and restored on exit: run=2 first, then the saved values."""

    def __init__(self, sleep_millisecs=10, pages_to_scan=1000):
        if not os.path.isdir(KSM):
            raise unittest.SkipTest("no KSM in this kernel")
        super().__init__([(f"{KSM}/{name}", value) for name, value in (
            ("run", 1), ("sleep_millisecs", sleep_millisecs), ("pages_to_scan", pages_to_scan),
            ("max_page_sharing", read_knob("max_page_sharing")), ("use_zero_pages", read_knob("use_zero_pages")))],
            before_restore=[(f"{KSM}/run", 2)])

    def pause(self):
        """ksmd stopped, merged pages left as they are."""
        write_knob("run", 0)

    def resume(self):
        write_knob("run", 1)


@contextlib.contextmanager
def ksm_lock():
    os.makedirs(os.path.dirname(LOCK_PATH), exist_ok=True)
    with open(LOCK_PATH, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


# ------------------------------------------------------------------ readers

def ksm_stat(pid):
    values = {}
    with open(f"/proc/{pid}/ksm_stat") as f:
        for line in f:
            key, _, value = line.partition(" ")
            key = key.rstrip(":")
            value = value.strip()
            values[key] = value == "yes" if value in ("yes", "no") else int(value)
    return values


def wait_merged(test, pid, pages, timeout=60):
    """Two full scans, then every one of ``pages`` merged (ksm_merging_pages says so)."""
    test.assertTrue(wait_full_scans(2, timeout), "ksmd did not complete 2 full scans")
    deadline = time.monotonic() + timeout
    while ksm_stat(pid)["ksm_merging_pages"] < pages and time.monotonic() < deadline:
        time.sleep(0.05)
    test.assertEqual(ksm_stat(pid)["ksm_merging_pages"], pages, f"ksmd merged only part of {pages} pages")


def ksm(*args, timeout=180):
    """``smapsaudit ksm --json ARGS``: (result, parsed document or None)."""
    result = harness.smapsaudit("ksm", "--json", *args, timeout=timeout)
    try:
        doc = json.loads(result.stdout)
    except ValueError:
        doc = None
    return result, doc


def describe(result, doc):
    lines = [f"$ {' '.join(map(str, result.argv))}", f"exit {result.rc} after {result.elapsed:.2f} s"]
    if result.stderr.strip():
        lines.append(f"stderr: {result.stderr.strip()}")
    if doc is None:
        lines.append(f"stdout: {result.stdout[:3000]}")
        return "\n".join(lines)
    lines.append(f"verdict {doc.get('verdict')}, ksmd {json.dumps(doc.get('ksmd'))}")
    if doc.get("global"):
        lines.append(f"global {json.dumps(doc['global'])}")
    for inv in invariants(doc):
        lines.append(f"  {inv.get('pid', '-')} {inv['name']}: {inv.get('kernel')} {inv['relation']} "
                     f"{inv.get('walk')} {inv['verdict']} {inv.get('why', '')}")
    for f in doc.get("findings", []):
        lines.append(f"  finding: {json.dumps(f)}")
    cov = doc.get("coverage")
    if cov:
        lines.append("coverage: " + json.dumps({k: v for k, v in cov.items() if k != "vmas"}))
        for v in cov.get("vmas", []):
            lines.append(f"  {json.dumps(v)}")
    for note in doc.get("notes", []):
        lines.append(f"  note: {note}")
    return "\n".join(lines)


def invariants(doc, pid=None, scope=None):
    """Every invariant of a ksm document (global ones and each process's), filtered."""
    found = list(doc.get("invariants", []))
    for p in doc.get("processes", []):
        found += p.get("invariants", [])
    if pid is not None:
        found = [i for i in found if i.get("pid") == pid]
    if scope is not None:
        found = [i for i in found if i.get("scope") == scope]
    return found


def invariant(doc, name, pid=None):
    for inv in invariants(doc, pid=pid):
        if inv["name"] == name:
            return inv
    return None


def process(doc, pid):
    for p in doc.get("processes", []):
        if p["pid"] == pid:
            return p
    return None


def coverage_vma(doc, start):
    want = harness.hexint(start)
    for v in doc.get("coverage", {}).get("vmas", []):
        if harness.hexint(v["start"]) == want:
            return v
    return None


# ------------------------------------------------------------------ captures

def capture(pid, directory, *options):
    return harness.smapsaudit("capture", pid, "-o", directory, *options)


def replay_args(directory):
    return ("--proc-root", os.path.join(directory, "proc"), "--sys-root", os.path.join(directory, "sys"))


def pagemap_pfns(directory, pid, start, end):
    """The PFNs a captured pagemap maps in [start, end)."""
    start, end = harness.hexint(start), harness.hexint(end)
    with open(os.path.join(directory, "proc", str(pid), "pagemap"), "rb") as f:
        f.seek(start // PAGE * 8)
        data = f.read((end - start) // PAGE * 8)
    pfns = []
    for i in range(0, len(data), 8):
        e = int.from_bytes(data[i:i + 8], "little")
        if e >> 63:
            pfns.append(e & ((1 << 55) - 1))
    return pfns


def clear_kpageflag(directory, pfns, bit):
    with open(os.path.join(directory, "proc", "kpageflags"), "r+b") as f:
        for pfn in sorted(set(pfns)):
            f.seek(pfn * 8)
            flags = int.from_bytes(f.read(8), "little")
            f.seek(pfn * 8)
            f.write((flags & ~(1 << bit)).to_bytes(8, "little"))


def edit_keyed(path, changes, sep=" "):
    """Rewrite "key value" lines (ksm_stat style) of a captured file: changes maps key → new value
    or a function of the old one."""
    with open(path) as f:
        lines = f.read().split("\n")
    done = set()
    for i, line in enumerate(lines):
        key, _, value = line.partition(sep)
        if key in changes:
            new = changes[key](int(value)) if callable(changes[key]) else changes[key]
            lines[i] = f"{key}{sep}{new}"
            done.add(key)
    missing = set(changes) - done
    if missing:
        raise AssertionError(f"{path}: no {sorted(missing)}")
    with open(path, "w") as f:
        f.write("\n".join(lines))


def write_file(path, value):
    with open(path, "w") as f:
        f.write(f"{value}\n")


def smaps_set_field(path, start, field, value):
    """Set ``field`` of the VMA at ``start`` in a captured smaps (or of the rollup, start None).
    Returns the old value in kB."""
    want = None if start is None else harness.hexint(start)
    with open(path) as f:
        lines = f.read().split("\n")
    inside, old = want is None, None
    for i, line in enumerate(lines):
        head = line.split(" ", 1)[0]
        if want is not None and "-" in head and not head.endswith(":"):
            try:
                inside = want is not None and int(head.split("-")[0], 16) == want
            except ValueError:
                pass
            continue
        if inside and line.startswith(field + ":"):
            parts = line.split()
            old = int(parts[1])
            width = len(line) - len(f"{field}:") - len(" kB")
            lines[i] = f"{field}:{str(value(old) if callable(value) else value).rjust(width)} kB"
            break
    if old is None:
        raise AssertionError(f"{path}: no {field} for {start}")
    with open(path, "w") as f:
        f.write("\n".join(lines))
    return old


def edit_hashes(path, edit_globals=None, edit_reading=None):
    """Edit the header of a captured smapsaudit-ksm-hashes file: edit_globals(index, dict) and
    edit_reading(index, dict) change the key/value pairs of its "globals N" and "reading N"
    lines in place."""
    with open(path) as f:
        lines = f.read().split("\n")
    for i, line in enumerate(lines):
        words = line.split()
        if len(words) < 2 or words[0] not in ("globals", "reading"):
            continue
        index = int(words[1])
        pairs = dict(zip(words[2::2], words[3::2]))
        fn = edit_globals if words[0] == "globals" else edit_reading
        if fn:
            fn(index, pairs)
            lines[i] = " ".join([words[0], words[1]] + [f"{k} {v}" for k, v in pairs.items()])
    with open(path, "w") as f:
        f.write("\n".join(lines))


def quiet_window(directory, pid, **globals_changes):
    """Make a capture's KSM window one in which no other process merged, skipped or copied KSM
    pages (this machine's neighbours do all the time): pages_skipped and cow_ksm of every
    "globals" line of the hashes file, and cow_ksm of the captured vmstat, become those of its
    first line. globals_changes sets other keys of every line (run=1...)."""
    hashes = os.path.join(directory, "proc", str(pid), "smapsaudit-ksm-hashes")
    with open(hashes) as f:
        first = next(line.split() for line in f if line.startswith("globals 0 "))
    first = dict(zip(first[2::2], first[3::2]))

    def edit(index, g):
        g["pages_skipped"], g["cow_ksm"] = first["pages_skipped"], first["cow_ksm"]
        g.update({k: str(v) for k, v in globals_changes.items()})
    edit_hashes(hashes, edit_globals=edit)
    vmstat = os.path.join(directory, "proc", "vmstat")
    if os.path.exists(vmstat) and int(first["cow_ksm"]) >= 0:
        edit_keyed(vmstat, {"cow_ksm": first["cow_ksm"]})


# ------------------------------------------------------------------ the audit, through the CLI

def audit_with_ksm(pid):
    """smapsaudit check --local --json: the report carries the per-process KSM checks."""
    cli = os.environ["SMAPSAUDIT"]
    proc = subprocess.run([cli, "check", "--local", "--json", str(pid)], capture_output=True, text=True,
                          timeout=120)
    if proc.returncode not in (0, 1, 3):
        raise OSError(f"{cli} check --local --json {pid}: exit {proc.returncode}: {proc.stderr.strip()}")
    return json.loads(proc.stdout)


# ------------------------------------------------------------------ the helper process

HELPER_SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ksm-helper.c")


def helper_binary():
    """ksm-helper, built from its source beside the workload (or in a temporary directory) when
    it is missing or older than the source: tests/meson.build only names the tests."""
    workload = os.environ.get("WORKLOAD")
    candidates = [os.path.dirname(os.path.abspath(workload))] if workload else []
    candidates.append(os.path.join(tempfile.gettempdir(), f"smapsaudit-ksm-helper-{os.getuid()}"))
    for directory in candidates:
        binary = os.path.join(directory, "ksm-helper")
        if os.path.exists(binary) and os.path.getmtime(binary) >= os.path.getmtime(HELPER_SOURCE):
            return binary
        try:
            os.makedirs(directory, exist_ok=True)
            tmp = f"{binary}.{os.getpid()}"
            subprocess.run([os.environ.get("CC", "cc"), "-O2", "-Wall", "-Werror", "-o", tmp, HELPER_SOURCE],
                           check=True, capture_output=True, text=True)
            os.replace(tmp, binary)
            return binary
        except (OSError, subprocess.CalledProcessError) as e:
            error = e
    raise AssertionError(f"cannot build {HELPER_SOURCE}: {getattr(error, 'stderr', error)}")


class Helper(harness.Workload):
    """A running ksm-helper, as harness.Workload runs the workload: ``truth`` is its JSON line, and
    it is stopped (its child killed by PID first) on exit."""

    def __init__(self, shape, mib=8):
        super().__init__(shape)
        self.argv = [helper_binary(), shape, str(mib)]

    def fork(self):
        """A child that maps the merged pages too; its PID."""
        os.kill(self.pid, signal.SIGUSR1)
        answer = self._read_truth()
        # harness.Workload kills truth["child_pid"] by PID while the parent still holds it
        self.truth["child_pid"] = answer["child_pid"]
        return answer["child_pid"]

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self._kill_child()
        super().stop()


def merged_fork(test, stack):
    """ksmd merges the helper's pages, is paused, and the helper forks: (session, helper, pages,
    child PID)."""
    session = stack.enter_context(KsmSession())
    h = stack.enter_context(Helper("fork"))
    total = sum(r["pages"] for r in h.truth["regions"])
    wait_merged(test, h.pid, total)
    session.pause()
    return session, h, total, h.fork()


if __name__ == "__main__":
    sys.exit("test_ksm_common.py is a library for the test_ksm_*.py files")
