#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""smapsauditd's ProbeOnBoot= on test_daemon.py's private system bus.

The first start under a kernel release runs the probe in the background (the bus answers while it
runs, the first sweep waits for it), keeps it in the state directory, and serves it: GetProbe,
ProbeState and LastProbeUSec, smapsaudit_kernel_bug and smapsaudit_probe_timestamp_seconds, one
log line (and journal entry, where there is a journal) per bug present, `smapsaudit probe --daemon`.
A second start under the same release does not probe again; another release (named by
SMAPSAUDITD_PROBE_RELEASE, the daemon's testing aid) does; a probe the daemon's stop interrupted
is run again at the next start, and leaves no process behind.

What this kernel has is the integration tests' business: here the daemon's outputs must agree
with each other and with the probe's own JSON. Needs root.
"""

import json
import os
import re
import time
import unittest

import test_daemon as td
from test_alerts import AlertsCase, parse_metrics, promtool_check, samples

PROBE_TIMEOUT = 120
CONFIG = "[Sweep]\nInterval=1h\nCPUBudgetPercent=100\nProbeOnBoot=yes\n"
STATES = ("present", "absent", "not-testable", "error")


def children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(c) for c in f.read().split()]
    except OSError:
        return []


def running_release():
    with open("/proc/sys/kernel/osrelease") as f:
        return f.read().strip()


class ProbeOnBoot(AlertsCase):
    def probing_daemon(self, release, config=CONFIG):
        d = td.Daemon(self.tmp, config, env={"SMAPSAUDITD_PROBE_RELEASE": release})
        self.stack.callback(d.kill)
        return d

    def textfile(self):
        with open(os.path.join(self.tmp, "smapsaudit.prom")) as f:
            return f.read()

    def wait_probe_done(self, d):
        td.wait_for(lambda: d.alive() and td.get_property("ProbeState") == "done", timeout=PROBE_TIMEOUT,
                    interval=0.2, what="the probe to end")
        # the metrics follow a change within a tenth of a second
        td.wait_for(lambda: "\nsmapsaudit_probe_timestamp_seconds " in self.textfile(), what="the probe's metrics")

    def state_releases(self):
        with open(os.path.join(self.tmp, "state", "probe.json")) as f:
            doc = json.load(f)
        self.assertEqual(doc["schema"], "smapsaudit.probe-state/1")
        return {e["release"]: e for e in doc["releases"]}

    def check_outputs(self, d, release):
        """GetProbe, the properties, the metrics and the log say the same of one probe."""
        probe = json.loads(td.call_ok("GetProbe")[0])
        self.assertEqual(probe["schema"], "smapsaudit.probe/1")
        self.assertEqual(probe["kernel"], running_release())
        self.assertFalse(probe["allow_knobs"])
        self.assertEqual(probe["knobs_changed"], [])
        self.assertEqual(len(probe["bugs"]), 7, probe["bugs"])
        for b in probe["bugs"]:
            self.assertIn(b["state"], STATES, b)
        self.assertEqual(probe["exit_status"], 1 if probe["present"] else 0, probe)

        metrics = parse_metrics(self.textfile())
        promtool_check(self, self.textfile())
        want = {(b["id"], release): 1.0 if b["state"] == "present" else 0.0 for b in probe["bugs"]
                if b["kind"] == "bug" and b["state"] in ("present", "absent")}
        got = {(dict(l)["bug"], dict(l)["release"]): v for (n, l), v in metrics.items() if n == "smapsaudit_kernel_bug"}
        self.assertEqual(got, want)
        stamp = samples(metrics, "smapsaudit_probe_timestamp_seconds")
        self.assertEqual(len(stamp), 1)
        self.assertAlmostEqual(stamp[0], td.get_property("LastProbeUSec") / 1e6, places=5)
        self.assertLessEqual(abs(stamp[0] - time.time()), 3600)
        self.assertEqual(samples(metrics, "smapsaudit_daemon_errors_total", what="probe"), [0.0])

        # one line per bug present, as the journal entry's MESSAGE says it
        logged = re.findall(rf"^Kernel {re.escape(release)} has accounting bug ([a-z-]+): ", d.log_text(), re.M)
        self.assertEqual(sorted(logged), sorted(b["id"] for b in probe["bugs"]
                                                if b["state"] == "present" and b["kind"] == "bug"))
        return probe

    def test_once_per_release(self):
        d = self.probing_daemon("6.99.0-probe-A").start()
        # The bus is served while the probe runs, and the first sweep waits for it.
        t0 = time.monotonic()
        state = td.get_property("ProbeState")
        self.assertLess(time.monotonic() - t0, 2.0)
        self.assertIn(state, ("running", "done"))
        if state == "running":
            self.assertEqual(td.get_property("LastSweepUSec"), 0)
            r = td.call("GetProbe")
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("No probe of kernel 6.99.0-probe-A: it is running", r.stderr)
        self.wait_probe_done(d)
        probe = self.check_outputs(d, "6.99.0-probe-A")
        log = d.log_text()
        self.assertEqual(log.count("Probing kernel 6.99.0-probe-A"), 1, log)
        m = re.search(r"^Probed kernel 6\.99\.0-probe-A in (.*) \(CPU (.*), charged", log, re.M)
        self.assertTrue(m, log)
        print(f"probe in the daemon: wall {m.group(1)}, CPU {m.group(2)}; the probe's own wall_seconds "
              f"{probe['wall_seconds']}, peak RSS {probe['peak_rss_kb']} kB")
        # the sweep that was due at start ran once the probe had ended
        self.wait_sweep_done()
        log = d.log_text()
        self.assertLess(log.index("Probed kernel"), log.index("Sweep "), log)
        self.assertEqual(list(self.state_releases()), ["6.99.0-probe-A"])
        self.assertEqual(self.state_releases()["6.99.0-probe-A"]["probe"], probe)

        # Anyone may read it: it is about the kernel.
        r = td.call("GetProbe", user="nobody")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(json.loads(r.stdout)["data"][0]), probe)

        # smapsaudit probe --daemon: the daemon's result, as the local probe prints one.
        cli = td.env_path("SMAPSAUDIT", required=False)
        if cli:
            r = td.run([cli, "probe", "--daemon", "--json"])
            self.assertEqual(r.returncode, probe["exit_status"], r.stderr)
            self.assertEqual(json.loads(r.stdout), probe)
            r = td.run([cli, "probe", "--daemon"], user="nobody")
            self.assertEqual(r.returncode, probe["exit_status"], r.stderr)
            self.assertTrue(r.stdout.startswith(f"smapsaudit probe on Linux {probe['kernel']}: 7 probe(s) in "),
                            r.stdout)
            for b in probe["bugs"]:
                self.assertRegex(r.stdout, rf"\n{re.escape(b['state'])} +#{b['number']} {b['id']}: ")
        d.stop()

        # The same release again: what the state keeps, at once, and no probe.
        d.start()
        self.assertEqual(td.get_property("ProbeState"), "done")
        self.assertEqual(json.loads(td.call_ok("GetProbe")[0]), probe)
        self.wait_sweep_done()
        log = d.log_text()
        self.assertEqual(log.count("Probing kernel 6.99.0-probe-A"), 1, log)
        self.assertIn("Kernel 6.99.0-probe-A was probed before: not probing it again.", log)
        td.wait_for(lambda: "\nsmapsaudit_probe_timestamp_seconds " in self.textfile(),
                    what="the metrics of the kept probe")
        self.check_outputs(d, "6.99.0-probe-A")
        d.stop()

        # Another release: probed again, and both are kept.
        d = self.probing_daemon("6.99.1-probe-B").start()
        self.wait_probe_done(d)
        self.check_outputs(d, "6.99.1-probe-B")
        self.assertEqual(d.log_text().count("Probing kernel 6.99.1-probe-B"), 1)
        self.assertEqual(sorted(self.state_releases()), ["6.99.0-probe-A", "6.99.1-probe-B"])
        self.assertNotIn('release="6.99.0-probe-A"', self.textfile())
        d.stop()

    def test_interrupted_probe_runs_again(self):
        d = self.probing_daemon("6.99.2-probe-C").start()
        m = td.wait_for(lambda: re.search(r"Probing kernel 6\.99\.2-probe-C \(PID (\d+)\)", d.log_text()),
                        what="the probe to start")
        pid = int(m.group(1))
        # a shape of the probe's (a process it forked to build a bug's memory)
        shapes = td.wait_for(lambda: children(pid), timeout=30, interval=0.005, what="a shape of the probe")
        d.stop()
        self.assertIn("Stopped the probe of kernel 6.99.2-probe-C", d.log_text())
        self.assertFalse(os.path.exists(f"/proc/{pid}"), f"the probe {pid} outlived the daemon's stop")
        # killed with the probe: gone once whoever inherited them reaped them
        td.wait_for(lambda: not any(os.path.exists(f"/proc/{p}") for p in shapes), timeout=10,
                    what=f"the probe's shapes {shapes} to be gone")
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "state", "probe.json")))

        d.start()
        self.assertEqual(td.get_property("ProbeState"), "running")
        self.wait_probe_done(d)
        self.check_outputs(d, "6.99.2-probe-C")
        d.stop()

    def test_disabled(self):
        d = self.probing_daemon("6.99.3-probe-D", "[Sweep]\nInterval=1h\nProbeOnBoot=no\n").start()
        self.assertEqual(td.get_property("ProbeState"), "disabled")
        r = td.call("GetProbe")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("No probe of kernel 6.99.3-probe-D: ProbeOnBoot=no.", r.stderr)
        self.wait_sweep_done()
        metrics = self.textfile()
        self.assertIn("# TYPE smapsaudit_kernel_bug gauge", metrics)
        self.assertNotIn("smapsaudit_kernel_bug{", metrics)
        self.assertNotIn("\nsmapsaudit_probe_timestamp_seconds ", metrics)
        self.assertNotIn("Probing kernel", d.log_text())
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "state", "probe.json")))
        cli = td.env_path("SMAPSAUDIT", required=False)
        if cli:
            r = td.run([cli, "probe", "--daemon"])
            self.assertEqual(r.returncode, 2, r.stdout)
            self.assertIn("No probe of kernel 6.99.3-probe-D: ProbeOnBoot=no.", r.stderr)
        d.stop()

    def wait_sweep_done(self):
        return td.wait_for(lambda: td.get_property("LastSweepUSec") > 0 and
                           not td.get_property("StatusText").startswith(("Sweeping", "Listing", "Probing")),
                           timeout=240, interval=0.2, what="a sweep to finish")


if __name__ == "__main__":
    td.main()
