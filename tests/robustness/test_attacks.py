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
  (knobs.ksm_running: saved and restored);
- 20 Check calls at once of huge processes of its own (tens of thousands of VMAs, a terabyte
  reservation; half of them with no_scan, which would read its every pagemap entry): root's
  Check of a small process is answered promptly and a sweep ends meanwhile; the user gets
  MaxPerUser= of them, each ended within the deadline, and the rest refused;
- a Check whose caller leaves the bus is cancelled;
- a user that keeps asking for Checks of a huge process of its own is held to CPUPerUserSec= of
  CPU in its CPUWindowSec=: then refused (Busy) with when to try again, while root's Check of a
  small process is answered promptly and a sweep ends;
- (as root, through the CLI) --freeze of a process with a thread that cannot stop (blocked in
  vfork()) returns within its deadline, with every thread running and none traced;
- (as root, through the CLI) capture into a directory where the user planted links leaves what
  they point to untouched; a capture's directories are 0700 and its files 0600.

One file past ~500 lines: every attack runs as the same created user against the same daemon.
"""

import contextlib
import grp
import json
import os
import pwd
import random
import re
import shutil
import subprocess
import tempfile
import time
import unittest

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

# A process whose audit is long: a terabyte PROT_NONE reservation (a no_scan audit reads 2 GiB of
# pagemap a pass for it) and 20000 VMAs (every one of them walked and compared, pass after pass).
HUGE = r"""
import mmap, time
reserve = mmap.mmap(-1, 1 << 40, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS, prot=0)  # PROT_NONE: not committed
maps = [mmap.mmap(-1, 8192, prot=mmap.PROT_READ | (mmap.PROT_WRITE if i % 2 else 0)) for i in range(20000)]
for m in maps[1::2]:
    m[0] = 1
print("ready", flush=True)
time.sleep(1000)
"""
PROMPT_SEC = 1.5   # main took 1.92 s during this flood, this daemon 0.02 s
DEADLINE_SEC = 20
# A Check of HUGE costs 1.3 s of CPU here: two of them cross this budget.
CPU_PER_USER_SEC = 2
BUSY = "org.smapsaudit.Auditor1.Error.Busy"

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

    def flood(self, targets, n, timeout=300):
        """n Check calls at once over n connections (bus-flood), round robin over targets (PID or
        PID:OPTION): the running Popen, its output for answers()."""
        argv = self.argv + [robust.env_path("BUS_FLOOD"), "--connections", str(n), "--timeout-sec", str(timeout),
                            str(n), *map(str, targets)]
        return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def answers(self, flood, n, timeout=330):
        """[(kind, name, text, msec)] of a flood's calls."""
        stdout, stderr = flood.communicate(timeout=timeout)
        out = []
        for line in stdout.splitlines():
            if not line.startswith(("ok ", "err ")):
                continue
            kind, _, _, msec, rest = line.split(" ", 4)
            if kind == "ok":
                out.append((kind, None, rest, float(msec)))
            else:
                name, text = rest.split("\t", 1)
                out.append((kind, name, text, float(msec)))
        if len(out) != n:
            raise AssertionError(f"bus-flood as {self.name}: {stdout[-2000:]} {stderr[-2000:]}")
        return out

    def checks(self, pid, n=1, options=None, timeout=300):
        """n Check calls of pid at once: [(kind, name, text)]."""
        flood = self.flood([f"{pid}:{options}" if options else pid], n, timeout)
        return [a[:3] for a in self.answers(flood, n, timeout + 30)]


def comm(pid):
    with contextlib.suppress(OSError), open(f"/proc/{pid}/comm") as f:
        return f.read().strip()
    return None


class Attacks(robust.RobustDaemonTestCase):
    config = f"[Sweep]\nInterval=1h\n[Check]\nDeadlineSec={DEADLINE_SEC}\n"

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
                answers = self.user.answers(self.user.flood([p.pid], 2), 2)
                td.wait_for(lambda: comm(p.pid) == "suid-sleep", timeout=30, what="the setuid program to run")
                self.assertEqual(robust.status_field(p.pid, "Uid").split()[1], "0", "the program is not setuid root")
            finally:
                td.stop_popen(p)
            for kind, name, text, _ in answers:
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
            print(f"round {rnd}: exec after {delay:.2f} s: "
                  f"{[(k, (n or '').rsplit('.', 1)[-1], round(ms)) for k, n, _, ms in answers]} (answers, ms)")
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

    def huge_targets(self, n):
        procs = []
        for _ in range(n):
            p = self.user.start(["/usr/bin/python3", "-c", HUGE], wait_ready=True)
            self.stack.callback(td.stop_popen, p)
            procs.append(p)
        return procs

    def test_flood_of_checks(self):
        targets = [t for p in self.huge_targets(4) for t in (p.pid, f"{p.pid}:no_scan")]
        small = self.sleeper()
        flood = self.user.flood(targets, 20)
        self.stack.callback(td.stop_popen, flood)
        time.sleep(2)

        t0 = time.monotonic()
        report = json.loads(td.call_ok("Check", "ua{sv}", small.pid, 0, timeout=120)[0])
        took = time.monotonic() - t0
        print(f"root's Check of a sleep during the flood: {took:.2f} s")
        self.assertEqual(report["pid"], small.pid)
        self.assertLess(took, PROMPT_SEC, "root's Check waited behind the user's flood")

        before = td.get_property("LastSweepUSec")
        td.call_ok("Sweep")
        t0 = time.monotonic()
        td.wait_for(lambda: td.get_property("LastSweepUSec") > before, timeout=240, interval=0.5,
                    what="a sweep to end during the flood")
        print(f"a sweep during the flood: {time.monotonic() - t0:.1f} s; {td.get_property('StatusText')}")

        answers = self.user.answers(flood, 20)
        kinds = {}
        for kind, name, text, msec in answers:
            short = "ok" if kind == "ok" else name.rsplit(".", 1)[-1]
            kinds[short] = kinds.get(short, 0) + 1
            if kind == "ok" or name == AUDIT_FAILED:
                # MaxPerUser= calls, one thread: the second waited for the first
                self.assertLess(msec / 1000, 2 * DEADLINE_SEC + 30, f"a Check ran past its deadline: {text[:300]}")
            if name == AUDIT_FAILED:
                self.assertIn("ran past its deadline", text)
            elif name == ACCESS_DENIED:
                self.assertIn('Only root may ask for "freeze" or "no_scan"', text)
            elif kind != "ok":
                self.assertEqual(name, "org.smapsaudit.Auditor1.Error.Busy", text)
                self.assertIn("MaxPerUser=", text)
        print(f"the user's 20 Checks: {kinds}; smapsauditd: VmHWM "
              f"{robust.status_field(self.daemon.proc.pid, 'VmHWM')}, Threads "
              f"{robust.status_field(self.daemon.proc.pid, 'Threads')}")
        self.assertEqual(kinds.get("ok", 0) + kinds.get("AuditFailed", 0), 2, kinds)

    def test_caller_leaves(self):
        # Two Checks whose callers leave after a second: the user's audits run one at a
        # time, so however fast the first is, the second is still queued or walking then.
        targets = self.huge_targets(2)
        flood = self.user.flood([t.pid for t in targets], 2, timeout=1)
        flood.communicate(timeout=60)
        lines = [f"Cancelled the audit of process {t.pid}: its caller left the bus." for t in targets]
        td.wait_for(lambda: any(line in self.daemon.log_text() for line in lines), timeout=20,
                    what="the daemon to cancel the audit")
        # and its thread is free again: the same user's next Check is answered
        mine = subprocess.Popen(self.user.argv + ["sleep", "1000"])
        self.stack.callback(td.stop_popen, mine)
        td.wait_for(lambda: comm(mine.pid) == "sleep", what="sleep to start")
        kind, name, text = self.user.checks(mine.pid, timeout=60)[0]
        self.assertEqual(kind, "ok", f"{name}: {text[:500]}")


class CPUBudget(robust.RobustDaemonTestCase):
    config = (f"[Sweep]\nInterval=1h\n[Check]\nDeadlineSec={DEADLINE_SEC}\nCPUPerUserSec={CPU_PER_USER_SEC}s\n"
              "CPUWindowSec=1h\n")

    def test_flooding_user_is_held(self):
        user = Attacker(self.stack)
        target = user.start(["/usr/bin/python3", "-c", HUGE], wait_ready=True)
        self.stack.callback(td.stop_popen, target)
        small = self.sleeper()
        before = td.get_property("LastSweepUSec")
        td.call_ok("Sweep")

        audited, refusal, rounds, slowest = 0, None, 0, 0.0
        while refusal is None and rounds < 20:
            rounds += 1
            flood = user.flood([target.pid], 2)
            self.stack.callback(td.stop_popen, flood)
            time.sleep(0.5)
            t0 = time.monotonic()
            report = json.loads(td.call_ok("Check", "ua{sv}", small.pid, 0, timeout=120)[0])
            slowest = max(slowest, time.monotonic() - t0)
            self.assertEqual(report["pid"], small.pid)
            for kind, name, text, msec in user.answers(flood, 2):
                if kind == "ok" or name == AUDIT_FAILED:
                    audited += 1
                elif name == BUSY and "CPUPerUserSec=" in text:
                    refusal = text
                else:
                    self.fail(f"{name}: {text[:500]}")
        print(f"{user.name}: {audited} audits in {rounds} rounds of 2 Checks, then: {refusal}; "
              f"root's slowest Check meanwhile {slowest:.2f} s")
        self.assertIsNotNone(refusal, f"{audited} audits in {rounds} rounds and the user was never held to "
                                      f"CPUPerUserSec={CPU_PER_USER_SEC}s")
        self.assertLess(slowest, PROMPT_SEC, "root's Check waited behind the user's flood")
        m = re.search(r"uid (\d+) used (.+) of CPU time .* try again in (.+)\.$", refusal)
        self.assertIsNotNone(m, refusal)
        self.assertEqual(int(m.group(1)), user.uid)
        # The audit that crosses the budget runs to its end (its deadline bounds it); none starts after it.
        used = sum(float(n) * {"min": 60, "s": 1, "ms": 1e-3, "us": 1e-6}[unit]
                   for n, unit in re.findall(r"(\d+)(min|ms|us|s)\b", m.group(2)))
        self.assertGreaterEqual(used, CPU_PER_USER_SEC, refusal)
        self.assertLess(used, CPU_PER_USER_SEC + DEADLINE_SEC, refusal)
        wait = m.group(3)
        self.assertRegex(wait, r"^(\d+min )?\d+s$|^1h$", refusal)

        # Still held: refused at once, whatever it asks.
        t0 = time.monotonic()
        kind, name, text = user.checks(target.pid)[0]
        self.assertEqual((kind, name), ("err", BUSY), text)
        self.assertIn("CPUPerUserSec=", text)
        self.assertLess(time.monotonic() - t0, 10)

        # and the sweep went on meanwhile
        td.wait_for(lambda: td.get_property("LastSweepUSec") > before, timeout=240, interval=0.5,
                    what="a sweep to end while the user flooded")


def task_states(pid):
    """{tid: (state, TracerPid)} of a process's threads."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        with contextlib.suppress(OSError):
            out[int(tid)] = (robust.status_field(f"{pid}/task/{tid}", "State")[0],
                             robust.status_field(f"{pid}/task/{tid}", "TracerPid"))
    return out


class Freeze(unittest.TestCase):
    def test_thread_that_cannot_stop(self):
        with contextlib.ExitStack() as stack:
            p = subprocess.Popen([robust.env_path("VFORK_HOLD")], stdout=subprocess.PIPE, text=True)
            stack.callback(td.stop_popen, p)
            _, holder, child = p.stdout.readline().split()
            stack.callback(td.kill_pid, int(child))   # first: then the holder's vfork() returns
            self.assertEqual(task_states(p.pid)[int(holder)][0], "D", "the holder is not blocked in vfork()")

            t0 = time.monotonic()
            cli = subprocess.Popen([robust.env_path("SMAPSAUDIT"), "check", "--local", "--freeze", str(p.pid)],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            stack.callback(td.stop_popen, cli)
            try:
                _, err = cli.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                self.fail(f"--freeze did not return in 30 s; threads: {task_states(p.pid)}")
            took = time.monotonic() - t0
            states = task_states(p.pid)
            print(f"--freeze of a process with a thread in vfork(): exit {cli.returncode} in {took:.2f} s: "
                  f"{err.strip()}; threads {states}")
            self.assertNotEqual(cli.returncode, 0)
            self.assertIn(f"thread {holder} did not stop within 2 s", err)
            self.assertLess(took, 10)
            for tid, (state, tracer) in states.items():
                self.assertNotIn(state, "tT", f"thread {tid} left stopped")
                self.assertEqual(tracer, "0", f"thread {tid} left traced")


def tree_modes(top):
    """{path: (mode, is_link)} of everything below top."""
    out = {}
    for root, dirs, files in os.walk(top):
        for name in dirs + files:
            path = os.path.join(root, name)
            st = os.lstat(path)
            out[os.path.relpath(path, top)] = (st.st_mode & 0o7777, os.path.islink(path))
    return out


class Capture(unittest.TestCase):
    def setUp(self):
        self.stack = contextlib.ExitStack()
        self.addCleanup(self.stack.close)
        self.user = Attacker(self.stack)
        self.sleeper = subprocess.Popen(["sleep", "1000"])
        self.stack.callback(td.stop_popen, self.sleeper)

    def capture(self, out):
        return subprocess.run([robust.env_path("SMAPSAUDIT"), "capture", str(self.sleeper.pid), "-o", out],
                              capture_output=True, text=True, timeout=300)

    def test_planted_links(self):
        pid = self.sleeper.pid
        victims = {}
        for name in ("smaps", "kpageflags", "status", "hashes"):
            path = os.path.join(self.user.dir, f"victim-{name}")
            with open(path, "w") as f:
                f.write(f"precious {name}\n")
            os.chmod(path, 0o640)
            victims[path] = (f"precious {name}\n", 0o640)
        planted = os.path.join(self.user.dir, "out")
        links = {f"proc/{pid}/smaps": "victim-smaps", "proc/kpageflags": "victim-kpageflags",
                 f"proc/{pid}/status": "victim-status", f"proc/{pid}/smapsaudit-ksm-hashes": "victim-hashes"}
        # the user plants them, in a directory of its own
        os.chmod(self.user.dir, 0o1777)
        script = "; ".join([f"mkdir -p {planted}/proc/{pid}"] +
                           [f"ln -s {self.user.dir}/{t} {planted}/{n}" for n, t in links.items()])
        subprocess.run(self.user.argv + ["sh", "-c", script], check=True)
        r = self.capture(planted)
        print(f"capture into {planted} with planted links: exit {r.returncode}: {r.stderr.strip()[-300:]}")
        for path, (text, mode) in victims.items():
            with open(path) as f:
                self.assertEqual(f.read(), text, f"{path} was written through a planted link")
            self.assertEqual(os.stat(path).st_mode & 0o7777, mode, f"{path} changed mode")
        self.assertNotEqual(r.returncode, 0, "a capture went into a directory that was not empty")

        # an empty directory of the user's is no place for root's capture either
        theirs = os.path.join(self.user.dir, "empty")
        subprocess.run(self.user.argv + ["mkdir", theirs], check=True)
        r = self.capture(theirs)
        self.assertNotEqual(r.returncode, 0, "a capture went into another user's directory")
        self.assertEqual(os.listdir(theirs), [])

    def test_modes(self):
        out = os.path.join(self.user.dir, "fresh")
        r = self.capture(out)
        self.assertEqual(r.returncode, 0, r.stderr)
        modes = tree_modes(out)
        self.assertEqual(os.stat(out).st_mode & 0o7777, 0o700)
        self.assertIn(f"proc/{self.sleeper.pid}/smaps", modes)
        for path, (mode, link) in modes.items():
            self.assertFalse(link, f"{path} is a link")
            is_dir = os.path.isdir(os.path.join(out, path))
            self.assertEqual(mode, 0o700 if is_dir else 0o600, f"{path}: {mode:o}")


if __name__ == "__main__":
    robust.main()
