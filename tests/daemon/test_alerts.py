#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""smapsauditd's alerting outputs on a private system bus: the metrics (node_exporter textfile
and HTTP /metrics, checked by promtool), the Resolved and Regression signals, the per-release
baseline and regression, and state files that survive SIGKILL mid-write.

Reuses test_daemon.py's private bus, Daemon, and Capture (a replayed under-accounting bug: the
thp-protnone workload captured, then edited the way 6.1-6.4 printed smaps). Needs root.
"""

import contextlib
import json
import os
import queue
import random
import re
import shutil
import socket
import stat
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.request

import test_daemon as td

PROMTOOL = shutil.which("promtool")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def parse_metrics(text):
    """{(name, frozenset(labels)): value} of an exposition text (what tests need, not a full parser)."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$', line)
        if not m:
            raise AssertionError(f"not a sample line: {line!r}")
        labels = frozenset(re.findall(r'([a-zA-Z_]+)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
        out[(m.group(1), labels)] = float(m.group(3))
    return out


def samples(metrics, name, **labels):
    want = set(labels.items())
    return [v for (n, l), v in metrics.items() if n == name and want <= set(l)]


def promtool_check(testcase, text):
    if not PROMTOOL:
        return
    r = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True, text=True, timeout=60)
    testcase.assertEqual(r.returncode, 0, r.stdout + r.stderr + text)


class SignalMonitor:
    """busctl monitor for the daemon's signals, as root on the private bus: each signal's member
    and payload, in order."""

    def __init__(self):
        self.proc = subprocess.Popen(["busctl", "--system", "--json=short", "monitor", "--match",
                                      f"type='signal',interface='{td.IFACE}'"],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.queue = queue.Queue()
        self.seen = []
        self.ready = threading.Event()
        threading.Thread(target=self._read_out, daemon=True).start()
        threading.Thread(target=self._read_err, daemon=True).start()
        if not self.ready.wait(20):
            self.stop()
            raise AssertionError("busctl monitor did not start")

    def _read_out(self):
        for line in self.proc.stdout:
            with contextlib.suppress(ValueError):
                m = json.loads(line)
                if m.get("type") == "signal":
                    self.queue.put((m["member"], m["payload"]["data"]))

    def _read_err(self):
        for line in self.proc.stderr:
            if "Monitoring" in line:
                self.ready.set()

    def wait(self, member, predicate=lambda data: True, timeout=30):
        deadline = time.monotonic() + timeout
        for m, data in self.seen:
            if m == member and predicate(data):
                return data
        while time.monotonic() < deadline:
            try:
                m, data = self.queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            self.seen.append((m, data))
            if m == member and predicate(data):
                return data
        raise AssertionError(f"no {member} signal within {timeout} s; seen {[m for m, _ in self.seen]}")

    def drain(self, seconds):
        """Everything that arrives within seconds."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            with contextlib.suppress(queue.Empty):
                self.seen.append(self.queue.get(timeout=0.05))
        return self.seen

    def stop(self):
        td.stop_popen(self.proc)
        for pipe in (self.proc.stdout, self.proc.stderr):
            with contextlib.suppress(Exception):
                pipe.close()


class AlertsCase(unittest.TestCase):
    def setUp(self):
        self.stack = contextlib.ExitStack()
        self.tmp = tempfile.mkdtemp(prefix="smapsauditd-alerts-")
        self.stack.callback(shutil.rmtree, self.tmp, ignore_errors=True)

    def tearDown(self):
        self.stack.close()

    def daemon(self, config, args=(), directory=None, listen_socket=None):
        d = td.Daemon(directory or self.tmp, config, args, listen_socket)
        self.stack.callback(d.kill)
        return d.start()

    def monitor(self):
        m = SignalMonitor()
        self.stack.callback(m.stop)
        return m


class Metrics(AlertsCase):
    def test_textfile_and_http(self):
        """After a sweep the textfile and /metrics say the same, promtool accepts it, and it
        holds the kernel release, the audits and the sweep."""
        port = free_port()
        textdir = os.path.join(self.tmp, "textfile")
        os.mkdir(textdir)
        path = os.path.join(textdir, "smapsaudit.prom")
        d = self.daemon(f"[Sweep]\nInterval=1h\nCPUBudgetPercent=100\n"
                        f"[Metrics]\nTextfilePath={path}\nListenAddress={port}\n")
        last = td.wait_for(lambda: td.get_property("LastSweepUSec"), timeout=240, interval=0.2,
                           what="the first sweep")

        def both():
            with open(path) as f:
                text = f.read()
            http = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10)
            return text, http.read().decode(), http.headers["Content-Type"]

        # Written shortly after the sweep's end: wait until the file has it.
        td.wait_for(lambda: "\nsmapsaudit_last_sweep_timestamp_seconds " in both()[0], what="the sweep in the file")
        text, served, ctype = both()
        self.assertEqual(text, served)
        self.assertTrue(ctype.startswith("text/plain; version=0.0.4"), ctype)
        promtool_check(self, text)

        m = parse_metrics(text)
        with open("/proc/sys/kernel/osrelease") as f:
            release = f.read().strip()
        self.assertEqual(samples(m, "smapsaudit_kernel_info", release=release), [1.0])
        self.assertGreater(samples(m, "smapsaudit_processes_audited_total")[0], 0)
        self.assertAlmostEqual(samples(m, "smapsaudit_last_sweep_timestamp_seconds")[0], last / 1e6, places=3)
        self.assertEqual(samples(m, "smapsaudit_sweep_interval_seconds"), [3600.0])
        self.assertEqual(sum(samples(m, "smapsaudit_ksm_invariants")), 1.0)
        self.assertEqual(sum(samples(m, "smapsaudit_daemon_errors_total")), 0.0, d.log_text())
        self.assertNotIn("pid=", text)

        # Readable by node_exporter's user; the temporary never lingers where node_exporter reads.
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o644)
        self.assertEqual(os.listdir(textdir), ["smapsaudit.prom"])

        # A port alone is loopback only, and only /metrics is served.
        with open("/proc/net/tcp") as f:
            listening = [line.split()[1] for line in f if line.split()[3] == "0A"]
        self.assertIn(f"0100007F:{port:04X}", listening)
        with self.assertRaises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10)
        self.assertEqual(e.exception.code, 404)

        # Reload without ListenAddress=: the endpoint goes away.
        d.write_config(f"[Sweep]\nInterval=1h\n[Metrics]\nTextfilePath={path}\n")
        td.call_ok("Reload")
        with self.assertRaises(OSError):
            urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5)

    def test_socket_activation(self):
        """A listening socket passed as systemd passes smapsauditd-metrics.socket's serves /metrics;
        ListenAddress= is then not used, and a reload keeps the socket."""
        unused = free_port()
        listener = socket.socket()
        self.stack.callback(listener.close)
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        d = self.daemon(f"[Sweep]\nInterval=1h\n[Metrics]\nListenAddress={unused}\n", listen_socket=listener)

        http = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10)
        text = http.read().decode()
        self.assertTrue(samples(parse_metrics(text), "smapsaudit_kernel_info"), text)
        with self.assertRaises(OSError):
            urllib.request.urlopen(f"http://127.0.0.1:{unused}/metrics", timeout=5)
        self.assertIn(f"ListenAddress={unused} is not used", d.log_text())

        td.call_ok("Reload")
        self.assertEqual(urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).status, 200)

    def test_textfile_errors_are_counted(self):
        """A textfile that cannot be written is a daemon error in the metrics, served over HTTP."""
        port = free_port()
        self.daemon(f"[Sweep]\nInterval=1h\n[Metrics]\nTextfilePath={self.tmp}/nonexistent/x.prom\n"
                    f"ListenAddress=127.0.0.1:{port}\n")

        def errors():
            text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
            return samples(parse_metrics(text), "smapsaudit_daemon_errors_total", what="textfile")[0]
        td.wait_for(errors, what="the textfile error to be counted")
        # Once the first sweep is over nothing changes, so nothing is written, so no new error:
        # a failed write does not retry itself in a loop.
        td.wait_for(lambda: td.get_property("LastSweepUSec"), timeout=240, interval=0.2, what="the first sweep")
        time.sleep(0.5)
        before = errors()
        time.sleep(1.5)
        self.assertEqual(errors(), before)


class Replayed(AlertsCase):
    """A replayed under-accounting bug: Finding, then Resolved when the bug is gone; the metrics
    follow; a new kind on a new release is a regression naming both releases."""

    def setUp(self):
        super().setUp()
        self.capture = td.Capture(self, self.stack, self.tmp)
        self.textfile = os.path.join(self.tmp, "smapsaudit.prom")
        self.config = f"[Sweep]\nInterval=1h\n[Metrics]\nTextfilePath={self.textfile}\n"

    def metrics(self):
        with open(self.textfile) as f:
            text = f.read()
        promtool_check(self, text)
        return parse_metrics(text)

    def check(self, pid=None):
        return json.loads(td.call_ok("Check", "ua{sv}", pid or self.capture.pid, 0)[0])

    def test_finding_resolved_and_metrics(self):
        self.capture.add_bug()
        d = self.daemon(self.config, self.capture.daemon_args())
        mon = self.monitor()

        report = self.check()
        self.assertEqual(report["verdict"], "under-accounted", d.log_text())
        mon.wait("Finding", lambda data: data[0] == self.capture.pid and data[3] == "AnonHugePages")
        td.wait_for(lambda: samples(self.metrics(), "smapsaudit_open_findings", kind="under-accounted",
                                    field="AnonHugePages"), what="the open finding in the metrics")
        m = self.metrics()
        under = samples(m, "smapsaudit_under_accounted_bytes", field="AnonHugePages", source="smaps")
        region = self.capture.regions[1]
        self.assertEqual(sum(under), region["expect"]["AnonHugePages"] * 1024)
        self.assertEqual(samples(m, "smapsaudit_processes_with_findings"), [1.0])
        found = sum(samples(m, "smapsaudit_findings_total"))
        self.assertEqual(found, len(report["findings"]))
        # Without journald the entry is a line on stderr.
        self.assertIn(f"Process {self.capture.pid} (", d.log_text())

        # The same bug again: nothing new.
        self.check()
        time.sleep(0.5)
        self.assertEqual(sum(samples(self.metrics(), "smapsaudit_findings_total")), found)
        self.assertEqual([s for s, _ in mon.drain(0.5) if s == "Finding"], ["Finding"] * len(report["findings"]))

        # The kernel's numbers are right again: every finding resolves, "gone".
        self.capture.remove_bug()
        self.assertEqual(self.check()["verdict"], "consistent")
        data = mon.wait("Resolved", lambda data: data[3] == "AnonHugePages")
        self.assertEqual((data[0], data[2], data[8]), (self.capture.pid, "under-accounted", "gone"))
        self.assertIn("prot_none", data[7])
        self.assertEqual(json.loads(data[9])["resolved"], "gone")
        resolved = [s for s, _ in mon.drain(0.5) if s == "Resolved"]
        self.assertEqual(len(resolved), len(report["findings"]))
        td.wait_for(lambda: not samples(self.metrics(), "smapsaudit_open_findings"),
                    what="the open findings to leave the metrics")
        m = self.metrics()
        self.assertEqual(samples(m, "smapsaudit_processes_with_findings"), [0.0])
        self.assertEqual(sum(samples(m, "smapsaudit_findings_total")), found)   # a counter: it stays
        self.assertIn("resolved (a later audit no longer finds it)", d.log_text())

    def test_regression_names_both_releases(self):
        state = os.path.join(self.tmp, "state")

        # Release A: the capture as the kernel printed it, consistent.
        self.capture.set_release("6.0.0-A")
        d = self.daemon(self.config, self.capture.daemon_args())
        self.assertEqual(self.check()["verdict"], "consistent")
        # Only sweeps feed the baseline: a daemon replaying a capture sweeps it when asked.
        td.sweep()
        d.stop()
        with open(os.path.join(state, "baseline.json")) as f:
            baseline = json.load(f)
        a = next(r for r in baseline["releases"] if r["release"] == "6.0.0-A")
        self.assertGreaterEqual(a["audits"], 1)
        self.assertEqual(a["findings"], {})

        # Rebooted into release B, which under-accounts: a regression that names A and B.
        self.capture.set_release("6.1.0-B")
        self.capture.add_bug()
        d = self.daemon(self.config, self.capture.daemon_args())
        mon = self.monitor()
        self.assertEqual(self.check()["verdict"], "under-accounted")
        mon.wait("Finding", lambda data: data[3] == "AnonHugePages")
        self.assertEqual([s for s, _ in mon.drain(0.5) if s == "Regression"], [])
        # Root's Checks are reported, never counted for the release: a second one confirms nothing.
        self.assertEqual(self.check()["verdict"], "under-accounted")
        self.assertEqual([s for s, _ in mon.drain(1.0) if s == "Regression"], [])
        # One sweep is not a baseline's worth: the finding counts once a second sweep confirms it.
        td.sweep()
        self.assertEqual([s for s, _ in mon.drain(0.5) if s == "Regression"], [])
        td.sweep()
        data = mon.wait("Regression", lambda data: "AnonHugePages" in data[2])
        self.assertEqual(data[:2], ["6.0.0-A", "6.1.0-B"])
        self.assertEqual(data[2], "under-accounted/AnonHugePages/prot_none,thp")
        self.assertEqual(data[6], self.capture.pid)
        self.assertIn("Kernel regression: 6.1.0-B has under-accounted/AnonHugePages/prot_none,thp findings that "
                      "6.0.0-A did not have", d.log_text())
        td.wait_for(lambda: samples(self.metrics(), "smapsaudit_regression", previous_release="6.0.0-A",
                                    release="6.1.0-B") == [1.0], what="smapsaudit_regression")
        self.assertEqual(samples(self.metrics(), "smapsaudit_kernel_info", release="6.1.0-B",
                                 previous_release="6.0.0-A"), [1.0])
        regressions = len([s for s, _ in mon.drain(0.5) if s == "Regression"])
        d.stop()

        # Restarted on B: still a regression against A, and not announced again.
        d = self.daemon(self.config, self.capture.daemon_args())
        self.assertEqual(self.check()["verdict"], "under-accounted")
        time.sleep(0.5)
        self.assertEqual(len([s for s, _ in mon.drain(0.5) if s == "Regression"]), regressions)
        self.assertEqual(samples(self.metrics(), "smapsaudit_regression", previous_release="6.0.0-A",
                                 release="6.1.0-B"), [1.0])
        with open(os.path.join(state, "baseline.json")) as f:
            baseline = json.load(f)
        self.assertEqual(baseline["current"], "6.1.0-B")
        b = next(r for r in baseline["releases"] if r["release"] == "6.1.0-B")
        self.assertEqual(b["previous"], "6.0.0-A")
        self.assertIn("under-accounted/AnonHugePages/prot_none,thp", b["regressions"])
        d.stop()

    def test_state_survives_sigkill_mid_write(self):
        """SIGKILL at random moments while the daemon writes its history, baseline and textfile
        (alternating releases, so the baseline is rewritten at each start): every file parses."""
        self.capture.add_bug()
        state = os.path.join(self.tmp, "state")
        rng = random.Random(6)
        for i in range(12):
            self.capture.set_release("6.0.0-A" if i % 2 else "6.1.0-B")
            d = self.daemon(self.config, self.capture.daemon_args())
            callers = [subprocess.Popen(["busctl", "--system", "call", td.NAME, td.PATH, td.IFACE, "Check",
                                         "ua{sv}", str(self.capture.pid), "0"],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for _ in range(3)]
            time.sleep(rng.uniform(0, 0.4))
            td.kill_pid(d.proc.pid)
            d.proc.wait(timeout=10)
            for c in callers:
                td.stop_popen(c)

            with open(os.path.join(state, "baseline.json")) as f:
                baseline = json.load(f)
            self.assertEqual(baseline["schema"], "smapsaudit.baseline/1")
            with open(os.path.join(state, "findings.jsonl")) as f:
                lines = f.read().split("\n")
            # A line torn by the kill can only be the last; the daemon drops it on load.
            for line in lines[:-1]:
                json.loads(line)
            # The textfile is whole or absent (before the first write); a .tmp beside it may be half.
            if os.path.exists(self.textfile):
                self.assertTrue(samples(self.metrics(), "smapsaudit_kernel_info"))

        # And a daemon starts on what is left, with the history whole.
        d = self.daemon(self.config, self.capture.daemon_args())
        self.assertEqual(self.check()["verdict"], "under-accounted")
        history = json.loads(td.call_ok("GetFindings", "t", 0)[0])
        self.assertTrue(history)
        d.stop()


class UnitWithHttp(unittest.TestCase):
    def test_dropin_verifies(self):
        """The unit with systemd/metrics-http.conf appended (as a drop-in would apply it) verifies."""
        if not shutil.which("systemd-analyze"):
            self.skipTest("no systemd-analyze")
        tmp = tempfile.mkdtemp(prefix="smapsauditd-unit-")
        try:
            path = td.Unit().unit_copy(tmp)
            with open(path, "a") as f, open(td.env_path("METRICS_HTTP_DROPIN")) as dropin:
                f.write("\n" + dropin.read())
            r = td.run(["systemd-analyze", "verify", "--man=no", path])
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertNotIn("smapsauditd.service:", r.stderr, r.stderr)
            r = td.run(["systemd-analyze", "security", "--offline=yes", "--no-pager", path])
            m = re.search(r"Overall exposure level for smapsauditd.service: ([0-9.]+)", r.stdout)
            self.assertTrue(m, r.stdout + r.stderr)
            print(f"exposure with the HTTP drop-in: {m.group(1)}")
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    td.main()
