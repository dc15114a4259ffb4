#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""smapsauditd on a private system bus.

Longer than the ~500 lines a file is held to: its cases share one dbus-daemon and one daemon
fixture (the module other daemon tests import as td), which a split would start twice.

The test starts its own dbus-daemon with a system-bus configuration that includes the repo's
policy file (systemd/org.smapsaudit.Auditor1.conf), points DBUS_SYSTEM_BUS_ADDRESS at it, and
starts smapsauditd with a private state directory and configuration. Clients are busctl (the
calls an administrator would type), tests/daemon/bus-client-tool (cli/bus-client.c, the CLI's
bus half) and, where meson passes SMAPSAUDIT, the CLI itself for --local comparisons.

Needs root: the daemon owns its name as root (the policy), and the access-control tests run
clients as nobody with setpriv. Every process the test starts is killed by its PID on the way
out, whatever happened.

Environment (meson sets it): SMAPSAUDITD, BUS_CLIENT_TOOL, DBUS_POLICY, SMAPSAUDITD_UNIT,
INTROSPECTION_XML; optionally SMAPSAUDIT (the CLI) and WORKLOAD (tests/workload).
"""

import contextlib
import errno
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest
import xml.etree.ElementTree as ET

NAME = "org.smapsaudit.Auditor1"
PATH = "/org/smapsaudit/Auditor1"
IFACE = "org.smapsaudit.Auditor1"
NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]

# A system bus with the repo's policy file: {socket} and {policy} to fill in.
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "private-system-bus.conf")) as _f:
    BUS_CONFIG = _f.read()


def env_path(name, required=True):
    path = os.environ.get(name)
    if not path:
        if required:
            raise RuntimeError(f"{name} is not set: run through meson test")
        return None
    return path


def _raise_on_sigterm(signum, frame):
    # meson ends a test that timed out with SIGTERM: unwind, so finally blocks kill what we started.
    raise KeyboardInterrupt(f"signal {signum}")


signal.signal(signal.SIGTERM, _raise_on_sigterm)


def kill_pid(pid):
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def stop_popen(p):
    if p.poll() is None:
        kill_pid(p.pid)
    with contextlib.suppress(Exception):
        p.wait(timeout=10)


class PrivateBus:
    """A dbus-daemon of system type on a socket in a temporary directory."""

    def __init__(self, directory):
        self.socket = os.path.join(directory, "system_bus_socket")
        config = os.path.join(directory, "bus.conf")
        with open(config, "w") as f:
            f.write(BUS_CONFIG.format(socket=self.socket, policy=env_path("DBUS_POLICY")))
        # Clients running as nobody must reach the socket.
        os.chmod(directory, 0o755)
        out = subprocess.run(["dbus-daemon", f"--config-file={config}", "--fork", "--print-address=1",
                              "--print-pid=1", "--nopidfile"], check=True, capture_output=True, text=True,
                             timeout=30)
        lines = out.stdout.split()
        self.address, self.pid = lines[0], int(lines[1])

    def stop(self):
        kill_pid(self.pid)


def run(argv, user=None, timeout=60, env=None):
    argv = (NOBODY if user == "nobody" else []) + list(map(str, argv))
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env)


def busctl(*args, user=None, timeout=60):
    return run(["busctl", "--system", "--json=short", *args], user=user, timeout=timeout)


def call(method, signature=None, *args, user=None, timeout=60):
    argv = ["call", NAME, PATH, IFACE, method]
    if signature:
        argv += [signature, *args]
    return busctl(*argv, user=user, timeout=timeout)


def call_ok(method, signature=None, *args, user=None, timeout=60):
    r = call(method, signature, *args, user=user, timeout=timeout)
    if r.returncode != 0:
        raise AssertionError(f"{method} failed: {r.stderr.strip()}")
    return json.loads(r.stdout)["data"] if r.stdout.strip() else None


def get_property(name, user=None):
    r = busctl("get-property", NAME, PATH, IFACE, name, user=user)
    if r.returncode != 0:
        raise AssertionError(f"get-property {name} failed: {r.stderr.strip()}")
    return json.loads(r.stdout)["data"]


def tool(*args, user=None, timeout=60, env=None):
    """bus-client-tool: JSON on success; 'error ERRNO UNREACHABLE' and the message on failure."""
    return run([env_path("BUS_CLIENT_TOOL"), *args], user=user, timeout=timeout, env=env)


def tool_error(result):
    head, _, message = result.stdout.partition("\n")
    m = re.match(r"error (\d+) (\d)", head)
    if not m:
        raise AssertionError(f"not an error: {result.stdout!r} {result.stderr!r}")
    return int(m.group(1)), m.group(2) == "1", message.strip()


def wait_for(predicate, timeout=20, interval=0.05, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}")


def sweep_done(after_usec=0):
    # A sweep audits every process on the machine: give it time on a loaded one.
    return wait_for(lambda: get_property("LastSweepUSec") > after_usec and
                    not get_property("StatusText").startswith(("Sweeping", "Listing")),
                    timeout=240, interval=0.2, what="a sweep to finish")


def sweep():
    """One sweep, asked for and waited for: a daemon that replays a capture sweeps only when asked."""
    before = get_property("LastSweepUSec")
    call_ok("Sweep")
    return sweep_done(before)


def sanitized():
    """Whether smapsauditd is an AddressSanitizer build: its RSS is then ASan's quarantine and shadow,
    and a probe child's NUMA scans cross terabytes of shadow mappings, so neither is the daemon's own."""
    ldd = subprocess.run(["ldd", env_path("SMAPSAUDITD")], capture_output=True, text=True).stdout
    return "libasan" in ldd


class Daemon:
    """smapsauditd with its own config file and state directory."""

    def __init__(self, directory, config="", args=(), listen_socket=None, wrapper=(), env=None):
        self.directory = directory
        # What runs the daemon (setpriv, as another user), or nothing: as root.
        self.wrapper = list(wrapper)
        # Variables added to the daemon's environment.
        self.env = dict(env or {})
        # A listening socket handed over as systemd's socket activation does (fd 3, LISTEN_*).
        self.listen_socket = listen_socket
        self.config = os.path.join(directory, "smapsauditd.conf")
        self.state = os.path.join(directory, "state")
        self.log = os.path.join(directory, "smapsauditd.log")
        self.args = list(args)
        self.proc = None
        self.write_config(config)

    def write_config(self, text):
        # The built-in TextfilePath= is node_exporter's real directory: a test's metrics go to
        # its own directory unless its configuration says where.
        if "TextfilePath=" not in text:
            text = f"{text.rstrip()}\n[Metrics]\nTextfilePath={os.path.join(self.directory, 'smapsaudit.prom')}\n"
        # The kernel's probe (ProbeOnBoot=) runs for seconds and defers the first sweep: only the
        # tests of the probe want it.
        if "ProbeOnBoot=" not in text:
            text = f"{text.rstrip()}\n[Sweep]\nProbeOnBoot=no\n"
        with open(self.config, "w") as f:
            f.write(text)

    def start(self):
        argv = [*self.wrapper, env_path("SMAPSAUDITD"), f"--config={self.config}", f"--state-dir={self.state}",
                "--debug", *self.args]
        extra = {}
        if self.listen_socket:
            # LISTEN_PID is the daemon's own PID: the shell's, which exec keeps.
            argv = ["/bin/sh", "-c", 'LISTEN_PID=$$ LISTEN_FDS=1 LISTEN_FDNAMES=metrics exec "$@"', "sh", *argv]
            fd = self.listen_socket.fileno()
            extra = {"pass_fds": (3,), "preexec_fn": lambda: os.dup2(fd, 3)}
        with open(self.log, "a") as log:
            self.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                         env=dict(os.environ, **self.env), **extra)
        wait_for(self._owns_name, what="smapsauditd to own its bus name")
        return self

    def _owns_name(self):
        if self.proc.poll() is not None:
            raise AssertionError(f"smapsauditd exited with {self.proc.returncode}:\n{self.log_text()}")
        r = busctl("call", "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                   "NameHasOwner", "s", NAME)
        return r.returncode == 0 and json.loads(r.stdout)["data"] == [True]

    def log_text(self):
        with open(self.log) as f:
            return f.read()

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                stop_popen(self.proc)
                raise AssertionError("smapsauditd did not stop on SIGTERM")

    def kill(self):
        if self.proc:
            stop_popen(self.proc)


class Sleeper:
    """An idle process to audit, as root or as nobody."""

    def __init__(self, user=None):
        self.proc = subprocess.Popen((NOBODY if user == "nobody" else []) + ["sleep", "1000"])
        self.pid = self.proc.pid
        # setpriv execs sleep in the same process: wait until it has.
        wait_for(lambda: self._comm() == "sleep", what="sleep to start")

    def _comm(self):
        with contextlib.suppress(OSError), open(f"/proc/{self.pid}/comm") as f:
            return f.read().strip()

    def kill(self):
        stop_popen(self.proc)


class DaemonTestCase(unittest.TestCase):
    config = "[Sweep]\nInterval=1h\n"
    daemon_args = ()

    def setUp(self):
        self.stack = contextlib.ExitStack()
        self.tmp = tempfile.mkdtemp(prefix="smapsauditd-test-")
        self.stack.callback(shutil.rmtree, self.tmp, ignore_errors=True)
        self.daemon = Daemon(self.tmp, self.config, self.daemon_args)
        self.stack.callback(self.daemon.kill)
        self.daemon.start()

    def tearDown(self):
        try:
            if self.daemon.alive():
                self.daemon.stop()
        finally:
            self.stack.close()

    def sleeper(self, user=None):
        s = Sleeper(user)
        self.stack.callback(s.kill)
        return s

    def wait_sweep_done(self, after_usec=0):
        return sweep_done(after_usec)


class Introspection(DaemonTestCase):
    def test_matches_docs(self):
        """The shipped XML describes exactly what the daemon serves."""
        r = busctl("introspect", "--xml-interface", NAME, PATH)
        self.assertEqual(r.returncode, 0, r.stderr)
        live = ET.fromstring(r.stdout)
        docs = ET.parse(env_path("INTROSPECTION_XML")).getroot()

        def members(root):
            iface = next(i for i in root.iter("interface") if i.get("name") == IFACE)
            out = {}
            for m in iface:
                if m.tag in ("method", "signal"):
                    # A method's args are "in" unless they say otherwise (the D-Bus specification).
                    out[(m.tag, m.get("name"))] = [(a.get("type"), a.get("name"), a.get("direction", "in")
                                                    if m.tag == "method" else None) for a in m.iter("arg")]
                elif m.tag == "property":
                    out[(m.tag, m.get("name"))] = (m.get("type"), m.get("access"))
            return out

        self.assertEqual(members(live), members(docs))


class Check(DaemonTestCase):
    def test_check_live_process(self):
        s = self.sleeper()
        data = call_ok("Check", "ua{sv}", s.pid, 0)
        report = json.loads(data[0])
        self.assertEqual(report["schema"], "smapsaudit.report/1")
        self.assertEqual(report["pid"], s.pid)
        self.assertEqual(report["comm"], "sleep")
        self.assertIn(report["verdict"], ("consistent", "under-accounted", "over-accounted", "inconclusive"))

    def test_same_verdict_and_figures_as_local(self):
        cli = env_path("SMAPSAUDIT", required=False)
        if not cli:
            self.skipTest("SMAPSAUDIT (the CLI) not built")
        s = self.sleeper()
        bus = json.loads(call_ok("Check", "ua{sv}", s.pid, 0)[0])
        r = run([cli, "check", "--local", "--json", s.pid])
        self.assertIn(r.returncode, (0, 1, 3), r.stderr)
        local = json.loads(r.stdout)
        local = local[0] if isinstance(local, list) else local
        self.assertEqual(bus["verdict"], local["verdict"])
        # An idle sleep does not change: the same figures both ways.
        for field in ("Rss", "Anonymous", "Swap"):
            if field in local.get("totals", {}):
                self.assertEqual(bus["totals"][field], local["totals"][field], field)
        self.assertEqual(len(bus.get("findings", [])), len(local.get("findings", [])))

    def test_cli_check_through_daemon(self):
        cli = env_path("SMAPSAUDIT", required=False)
        if not cli:
            self.skipTest("SMAPSAUDIT (the CLI) not built")
        s = self.sleeper()
        r = run([cli, "check", "--json", s.pid])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(str(s.pid), r.stdout)

    def test_report_too_large_for_a_message(self):
        # 20480 VMAs: the full JSON report is tens of megabytes, more than a D-Bus message may
        # carry (dbus-daemon disconnects a sender that tries). The reply leaves the consistent
        # VMAs out and says so, and the daemon is still on the bus afterwards.
        harness, _, _ = integration_modules(self)
        with harness.Workload("many-vmas", "--size-mb", 80) as w:
            report = json.loads(call_ok("Check", "ua{sv}", w.pid, 0, timeout=240)[0])
            self.assertEqual(report["pid"], w.pid)
            self.assertGreaterEqual(len(report["vmas"]) + report["vmas_omitted"], w.truth["vmas"])
            self.assertTrue(all(v["verdict"] != "consistent" for v in report["vmas"]), report["vmas"][:3])
            self.assertGreaterEqual(report["totals"]["Rss"]["walk_kb"], w.truth["rss_kb"])
            self.assertTrue(any("left out of this compact report" in n for n in report["notes"]), report["notes"])
        self.assertTrue(self.daemon.alive(), self.daemon.log_text()[-2000:])
        self.assertEqual(get_property("Version"), get_property("Version"))

    def test_bus_client_check(self):
        s = self.sleeper()
        r = tool("check", s.pid)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(json.loads(r.stdout)["pid"], s.pid)

    def test_options(self):
        s = self.sleeper()
        report = json.loads(call_ok("Check", "ua{sv}", s.pid, 2, "freeze", "b", "true", "no_scan", "b", "true")[0])
        self.assertEqual(report["pid"], s.pid)
        if "mode" in report:
            self.assertTrue(report["mode"].get("frozen"), report["mode"])
            self.assertFalse(report["mode"].get("pagemap_scan"), report["mode"])

        r = call("Check", "ua{sv}", s.pid, 1, "bogus", "b", "true")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("Unknown option", r.stderr)
        r = call("Check", "ua{sv}", s.pid, 1, "freeze", "s", "yes")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("boolean", r.stderr)
        r = call("Check", "ua{sv}", 0, 0)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("not a PID", r.stderr)

    def test_no_such_process(self):
        p = subprocess.Popen(["true"])
        p.wait()
        r = tool("check", p.pid)
        self.assertEqual(tool_error(r)[:2], (errno.ESRCH, False), r.stdout)
        self.assertIn(f"No process with PID {p.pid}", r.stdout)

    def test_ksm_status_placeholder(self):
        r = tool("ksm")
        self.assertEqual(r.returncode, 0, r.stdout)
        self.assertIn("available", json.loads(r.stdout))


class Access(DaemonTestCase):
    def test_nobody_checks_own_process(self):
        s = self.sleeper("nobody")
        r = tool("check", s.pid, user="nobody")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(json.loads(r.stdout)["pid"], s.pid)

    def test_nobody_refused_for_root_process_with_reason(self):
        s = self.sleeper()
        r = tool("check", s.pid, user="nobody")
        err, unreachable, message = tool_error(r)
        self.assertEqual(err, errno.EACCES, r.stdout)
        self.assertFalse(unreachable)
        # the same words as for a PID that names no process: who owns what is not said
        self.assertIn(f"uid 65534 cannot read the memory of process {s.pid}, or there is no such process", message)
        self.assertNotIn("owned by", message)

    def test_root_only_methods(self):
        for method in ("Sweep", "Reload"):
            r = call(method, user="nobody")
            self.assertNotEqual(r.returncode, 0, f"nobody may call {method}")
        # Properties and the unprivileged methods answer nobody.
        self.assertEqual(get_property("Version", user="nobody"), get_property("Version"))
        self.assertEqual(call_ok("GetFindings", "t", 0, user="nobody"), ["[]"])


class Unreachable(unittest.TestCase):
    def test_no_daemon(self):
        env = dict(os.environ)
        r = tool("check", os.getpid(), env=env)
        err, unreachable, _ = tool_error(r)
        self.assertTrue(unreachable, f"errno {err} is not 'unreachable'")

    def test_no_bus(self):
        env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS="unix:path=/nonexistent/system_bus_socket")
        for args in (("check", os.getpid()), ("status",), ("findings", "0"), ("sweep",), ("watch", "1")):
            r = tool(*args, env=env)
            err, unreachable, _ = tool_error(r)
            self.assertTrue(unreachable, f"{args}: errno {err} is not 'unreachable'")


class Churn(DaemonTestCase):
    config = "[Sweep]\nInterval=1s\nCPUBudgetPercent=50\n"

    def test_processes_exit_mid_audit(self):
        """Hundreds of processes, each audited and killed while the audit runs, sweeps going on."""
        answered = vanished = 0
        for batch in range(10):
            targets = [subprocess.Popen(["sleep", "30"]) for _ in range(30)]
            clients = []
            try:
                clients = [subprocess.Popen([env_path("BUS_CLIENT_TOOL"), "check", str(t.pid)],
                                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                           for t in targets]
                if batch % 3 == 0:
                    call_ok("Sweep")
                for t in targets[::2]:
                    kill_pid(t.pid)
                for t, c in zip(targets, clients):
                    out, _ = c.communicate(timeout=60)
                    if c.returncode == 0:
                        self.assertEqual(json.loads(out)["pid"], t.pid)
                        answered += 1
                    else:
                        err, unreachable, message = tool_error(subprocess.CompletedProcess([], 1, out, ""))
                        self.assertEqual(err, errno.ESRCH, message)
                        vanished += 1
            finally:
                for p in targets + clients:
                    stop_popen(p)
            self.assertTrue(self.daemon.alive(), self.daemon.log_text())

        self.assertEqual(answered + vanished, 300)
        self.assertGreater(answered, 0)
        s = self.sleeper()
        self.assertEqual(json.loads(call_ok("Check", "ua{sv}", s.pid, 0)[0])["pid"], s.pid)


class Sweeps(DaemonTestCase):
    config = "[Sweep]\nInterval=1h\nCPUBudgetPercent=100\n"

    def test_first_sweep_and_status(self):
        self.wait_sweep_done()
        r = tool("status")
        self.assertEqual(r.returncode, 0, r.stdout)
        status = dict(line.split("=", 1) for line in r.stdout.strip().split("\n"))
        self.assertEqual(status["covered"], "1", status)
        self.assertGreater(int(status["audited"]), 0)
        self.assertIn("Sweep covered all", status["status"])
        self.assertEqual(int(status["interval_usec"]), 3600 * 10**6)

    def test_check_during_sweep_is_prompt(self):
        self.wait_sweep_done()
        before = get_property("LastSweepUSec")
        s = self.sleeper()
        tool("sweep")
        t0 = time.monotonic()
        self.assertEqual(json.loads(call_ok("Check", "ua{sv}", s.pid, 0)[0])["pid"], s.pid)
        self.assertLess(time.monotonic() - t0, 10)
        self.wait_sweep_done(before)

    def test_next_sweep_starts_a_new_round(self):
        # Processes that started after a sweep went through every process are in the next round
        # with everyone else: the next sweep audits the whole machine again, not only them.
        self.wait_sweep_done()
        before = get_property("LastSweepUSec")
        self.sleeper()
        tool("sweep")
        self.wait_sweep_done(before)
        self.assertTrue(get_property("SweepCovered"), get_property("StatusText"))
        self.assertIn("Sweep covered all", get_property("StatusText"))

    def test_reload_changes_interval(self):
        self.assertEqual(get_property("SweepIntervalUSec"), 3600 * 10**6)
        self.daemon.write_config("[Sweep]\nInterval=42s\n")
        os.kill(self.daemon.proc.pid, signal.SIGHUP)
        wait_for(lambda: get_property("SweepIntervalUSec") == 42 * 10**6, what="SIGHUP to change the interval")
        wait_for(lambda: "interval 42s" in get_property("StatusText"), what="StatusText to name the interval")

        self.daemon.write_config("[Sweep]\nInterval=43s\n")
        call_ok("Reload")
        self.assertEqual(get_property("SweepIntervalUSec"), 43 * 10**6)

    def test_metrics_in_the_test_directory(self):
        # Never node_exporter's real directory, where the machine's Prometheus would read them
        self.wait_sweep_done()
        path = os.path.join(self.tmp, "smapsaudit.prom")
        wait_for(lambda: os.path.exists(path), what=f"the sweep's metrics in {path}")


class Budget(DaemonTestCase):
    # 0.000001 % of 1 h is 36 µs: less than any audit, fast tier included, so each sweep stops
    # after its first.
    config = "[Sweep]\nInterval=1h\nCPUBudgetPercent=0.000001\n"

    def test_budget_stops_sweep_and_says_so(self):
        self.wait_sweep_done()
        self.assertFalse(get_property("SweepCovered"))
        # The first audit crosses the budget (or, if the process exited or was unreadable, the
        # CPU spent trying does): one at most.
        self.assertLessEqual(get_property("SweepProcessesAudited"), 1)
        self.assertIn("did not cover", get_property("StatusText"))
        self.assertIn("CPUBudgetPercent", get_property("StatusText"))


def integration_modules(testcase):
    """tests/integration's harness, knobs and replay modules; skips the test when the CLI and the
    workloads are not built."""
    if not env_path("SMAPSAUDIT", required=False) or not env_path("WORKLOAD", required=False):
        testcase.skipTest("needs SMAPSAUDIT and WORKLOAD (the CLI's capture and the test workloads)")
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
    import harness
    import knobs
    import replay
    return harness, knobs, replay


class Capture:
    """The thp-protnone workload (a THP region whose second half is PROT_NONE) captured into
    DIRECTORY/capture, for a daemon that reads it as its /proc and /sys (--proc-root, --sys-root).
    add_bug() edits it the way 6.1-6.4 printed smaps for the PROT_NONE half; set_release() changes
    the kernel release the library reads (proc/sys/kernel/osrelease below the proc root)."""

    def __init__(self, testcase, stack, directory):
        harness, knobs, self.replay = integration_modules(testcase)
        # Knob before workload, so the workload is gone before the knob is restored.
        stack.enter_context(knobs.thp_madvise())
        w = stack.enter_context(harness.Workload("thp-protnone"))
        if w.skip_reason():
            testcase.skipTest(w.skip_reason())
        self.dir = os.path.join(directory, "capture")
        result = self.replay.capture(w.pid, self.dir)
        testcase.assertEqual(result.rc, 0, result.describe())
        w.kill()
        self.pid = w.pid
        self.regions = w.truth["regions"]

    # What add_bug() edits. Never copy a whole capture: pagemap, kpageflags and kpagecount are
    # sparse files as large as the address space and physical memory.
    EDITED = ("smaps", "smaps_rollup")

    def proc_file(self, name):
        return os.path.join(self.dir, "proc", str(self.pid), name)

    def add_bug(self):
        for name in self.EDITED:
            if not os.path.exists(self.proc_file(name) + ".pristine"):
                shutil.copyfile(self.proc_file(name), self.proc_file(name) + ".pristine")
        none = self.regions[1]
        removed = self.replay.zero_vma_fields(self.proc_file("smaps"), none["start"])
        self.replay.reduce_rollup(self.proc_file("smaps_rollup"), removed)

    def remove_bug(self):
        """The files as captured again: the kernel's numbers are right."""
        for name in self.EDITED:
            shutil.copyfile(self.proc_file(name) + ".pristine", self.proc_file(name))

    def set_release(self, release):
        path = os.path.join(self.dir, "proc", "sys", "kernel", "osrelease")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(release + "\n")

    def daemon_args(self):
        return (f"--proc-root={self.dir}/proc", f"--sys-root={self.dir}/sys")


class ReplayedBug(unittest.TestCase):
    """A capture edited the way 6.1-6.4 printed smaps for a PROT_NONE THP, swept by a daemon that
    reads it as its /proc: a Finding signal, a history entry, and the entry outlives SIGKILL."""

    def setUp(self):
        self.stack = contextlib.ExitStack()

    def tearDown(self):
        self.stack.close()

    def make_capture(self):
        tmp = tempfile.mkdtemp(prefix="smapsauditd-replay-")
        self.stack.callback(shutil.rmtree, tmp, ignore_errors=True)
        capture = Capture(self, self.stack, tmp)
        capture.add_bug()
        return tmp, capture.dir, capture.pid

    def test_finding_signal_history_and_sigkill(self):
        tmp, capture, pid = self.make_capture()
        daemon = Daemon(tmp, "[Sweep]\nInterval=1h\nCPUBudgetPercent=100\n",
                        args=(f"--proc-root={capture}/proc", f"--sys-root={capture}/sys"))
        self.stack.callback(daemon.kill)
        daemon.start()

        # A daemon that replays a capture sweeps only when asked: ask for the captured PID with
        # Check, which records and announces findings as a sweep does.
        report = json.loads(call_ok("Check", "ua{sv}", pid, 0)[0])
        self.assertEqual(report["verdict"], "under-accounted", daemon.log_text())
        findings = json.loads(call_ok("GetFindings", "t", 0)[0])
        ours = [f for f in findings if f["pid"] == pid]
        self.assertTrue(any(f["field"] == "AnonHugePages" and f["kind"] == "under-accounted" for f in ours),
                        f"{findings}\n{daemon.log_text()}")
        self.assertEqual(len(ours), len(report["findings"]))
        for f in ours:
            self.assertEqual(f["schema"], "smapsaudit.finding/1")
            self.assertIn("prot_none", f["tags"])
            self.assertEqual(f["origin"], "check")

        # The same findings again are not new: no second history entry.
        call_ok("Check", "ua{sv}", pid, 0)
        self.assertEqual(json.loads(call_ok("GetFindings", "t", 0)[0]), findings)

        # A watcher subscribes to the name, so it follows the daemon across the restart below.
        # Another, as nobody, must hear nothing: findings name other users' processes.
        watcher = subprocess.Popen([env_path("BUS_CLIENT_TOOL"), "watch", "1"], stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True)
        self.stack.callback(stop_popen, watcher)
        nobody = subprocess.Popen(NOBODY + [env_path("BUS_CLIENT_TOOL"), "watch", "1"], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
        self.stack.callback(stop_popen, nobody)
        time.sleep(0.5)

        # SIGKILL loses nothing that was announced.
        since = time.time_ns() // 1000
        os.kill(daemon.proc.pid, signal.SIGKILL)
        daemon.proc.wait(timeout=10)
        daemon.start()
        after = json.loads(call_ok("GetFindings", "t", 0)[0])
        self.assertEqual(after[:len(findings)], findings)

        # The restarted daemon does not remember what it announced: a Check announces the bug
        # again, and the watcher, subscribed to the name, hears it from the new daemon.
        call_ok("Check", "ua{sv}", pid, 0)
        out, err = watcher.communicate(timeout=60)
        self.assertEqual(watcher.returncode, 0, out + err)
        signalled = json.loads(out.strip().split("\n")[0])
        self.assertEqual((signalled["pid"], signalled["kind"]), (pid, "under-accounted"))
        self.assertGreaterEqual(signalled["realtime_usec"], since)
        self.assertIn(signalled, json.loads(call_ok("GetFindings", "t", since)[0]))
        time.sleep(1)
        self.assertIsNone(nobody.poll(), "nobody's watch ended: it received a Finding signal")
        daemon.stop()


class Unit(unittest.TestCase):
    def unit_copy(self, tmp):
        # verify checks that ExecStart exists: point it at the binary in the build directory.
        with open(env_path("SMAPSAUDITD_UNIT")) as f:
            text = f.read()
        text = re.sub(r"^ExecStart=.*$", f"ExecStart={env_path('SMAPSAUDITD')}", text, flags=re.M)
        path = os.path.join(tmp, "smapsauditd.service")
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_verify_and_security(self):
        if not shutil.which("systemd-analyze"):
            self.skipTest("no systemd-analyze")
        tmp = tempfile.mkdtemp(prefix="smapsauditd-unit-")
        try:
            path = self.unit_copy(tmp)
            r = run(["systemd-analyze", "verify", "--man=no", path])
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertNotIn("smapsauditd.service:", r.stderr, r.stderr)
            r = run(["systemd-analyze", "security", "--offline=yes", "--no-pager", path])
            m = re.search(r"Overall exposure level for smapsauditd.service: ([0-9.]+)", r.stdout)
            self.assertTrue(m, r.stdout + r.stderr)
            # 1.8 before the access helper; its CAP_SETUID/CAP_SETGID and setgroups/setresgid/setresuid
            # (the only ones of @privileged) cost 0.3: nothing else may add to it.
            self.assertLessEqual(float(m.group(1)), 2.1, r.stdout)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


def main():
    if os.geteuid() != 0:
        print("SKIP: smapsauditd's bus tests need root")
        sys.exit(77)
    tmp = tempfile.mkdtemp(prefix="smapsauditd-bus-")
    bus = None
    try:
        bus = PrivateBus(tmp)
        os.environ["DBUS_SYSTEM_BUS_ADDRESS"] = bus.address
        os.environ.pop("NOTIFY_SOCKET", None)
        program = unittest.main(exit=False, verbosity=2)
        result = program.result
        print(f"{result.testsRun - len(result.failures) - len(result.errors) - len(result.skipped)} passed, "
              f"{len(result.failures) + len(result.errors)} failed, {len(result.skipped)} skipped")
        sys.exit(0 if result.wasSuccessful() else 1)
    finally:
        if bus:
            bus.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
