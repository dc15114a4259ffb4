#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""State durability: SIGKILL smapsauditd at random moments while it writes its state, 50 times,
restarting it each time; its state files always parse.

The daemon replays a capture (--proc-root, --sys-root) of protnone-4k whose smaps was edited the
way 6.1-6.4 printed PROT_NONE VMAs, copied under PIDS fake PIDs: each Check of one records 4
findings, and a restarted daemon records them again (it does not remember what it announced),
so every round appends to findings.jsonl, and the sweep at start and the metrics write
baseline.json and the metrics text file (tmp + fsync + rename). Each round fires a Check of
every fake PID at once and kills the daemon at a random moment (sometimes before it even owns
its name).

After each SIGKILL, before the restart: every whole line of findings.jsonl is a JSON object with
realtime_usec and uid (only the last line may be torn: appends are single writes, which SIGKILL
can cut between pages); baseline.json and the metrics file, when present, parse whole. After
the restart: findings.jsonl parses whole (a torn tail is rewritten), every line that was whole
before is still there, and GetFindings returns them all."""

import contextlib
import json
import os
import random
import re
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

import robust
from robust import td

import harness  # tests/integration
import replay

ROUNDS = 50
PIDS = 20
FAKE_PID_BASE = 4000000
METRIC_LINE = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*(\{.*\})? [-+]?([0-9.eE+-]+|Inf|NaN)( [0-9]+)?$")


def read_lines(path):
    """(whole lines, torn tail or None)."""
    if not os.path.exists(path):
        return [], None
    with open(path, "rb") as f:
        data = f.read().decode("utf-8", errors="replace")
    lines = data.split("\n")
    tail = lines.pop()
    return lines, (tail or None)


class StateDurability(unittest.TestCase):
    def setUp(self):
        self.stack = contextlib.ExitStack()
        self.addCleanup(self.stack.close)
        self.tmp = tempfile.mkdtemp(prefix="smapsauditd-sigkill-")
        self.stack.callback(shutil.rmtree, self.tmp, ignore_errors=True)
        os.chmod(self.tmp, 0o755)

        with harness.Workload("protnone-4k", "--size-mb", 8) as w:
            capture = os.path.join(self.tmp, "capture")
            r = harness.smapsaudit("capture", "--wait", "1", w.pid, "-o", capture, timeout=300)
            self.assertEqual(r.rc, 0, r.describe())
            pid, region = w.pid, w.truth["regions"][0]
        proc = os.path.join(capture, "proc")
        removed = replay.zero_vma_fields(os.path.join(proc, str(pid), "smaps"), region["start"])
        replay.reduce_rollup(os.path.join(proc, str(pid), "smaps_rollup"), removed)
        # Fake PIDs: hard links (the pagemap is sparse: never copied byte by byte).
        self.pids = [FAKE_PID_BASE + i for i in range(PIDS)]
        for p in self.pids:
            subprocess.run(["cp", "-al", os.path.join(proc, str(pid)), os.path.join(proc, str(p))], check=True)

        self.state = os.path.join(self.tmp, "state")
        self.metrics = os.path.join(self.state, "smapsaudit.prom")
        self.daemon = td.Daemon(self.tmp, "[Sweep]\nInterval=1h\nCPUBudgetPercent=100\n"
                                f"[Metrics]\nTextfilePath={self.metrics}\n",
                                args=(f"--proc-root={proc}", f"--sys-root={capture}/sys"))
        self.stack.callback(self.daemon.kill)

    def check_files(self, when):
        """Asserts the state files parse; returns (whole history lines, torn tail, tmp files)."""
        lines, tail = read_lines(os.path.join(self.state, "findings.jsonl"))
        for i, line in enumerate(lines):
            try:
                entry = json.loads(line)
            except ValueError as e:
                raise AssertionError(f"{when}: findings.jsonl line {i + 1} is not JSON ({e}): {line[:300]!r}")
            self.assertIsInstance(entry, dict, line[:300])
            self.assertIn("realtime_usec", entry)
            self.assertIn("uid", entry)
        baseline = os.path.join(self.state, "baseline.json")
        if os.path.exists(baseline):
            with open(baseline) as f:
                text = f.read()
            try:
                self.assertIsInstance(json.loads(text), dict)
            except ValueError as e:
                raise AssertionError(f"{when}: baseline.json is not JSON ({e}): {text[:300]!r}")
        if os.path.exists(self.metrics):
            with open(self.metrics) as f:
                text = f.read()
            self.assertTrue(text.endswith("\n"), f"{when}: the metrics file is cut: {text[-200:]!r}")
            for line in text.split("\n")[:-1]:
                if line and not line.startswith("#"):
                    self.assertRegex(line, METRIC_LINE, f"{when}: metrics")
        tmps = [n for n in os.listdir(self.state) if n.endswith(".tmp")] if os.path.isdir(self.state) else []
        return lines, tail, tmps

    def test_sigkill_while_writing(self):
        rnd = random.Random(os.getpid())
        self.daemon.start()
        # One undisturbed round: how long a round of Checks takes, and that it records findings.
        t0 = time.monotonic()
        r = subprocess.run([robust.env_path("BUS_FLOOD"), "--connections", "2", str(PIDS), *map(str, self.pids)],
                           capture_output=True, text=True, timeout=180)
        round_s = time.monotonic() - t0
        self.assertEqual(r.returncode, 0, r.stdout[-2000:] + r.stderr)
        lines, tail, _ = self.check_files("after the first round")
        self.assertGreaterEqual(len(lines), PIDS, "the Checks recorded no findings")
        per_round = len(lines)

        torn = tmp_seen = during_start = 0
        client = None
        for i in range(ROUNDS):
            os.kill(self.daemon.proc.pid, signal.SIGKILL)
            self.daemon.proc.wait(timeout=30)
            if client:
                td.stop_popen(client)
            whole, tail, tmps = self.check_files(f"round {i}, after SIGKILL")
            torn += tail is not None
            tmp_seen += bool(tmps)

            # Restart: some rounds are killed while it starts (loading, rewriting a torn tail,
            # its first sweep), before it owns its name.
            if i % 5 == 4:
                with open(self.daemon.log, "a") as log:
                    self.daemon.proc = subprocess.Popen([robust.env_path("SMAPSAUDITD"), f"--config={self.daemon.config}",
                                                         f"--state-dir={self.state}",
                                                         *self.daemon.args], stdout=log, stderr=subprocess.STDOUT)
                time.sleep(rnd.uniform(0, 0.05))
                during_start += 1
                continue
            self.daemon.start()
            now, tail_now, _ = self.check_files(f"round {i}, restarted")
            self.assertIsNone(tail_now, f"round {i}: the restarted daemon left a torn line")
            self.assertEqual(now[:len(whole)], whole, f"round {i}: lines were lost or changed across SIGKILL")
            got = json.loads(td.call_ok("GetFindings", "t", 0)[0])
            self.assertEqual(len(got), len(now), f"round {i}: GetFindings and findings.jsonl disagree")

            client = subprocess.Popen([robust.env_path("BUS_FLOOD"), "--connections", "2", str(PIDS),
                                       *map(str, self.pids)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            self.stack.callback(td.stop_popen, client)
            time.sleep(rnd.uniform(0, round_s * 1.5))

        # The last one: a clean start, every line whole, a clean stop.
        if self.daemon.proc.poll() is None:
            os.kill(self.daemon.proc.pid, signal.SIGKILL)
            self.daemon.proc.wait(timeout=30)
        if client:
            td.stop_popen(client)
        whole, tail, _ = self.check_files("after the last SIGKILL")
        self.daemon.start()
        final, tail, _ = self.check_files("after the last restart")
        self.assertIsNone(tail)
        self.assertEqual(final[:len(whole)], whole)
        self.daemon.stop()
        self.assertEqual(self.daemon.proc.returncode, 0, self.daemon.log_text()[-3000:])
        final_after_stop, tail, tmps = self.check_files("after SIGTERM")
        self.assertIsNone(tail)
        self.assertEqual(tmps, [], "a clean stop left temporary files")
        report = robust.sanitizer_report(self.daemon.log_text())
        self.assertIsNone(report, report)

        print(f"SIGKILL rounds: {ROUNDS} ({during_start} while starting); a round of {PIDS} Checks takes "
              f"{round_s:.2f} s and records {per_round} findings; findings.jsonl holds {len(final_after_stop)} "
              f"lines; torn last lines seen after SIGKILL: {torn} (all rewritten on restart); "
              f"rounds with a leftover *.tmp: {tmp_seen}")


if __name__ == "__main__":
    robust.main()
