#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The fleet's canary, end to end on loopback: several hosts' smapsaudit metrics, each scraped as
its own instance by a real Prometheus (1 s scrape and evaluation, fleet/smapsaudit.rules.yml),
and the SmapsauditKernelBug alert naming the release whose hosts' probes found bugs, with the
number of those hosts.

One host is a real smapsauditd (test_daemon.py's private bus) whose probe ran on this machine's
kernel under the release name 6.1.0-canary (SMAPSAUDITD_PROBE_RELEASE), serving /metrics itself.
The others are what such a daemon serves on other kernels: its own exposition text, the release
label changed and the probe's samples set as a probe on that kernel sets them, each served on a
port of its own: two more hosts of 6.1.0-canary whose probes found thp-protnone (one also
rollup-skip), and two of 6.12.0-clean whose probes found nothing.

Every server binds 127.0.0.1 on a free port and is stopped whatever happens. Skipped (77)
without prometheus. Needs root (the daemon).
"""

import http.server
import json
import os
import re
import shutil
import sys
import threading
import unittest
import urllib.request

import test_daemon as td
from test_alerts import AlertsCase, free_port
from test_pipeline import FLEET, Server, get_json

ALERT_TIMEOUT = 60
CANARY, CLEAN = "6.1.0-canary", "6.12.0-clean"


class Exposition(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = self.server.text.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def simulated(text, release, bugs):
    """The daemon's exposition text as a host on release serves it, whose probe found bugs
    ({bug: 0|1}): every release label renamed, the probe's samples replaced."""
    text = re.sub(r'(release|previous_release)="[^"]*"', lambda m: f'{m.group(1)}="{release}"'
                  if m.group(1) == "release" else f'{m.group(1)}=""', text)
    lines = [line for line in text.splitlines() if not line.startswith("smapsaudit_kernel_bug{")]
    at = lines.index("# TYPE smapsaudit_kernel_bug gauge") + 1
    lines[at:at] = [f'smapsaudit_kernel_bug{{bug="{b}",release="{release}"}} {v}' for b, v in bugs.items()]
    return "\n".join(lines) + "\n"


class Canary(AlertsCase):
    def serve(self, text):
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Exposition)
        server.text = text
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self.stack.callback(server.server_close)
        self.stack.callback(server.shutdown)
        return f"127.0.0.1:{server.server_address[1]}"

    def prometheus(self, targets):
        rules = os.path.abspath(os.path.join(FLEET, "smapsaudit.rules.yml"))
        port = free_port()
        config = os.path.join(self.tmp, "prometheus.yml")
        with open(config, "w") as f:
            f.write(f"global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                    f"rule_files:\n  - {rules}\n"
                    f"scrape_configs:\n  - job_name: smapsaudit\n    static_configs:\n"
                    f"      - targets: [{', '.join(json.dumps(t) for t in targets)}]\n")
        Server(self.stack, self.tmp, "prometheus",
               ["prometheus", f"--config.file={config}", f"--storage.tsdb.path={self.tmp}/tsdb",
                f"--web.listen-address=127.0.0.1:{port}"], f"http://127.0.0.1:{port}/-/ready")
        return f"http://127.0.0.1:{port}"

    def test_alert_names_release_and_hosts(self):
        port = free_port()
        d = td.Daemon(self.tmp, f"[Sweep]\nInterval=1h\nProbeOnBoot=yes\n[Metrics]\nListenAddress={port}\n",
                      env={"SMAPSAUDITD_PROBE_RELEASE": CANARY})
        self.stack.callback(d.kill)
        d.start()
        td.wait_for(lambda: td.get_property("ProbeState") == "done", timeout=120, interval=0.2,
                    what="the daemon's probe")
        probe = json.loads(td.call_ok("GetProbe")[0])

        def served():
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
                text = r.read().decode()
            return text if "\nsmapsaudit_probe_timestamp_seconds " in text else None
        text = td.wait_for(served, what="the daemon's probe in its /metrics")
        here = {b["id"] for b in probe["bugs"] if b["state"] == "present" and b["kind"] == "bug"}
        found = {"canary-1": {"thp-protnone": 1, "rollup-skip": 1, "kpf-ksm": 0},
                 "canary-2": {"thp-protnone": 1, "rollup-skip": 0, "kpf-ksm": 0},
                 "clean-1": {"thp-protnone": 0, "rollup-skip": 0, "kpf-ksm": 0},
                 "clean-2": {"thp-protnone": 0, "kpf-ksm": 0}}
        hosts = {"daemon": f"127.0.0.1:{port}"}
        for host, bugs in found.items():
            hosts[host] = self.serve(simulated(text, CANARY if host.startswith("canary") else CLEAN, bugs))
        prom = self.prometheus(list(hosts.values()))
        # hosts per bug of the canary release; the daemon's own probe counts with them
        want = {bug: sum(found[h].get(bug, 0) for h in ("canary-1", "canary-2")) + (bug in here)
                for bug in set(here) | {"thp-protnone", "rollup-skip"}}
        want_hosts = 2 + bool(here)

        # every host scraped, the clean release's too
        td.wait_for(lambda: sorted(r["metric"]["instance"] for r in get_json(f"{prom}/api/v1/query?query=up")
                                   ["data"]["result"] if r["value"][1] == "1") == sorted(hosts.values()),
                    timeout=ALERT_TIMEOUT, interval=0.2, what="Prometheus to scrape every host")

        def firing():
            alerts = get_json(f"{prom}/api/v1/alerts")["data"]["alerts"]
            mine = [a for a in alerts if a["labels"]["alertname"] == "SmapsauditKernelBug"]
            return mine if any(a["state"] == "firing" and float(a["value"]) == want_hosts for a in mine) else None
        alerts = td.wait_for(firing, timeout=ALERT_TIMEOUT, interval=0.2,
                             what=f"SmapsauditKernelBug to fire for {want_hosts} hosts")
        self.assertEqual([a["labels"]["release"] for a in alerts], [CANARY], alerts)
        a = alerts[0]
        self.assertEqual(a["labels"]["severity"], "critical")
        self.assertEqual(float(a["value"]), want_hosts)
        self.assertEqual(a["annotations"]["summary"],
                         f"Kernel {CANARY} has known memory-accounting bugs on {want_hosts} host(s)")
        for bug, n in want.items():
            self.assertIn(f" {bug} ({n})", a["annotations"]["description"])
        if "kpf-ksm" not in here:
            self.assertNotIn("kpf-ksm (", a["annotations"]["description"])
        # the per-bug record the description lists, and nothing of the clean release
        rec = get_json(f"{prom}/api/v1/query?query=smapsaudit:release_kernel_bug_hosts:count")["data"]["result"]
        counts = {(r["metric"]["release"], r["metric"]["bug"]): float(r["value"][1]) for r in rec}
        self.assertEqual(counts, {(CANARY, bug): float(n) for bug, n in want.items()})
        print(f"SmapsauditKernelBug: release {a['labels']['release']}, {a['value']} host(s): "
              f"{a['annotations']['description']}")
        d.stop()


def main():
    if not shutil.which("prometheus"):
        print("SKIP: prometheus is not installed (apt-get install prometheus)")
        sys.exit(77)
    td.main()


if __name__ == "__main__":
    main()
