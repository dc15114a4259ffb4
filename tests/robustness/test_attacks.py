#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Attacks on smapsauditd by a local user that is not root (a user this test creates; setpriv
acts as it). The daemon must give it what the kernel would, and nothing more:

- its own process that made itself non-dumpable (prctl PR_SET_DUMPABLE 0, as ssh-agent does),
  a setgid program it runs, and a program with a file capability: the kernel refuses it
  /proc/PID/smaps for each, so the daemon refuses its Check, in the words it uses for a PID that
  names no process;
- a large process of its own that executes a setuid-root program (the test's own copy of sleep)
  while a Check of it is queued or walked, over many rounds with varied delays: every answer is
  a report of the user's own program or the error "process N executed a new program during the
  audit; check again", and no answer ever names a VMA of the setuid program;
- GetKSMStatus while root's KSM workload has merged pages: the user sees the global counters and
  its own KSM process, never root's (the kernel keeps ksm_stat owner-only). This one turns ksmd on
  (knobs.ksm_running: saved and restored).
"""

import contextlib
import grp
import json
import os
import pwd
import random
import shutil
import subprocess
import tempfile
import time

import robust
from robust import td

import knobs  # noqa: E402  (tests/integration, on the path robust sets)

ACCESS_DENIED = "org.freedesktop.DBus.Error.AccessDenied"
AUDIT_FAILED = "org.smapsaudit.Auditor1.Error.AuditFailed"
EXECED = "executed a new program during the audit; check again"
NOT_READABLE = "cannot read the memory of process"

# A target that maps many small VMAs (alternating protections keep them apart) and some touched
# memory, so that its walk takes a while; says "ready", sleeps, then executes argv[1].
BIG_EXEC = r"""
import mmap, os, sys, time
maps = [mmap.mmap(-1, 8192, prot=mmap.PROT_READ | (mmap.PROT_WRITE if i % 2 else 0)) for i in range(6000)]
for m in maps[1::2]:
    m[0] = 1
blob = bytearray(192 << 20)
for i in range(0, len(blob), 4096):
    blob[i] = 1
print("ready", flush=True)
time.sleep(float(sys.argv[2]))
os.execv(sys.argv[1], [sys.argv[1], "30"])
"""

NON_DUMPABLE = r"""
import ctypes, time
ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0)   # PR_SET_DUMPABLE 0
print("ready", flush=True)
time.sleep(1000)
"""


KSM_MERGEABLE = r"""
import mmap, time
m = mmap.mmap(-1, 256 << 12, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
m.write(b"\x5a" * len(m))
m.madvise(mmap.MADV_MERGEABLE)
print("ready", flush=True)
time.sleep(1000)
"""


def ksm_merging_pages(pid):
    with contextlib.suppress(OSError), open(f"/proc/{pid}/ksm_stat") as f:
        for line in f:
            if line.startswith("ksm_merging_pages"):
                return int(line.split()[1])
    return 0


def report_pids(report):
    """Every PID a KSM report speaks of: its processes, findings and invariants."""
    return {e["pid"] for key in ("processes", "findings", "invariants") for e in report.get(key, []) if "pid" in e}


class Attacker:
    """A user of its own, created with useradd and removed with userdel; files of the test in a
    directory it can reach (not on a nosuid mount)."""

    def __init__(self, stack):
        self.name = f"saatk{os.getpid() % 100000}"
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "--user-group",
                        self.name], check=True, capture_output=True)
        stack.callback(subprocess.run, ["userdel", self.name], capture_output=True)
        pw = pwd.getpwnam(self.name)
        self.uid, self.gid = pw.pw_uid, pw.pw_gid
        self.argv = ["setpriv", f"--reuid={self.uid}", f"--regid={self.gid}", "--init-groups"]
        self.dir = tempfile.mkdtemp(prefix="smapsaudit-attack-", dir="/var/tmp")
        stack.callback(shutil.rmtree, self.dir, ignore_errors=True)
        os.chmod(self.dir, 0o755)

    def program(self, name, mode, group=0):
        """A copy of sleep owned by root and group, with mode (setuid, setgid bits)."""
        path = os.path.join(self.dir, name)
        shutil.copy("/usr/bin/sleep", path)
        os.chown(path, 0, group)
        os.chmod(path, mode)
        return path

    def start(self, argv, wait_ready=False):
        p = subprocess.Popen(self.argv + argv, stdout=subprocess.PIPE if wait_ready else subprocess.DEVNULL,
                             text=True)
        if wait_ready:
            line = p.stdout.readline()
            if line.strip() != "ready":
                td.stop_popen(p)
                raise AssertionError(f"{argv[:3]} as {self.name} did not start: {line!r}")
        return p

    def call(self, method):
        r = subprocess.run(self.argv + ["busctl", "--system", "--json=short", "call", td.NAME, td.PATH, td.IFACE,
                                        method], capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            raise AssertionError(f"{method} as {self.name}: {r.stderr}")
        return json.loads(r.stdout)["data"]

    def checks(self, pid, n=1, options=None, timeout=300):
        """n Check calls of pid at once (bus-flood, n connections): [(kind, name, text)]."""
        target = f"{pid}:{options}" if options else str(pid)
        argv = self.argv + [robust.env_path("BUS_FLOOD"), "--connections", str(n), "--timeout-sec", str(timeout),
                            str(n), target]
        r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout + 30)
        out = []
        for line in r.stdout.splitlines():
            if not line.startswith(("ok ", "err ")):
                continue
            kind, _, _, _, rest = line.split(" ", 4)
            if kind == "ok":
                out.append((kind, None, rest))
            else:
                name, text = rest.split("\t", 1)
                out.append((kind, name, text))
        if len(out) != n:
            raise AssertionError(f"bus-flood as {self.name}: {r.stdout[-2000:]} {r.stderr[-2000:]}")
        return out


def comm(pid):
    with contextlib.suppress(OSError), open(f"/proc/{pid}/comm") as f:
        return f.read().strip()
    return None


class Attacks(robust.RobustDaemonTestCase):
    def setUp(self):
        super().setUp()
        self.user = Attacker(self.stack)

    def assert_refused(self, pid, what):
        kind, name, text = self.user.checks(pid)[0]
        print(f"{what} (PID {pid}): {kind} {name or ''} {text[:160]}")
        self.assertEqual((kind, name), ("err", ACCESS_DENIED), f"{what}: {text[:2000]}")
        self.assertIn(f"uid {self.user.uid} {NOT_READABLE} {pid}, or there is no such process", text)

    def kernel_refuses(self, pid):
        """What the kernel answers the user for /proc/PID/smaps."""
        r = subprocess.run(self.user.argv + ["cat", f"/proc/{pid}/smaps"], capture_output=True, text=True)
        return r.returncode != 0 and "Permission denied" in r.stderr

    def test_own_non_dumpable_process(self):
        p = self.user.start(["/usr/bin/python3", "-c", NON_DUMPABLE], wait_ready=True)
        self.stack.callback(td.stop_popen, p)
        self.assertTrue(self.kernel_refuses(p.pid), "the kernel lets the user read its non-dumpable process")
        self.assert_refused(p.pid, "own non-dumpable process")

    def test_setgid_program(self):
        other = grp.getgrnam("daemon").gr_gid
        path = self.user.program("sgid-sleep", 0o2755, group=other)
        p = self.user.start([path, "1000"])
        self.stack.callback(td.stop_popen, p)
        td.wait_for(lambda: comm(p.pid) == "sgid-sleep", what="the setgid program to start")
        self.assertTrue(self.kernel_refuses(p.pid), "the kernel lets the user read its setgid program")
        self.assert_refused(p.pid, "setgid program")

    def test_file_capability_program(self):
        if not shutil.which("setcap"):
            self.skipTest("no setcap (libcap2-bin): scripts/deps installs it")
        path = self.user.program("fcap-sleep", 0o755)
        subprocess.run(["setcap", "cap_net_raw+ep", path], check=True)
        p = self.user.start([path, "1000"])
        self.stack.callback(td.stop_popen, p)
        td.wait_for(lambda: comm(p.pid) == "fcap-sleep", what="the program with a file capability to start")
        self.assertTrue(self.kernel_refuses(p.pid), "the kernel lets the user read its program with a capability")
        self.assert_refused(p.pid, "program with a file capability")

    def test_exec_of_setuid_program(self):
        suid = self.user.program("suid-sleep", 0o4755)
        rng = random.Random(13)
        seen = {"report": 0, "execed": 0, "refused": 0}
        # Two Checks at once: the second waits for the first (one audit of a process at a time), so
        # that an exec during the first's walk happens while the second is queued.
        for rnd in range(10):
            delay = rng.choice([0.0, 0.05, 0.2, 0.5, 1.0, 2.0]) + rng.random() * 0.1
            p = self.user.start(["/usr/bin/python3", "-c", BIG_EXEC, suid, f"{delay:.3f}"], wait_ready=True)
            try:
                answers = self.user.checks(p.pid, n=2)
                td.wait_for(lambda: comm(p.pid) == "suid-sleep", timeout=30, what="the setuid program to run")
                self.assertEqual(robust.status_field(p.pid, "Uid").split()[1], "0", "the program is not setuid root")
            finally:
                td.stop_popen(p)
            for kind, name, text in answers:
                if kind == "ok":
                    report = json.loads(text)
                    names = {v.get("name", "") for v in report.get("vmas", [])}
                    self.assertFalse([n for n in names if "suid-sleep" in n],
                                     f"round {rnd}: a report names the setuid program's VMAs")
                    self.assertNotEqual(report["comm"], "suid-sleep", f"round {rnd}: a report of the setuid program")
                    self.assertTrue(any("python3" in n for n in names), f"round {rnd}: not the user's program")
                    seen["report"] += 1
                elif name == AUDIT_FAILED and f"process {p.pid} {EXECED}" in text:
                    seen["execed"] += 1
                elif name == ACCESS_DENIED and NOT_READABLE in text:
                    seen["refused"] += 1
                else:
                    self.fail(f"round {rnd}: {kind} {name}: {text[:1000]}")
            print(f"round {rnd}: exec after {delay:.2f} s: {[(k, (n or '').rsplit('.', 1)[-1]) for k, n, _ in answers]}")
        print(f"answers: {seen}")
        # the point of the rounds: the exec did land while Checks were queued or walked
        self.assertGreater(seen["execed"], 0, "no round stopped an audit at the exec")

    def test_ksm_status_of_root_processes(self):
        with contextlib.ExitStack() as stack:
            stack.enter_context(knobs.ksm_running())
            root = subprocess.Popen([robust.env_path("WORKLOAD"), "ksm"], stdout=subprocess.PIPE, text=True)
            stack.callback(td.stop_popen, root)
            self.assertTrue(root.stdout.readline().startswith("{"), "the KSM workload did not start")
            mine = self.user.start(["/usr/bin/python3", "-c", KSM_MERGEABLE], wait_ready=True)
            stack.callback(td.stop_popen, mine)
            td.wait_for(lambda: ksm_merging_pages(root.pid) > 0 and ksm_merging_pages(mine.pid) > 0, timeout=90,
                        what="ksmd to merge both workloads")

            before = json.loads(td.call_ok("GetKSMStatus")[0]).get("checked_usec", 0)
            td.call_ok("Sweep")
            td.wait_for(lambda: json.loads(td.call_ok("GetKSMStatus")[0]).get("checked_usec", 0) > before,
                        timeout=300, interval=0.5, what="a sweep and its KSM check")

            as_root = json.loads(td.call_ok("GetKSMStatus")[0])
            self.assertTrue(as_root["available"], as_root)
            self.assertIn(root.pid, report_pids(as_root["report"]), "root's view lacks root's KSM workload")
            as_user = json.loads(self.user.call("GetKSMStatus")[0])
            pids = report_pids(as_user["report"])
            print(f"GetKSMStatus: root sees {sorted(report_pids(as_root['report']))}, {self.user.name} sees "
                  f"{sorted(pids)} (root's workload {root.pid}, the user's {mine.pid})")
            self.assertNotIn(root.pid, pids, "the user is shown root's KSM workload")
            for pid in pids:
                self.assertEqual(robust.status_field(pid, "Uid").split(), [str(self.user.uid)] * 4,
                                 f"the user is shown PID {pid}, not its own")
            self.assertIn(mine.pid, pids, "the user is not shown its own KSM process")
            self.assertEqual(as_user["report"]["global"], as_root["report"]["global"], "global counters differ")


if __name__ == "__main__":
    robust.main()
