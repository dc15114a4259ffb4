# SPDX-License-Identifier: LGPL-2.1-or-later
"""What the robustness tests share. The daemon on a private system bus comes from
tests/daemon/test_daemon.py (imported, not copied): PrivateBus, Daemon, DaemonTestCase, busctl,
call, get_property, Sleeper and its main(). This adds what those do not have: sanitizer reports,
a daemon's fd count, RSS and capabilities, and a daemon test case that fails on a daemon crash
or sanitizer report.

Paths come from the environment, as tests/robustness/meson.build passes them.
"""

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "daemon"))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

import test_daemon as td  # noqa: E402  (needs the path above)


class Terminated(Exception):
    """meson's timeout (SIGTERM), raised as an error of the running test."""


def _on_sigterm(signum, frame):
    # test_daemon and harness turn SIGTERM into KeyboardInterrupt, which unittest lets through
    # without tearDown or cleanups: the daemon, the bus and temporary directories would stay.
    # An ordinary exception fails the running test and runs its tearDown and cleanups; the
    # run stops after it.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    for result in list(getattr(unittest.signals, "_results", {})):
        result.stop()
    raise Terminated(f"signal {signum} (meson's timeout?): stopping after this test's cleanup")

env_path = td.env_path
NAME, PATH, IFACE = td.NAME, td.PATH, td.IFACE
NOBODY = td.NOBODY

# What AddressSanitizer, LeakSanitizer and UBSan print when they find something.
SANITIZER_REPORT = re.compile(r"ERROR: (Address|Leak|Memory|Thread)Sanitizer|runtime error: |"
                              r"SUMMARY: (Address|Leak|UndefinedBehavior)Sanitizer|==\d+==ERROR: ")

# Exit statuses of a crash: SIGABRT and SIGSEGV as a shell reports them, and as subprocess does.
CRASH_STATUSES = {134, 139, -6, -11, -7, -4, -8, 135, 132, 136}


def sanitizer_report(text):
    """The first lines of a sanitizer report in text, or None."""
    m = SANITIZER_REPORT.search(text or "")
    if not m:
        return None
    start = text.rfind("\n", 0, m.start()) + 1
    return text[start:start + 3000]


def sanitized():
    """Whether this build has ASan/UBSan (meson's b_sanitize)."""
    return os.environ.get("BUILD_SANITIZE", "none") not in ("", "none")


def fd_count(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def fd_targets(pid):
    out = []
    for fd in sorted(os.listdir(f"/proc/{pid}/fd"), key=int):
        with contextlib.suppress(OSError):
            out.append(f"{fd} -> {os.readlink(f'/proc/{pid}/fd/{fd}')}")
    return out


def status_field(pid, name):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key == name:
                return value.strip()
    return None


def vm_rss_kb(pid):
    return int(status_field(pid, "VmRSS").split()[0])


CAP_NAMES = ["chown", "dac_override", "dac_read_search", "fowner", "fsetid", "kill", "setgid", "setuid",
             "setpcap", "linux_immutable", "net_bind_service", "net_broadcast", "net_admin", "net_raw",
             "ipc_lock", "ipc_owner", "sys_module", "sys_rawio", "sys_chroot", "sys_ptrace", "sys_pacct",
             "sys_admin", "sys_boot", "sys_nice", "sys_resource", "sys_time", "sys_tty_config", "mknod",
             "lease", "audit_write", "audit_control", "setfcap", "mac_override", "mac_admin", "syslog",
             "wake_alarm", "block_suspend", "audit_read", "perfmon", "bpf", "checkpoint_restore"]


def cap_names(mask):
    return {CAP_NAMES[i] if i < len(CAP_NAMES) else f"cap_{i}" for i in range(64) if mask >> i & 1}


def caps(pid, which="CapEff"):
    return int(status_field(pid, which), 16)


def run_capture(argv, timeout=120, env=None, user=None):
    """Runs argv with no stdin; returns the CompletedProcess and the seconds it took."""
    argv = (NOBODY if user == "nobody" else []) + [str(a) for a in argv]
    t0 = time.monotonic()
    r = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout,
                       env=env, errors="replace")
    return r, time.monotonic() - t0


class RobustDaemonTestCase(td.DaemonTestCase):
    """DaemonTestCase that also fails when the daemon crashed, exited non-zero on SIGTERM, or
    logged a sanitizer report."""

    config = "[Sweep]\nInterval=1h\n"

    def setUp(self):
        try:
            super().setUp()
        except BaseException:
            # no tearDown after a failed setUp: what it started goes now
            if hasattr(self, "stack"):
                self.stack.close()
            raise

    def tearDown(self):
        # Stop the daemon and read its log before DaemonTestCase removes the directory.
        proc = self.daemon.proc
        log, stop_error = "", None
        try:
            if self.daemon.alive():
                self.daemon.stop()
        except AssertionError as e:
            stop_error = e
        finally:
            if os.path.exists(self.daemon.log):
                log = self.daemon.log_text()
            super().tearDown()
        report = sanitizer_report(log)
        self.assertIsNone(report, f"smapsauditd's log has a sanitizer report:\n{report}")
        if stop_error:
            raise stop_error
        if proc is not None and proc.returncode is not None and proc.returncode != -9:
            self.assertEqual(proc.returncode, 0, f"smapsauditd exited {proc.returncode}:\n{log[-4000:]}")


def main():
    """test_daemon's main(): a private system bus for the module, the summary line, root only;
    SIGTERM handled as above (installed here: test_daemon and harness install theirs on import)."""
    signal.signal(signal.SIGTERM, _on_sigterm)
    td.main()
