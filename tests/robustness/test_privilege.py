#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Privilege: what a caller that is not root can get from smapsauditd.

- It cannot audit (or freeze) another user's process: AccessDenied, in the same words as for a
  PID that names no process (hidepid= keeps that from it too).
- Its own process's report holds no frame number: the only keys that mention PFNs are the
  mode flag "pfns" (a boolean: whether frame numbers were used) and KSM's counts.
- It cannot make the daemon read paths of its choosing: proc_root and sys_root are no D-Bus
  options (refused), so a report always describes the live process on the live kernel.
- The daemon, started as root outside systemd, keeps only the capabilities the walk needs
  (CAP_SYS_ADMIN, CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH) and those its access helper needs to
  become the caller (CAP_SETUID, CAP_SETGID), as the unit's CapabilityBoundingSet= says:
  effective, permitted and bounding, none inheritable or ambient.
- Run as its unit runs it (its own user "smapsaudit", those five capabilities ambient), it works
  the same: it sweeps, root's Check sees frame numbers, a user's Check of its own process is
  answered and of others' refused, and the access helper, which setresuid() no longer strips
  (no uid 0 to leave), gives up every capability itself.
"""

import contextlib
import json
import os
import pwd
import re
import shutil
import subprocess
import tempfile
import unittest

import robust
from robust import td

ACCESS_DENIED = "org.freedesktop.DBus.Error.AccessDenied"
INVALID_ARGS = "org.freedesktop.DBus.Error.InvalidArgs"
NEEDED_CAPS = {"sys_admin", "sys_ptrace", "dac_read_search", "setuid", "setgid"}
# Keys that may mention PFNs without holding one: the mode flag and KSM's counts.
PFN_KEYS_ALLOWED = {"pfns": bool, "ksm_pfns": int, "ksm_pfn_mapcount": int}
OTHER_USER = ["setpriv", "--reuid=65533", "--regid=65533", "--clear-groups"]


def check_as(user, target, *, freeze=False):
    """One Check through bus-flood, as nobody or root: (kind, name, text)."""
    argv = [robust.env_path("BUS_FLOOD"), "--connections", "1", "1", f"{target}:freeze" if freeze else str(target)]
    if user == "nobody":
        argv = td.NOBODY + argv
    r = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    line = r.stdout.split("\n")[0]
    if not line.startswith(("ok ", "err ")):
        raise AssertionError(f"bus-flood as {user}: {r.stdout} {r.stderr}")
    kind, _, _, _, rest = line.split(" ", 4)
    if kind == "ok":
        return kind, None, rest
    name, text = rest.split("\t", 1)
    return kind, name, text


def pfn_keys(value, path=""):
    """Every (path, value) whose key mentions a PFN or a physical frame."""
    out = []
    if isinstance(value, dict):
        for k, v in value.items():
            if re.search(r"pfn|physical|frame", k, re.I):
                out.append((f"{path}.{k}", k, v))
            out += pfn_keys(v, f"{path}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += pfn_keys(v, f"{path}[{i}]")
    return out


def state(pid):
    return robust.status_field(pid, "State")


class Privilege(robust.RobustDaemonTestCase):
    def other_users_sleeper(self):
        p = subprocess.Popen(OTHER_USER + ["sleep", "1000"])
        self.stack.callback(td.stop_popen, p)
        td.wait_for(lambda: robust.status_field(p.pid, "Name") == "sleep", what="sleep as uid 65533")
        return p.pid

    def test_no_audit_of_others(self):
        for owner, pid in (("root", self.sleeper().pid), ("uid 65533", self.other_users_sleeper())):
            for freeze in (False, True):
                kind, name, text = check_as("nobody", pid, freeze=freeze)
                self.assertEqual((kind, name), ("err", ACCESS_DENIED), f"nobody's Check of {owner}'s {pid}: {text}")
                self.assertIn(f"uid 65534 cannot read the memory of process {pid}, or there is no such process", text)
                self.assertNotIn("owned by", text)
                # refused before anything was done to it: not stopped, not traced
                self.assertNotIn(state(pid)[0], "tT", f"{owner}'s process was stopped: {state(pid)}")
                self.assertEqual(robust.status_field(pid, "TracerPid"), "0")
                print(f"nobody, Check {owner}'s {pid}{' freeze' if freeze else ''}: {name}: {text}")

    def test_no_such_process_reads_as_not_yours(self):
        gone = subprocess.Popen(["true"])
        gone.wait()
        kind, name, text = check_as("nobody", gone.pid)
        self.assertEqual((kind, name), ("err", ACCESS_DENIED), text)
        self.assertEqual(text, f"uid 65534 cannot read the memory of process {gone.pid}, or there is no such "
                               f"process: the daemon audits what the kernel lets you read (/proc/{gone.pid}/smaps "
                               f"opened as you).")

    def test_no_pfns(self):
        s = self.sleeper("nobody")
        kind, name, text = check_as("nobody", s.pid)
        self.assertEqual(kind, "ok", f"{name}: {text}")
        report = json.loads(text)
        self.assertEqual(report["pid"], s.pid)
        raw = [m.group(0) for m in re.finditer(r'"[^"]*pfn[^"]*"\s*:\s*[^,}\]]*', text, re.I)]
        print(f"'pfn' in nobody's report: {raw}")
        for path, key, value in pfn_keys(report):
            self.assertIn(key, PFN_KEYS_ALLOWED, f"{path} = {value!r} in nobody's report")
            self.assertIsInstance(value, PFN_KEYS_ALLOWED[key], f"{path} = {value!r}")
        # no VMA, finding or note carries a frame number either
        for v in report.get("vmas", []):
            for k in v:
                self.assertNotRegex(k, "(?i)pfn|frame")

    def test_no_proc_root_over_the_bus(self):
        s = self.sleeper("nobody")
        for user in ("nobody", "root"):
            for key in ("proc_root", "sys_root", "proc-root", "root"):
                r = td.call("Check", "ua{sv}", s.pid, 1, key, "s", "/tmp", user=user)
                self.assertNotEqual(r.returncode, 0, f"{user}: Check with {key} was accepted: {r.stdout[:300]}")
                self.assertIn("Unknown option", r.stderr, r.stderr)
        # and what is answered describes the live process on the live kernel
        report = json.loads(td.call_ok("Check", "ua{sv}", s.pid, 0, user="nobody")[0])
        self.assertEqual((report["pid"], report["comm"]), (s.pid, "sleep"))
        self.assertEqual(report["kernel"], os.uname().release)
        self.assertEqual(td.get_property("KernelRelease", user="nobody"), os.uname().release)

    def test_capabilities(self):
        pid = self.daemon.proc.pid
        eff, prm, bnd, inh, amb = (robust.caps(pid, w) for w in ("CapEff", "CapPrm", "CapBnd", "CapInh", "CapAmb"))
        print(f"smapsauditd (root, outside systemd): CapEff {eff:016x} CapPrm {prm:016x} CapBnd {bnd:016x} "
              f"CapInh {inh:016x} CapAmb {amb:016x}")
        print(f"  effective beyond what the walk needs: {sorted(robust.cap_names(eff) - NEEDED_CAPS)}")
        print(f"  NoNewPrivs: {robust.status_field(pid, 'NoNewPrivs')}, Seccomp: {robust.status_field(pid, 'Seccomp')}")
        # It must still have what it needs to work.
        self.assertTrue(NEEDED_CAPS <= robust.cap_names(eff) or eff == 0 and os.geteuid() != 0,
                        f"CapEff lacks {NEEDED_CAPS - robust.cap_names(eff)}")
        for which, mask in (("CapEff", eff), ("CapPrm", prm), ("CapBnd", bnd)):
            self.assertEqual(sorted(robust.cap_names(mask) - NEEDED_CAPS), [], f"{which} keeps more than the walk needs")
        self.assertEqual((inh, amb), (0, 0), "inheritable or ambient capabilities")


class OwnUser(unittest.TestCase):
    """The daemon as smapsauditd.service runs it: User=smapsaudit with the needed capabilities as
    ambient ones (setpriv does what systemd does). The user is the unit's (the bus policy lets it
    own the name); created for the test and removed after when the machine has none."""

    USER = "smapsaudit"

    def setUp(self):
        self.stack = contextlib.ExitStack()
        try:
            pwd.getpwnam(self.USER)
        except KeyError:
            subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
                            "--user-group", self.USER], check=True, capture_output=True)
            self.stack.callback(subprocess.run, ["userdel", self.USER], capture_output=True)
            # the bus read its policy before the user was there: let it know the user now
            r = td.busctl("call", "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                          "ReloadConfig")
            self.assertEqual(r.returncode, 0, r.stderr)
        self.uid = pwd.getpwnam(self.USER).pw_uid
        tmp = tempfile.mkdtemp(prefix="smapsauditd-own-user-")
        self.stack.callback(shutil.rmtree, tmp, ignore_errors=True)
        os.chmod(tmp, 0o755)
        caps = ",".join(f"+{c}" for c in sorted(NEEDED_CAPS))
        self.daemon = td.Daemon(tmp, "[Sweep]\nInterval=1h\nCPUBudgetPercent=100\n[Metrics]\nTextfilePath=\n",
                                wrapper=["setpriv", f"--reuid={self.USER}", f"--regid={self.USER}", "--clear-groups",
                                         f"--bounding-set=-all,{caps}", f"--inh-caps={caps}",
                                         f"--ambient-caps={caps}"])
        os.makedirs(self.daemon.state, mode=0o700)
        shutil.chown(self.daemon.state, self.USER, self.USER)
        self.stack.callback(self.daemon.kill)
        self.daemon.start()

    def tearDown(self):
        try:
            self.daemon.stop()
            report = robust.sanitizer_report(self.daemon.log_text())
            self.assertIsNone(report, f"smapsauditd's log has a sanitizer report:\n{report}")
        finally:
            self.stack.close()

    def sleeper(self, argv=()):
        p = subprocess.Popen([*argv, "sleep", "1000"])
        self.stack.callback(td.stop_popen, p)
        td.wait_for(lambda: robust.status_field(p.pid, "Name") == "sleep", what="sleep to start")
        return p.pid

    def test_capabilities(self):
        pid = self.daemon.proc.pid
        self.assertEqual(robust.status_field(pid, "Uid").split(), [str(self.uid)] * 4)
        for which in ("CapEff", "CapPrm", "CapAmb", "CapBnd"):
            self.assertEqual(robust.cap_names(robust.caps(pid, which)), NEEDED_CAPS, which)

    def test_works_as_its_own_user(self):
        td.sweep()
        status = td.get_property("StatusText")
        print(f"as {self.USER}: {status}")
        self.assertRegex(status, r"\(([1-9][0-9]*) audited")

        mine, roots, others = self.sleeper(td.NOBODY), self.sleeper(), self.sleeper(OTHER_USER)
        report = json.loads(td.call_ok("Check", "ua{sv}", others, 0)[0])
        self.assertTrue(report["mode"]["pfns"], "root's Check saw no frame numbers: CAP_SYS_ADMIN did not work")
        self.assertTrue(report["mode"]["kpageflags"], "root's Check read no kpageflags: CAP_DAC_READ_SEARCH did not work")

        # The helper must hold no capability once it is the caller: with any, the kernel would let
        # nobody read others' processes, and with the check that it has none but no capset(),
        # nobody could read even its own.
        kind, name, text = check_as("nobody", mine)
        self.assertEqual(kind, "ok", f"nobody's Check of its own process: {name}: {text[:500]}")
        self.assertEqual(json.loads(text)["pid"], mine)
        for pid in (roots, others):
            kind, name, text = check_as("nobody", pid)
            self.assertEqual((kind, name), ("err", ACCESS_DENIED), f"nobody's Check of {pid}: {text[:500]}")
            self.assertIn(f"uid 65534 cannot read the memory of process {pid}", text)


if __name__ == "__main__":
    robust.main()
