#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The CLI as a user drives it against smapsauditd on a private system bus (test_daemon.py's bus
and daemon): each check option through the daemon and --local, findings as a table with its
filters, watch following a replayed bug, the pager, colours, -H/-M, check --comm/--unit, and the
help against the man page and the README.

Where a terminal matters (pager, colours) the CLI runs on a pseudo-terminal. Needs root, as
test_daemon.py; SMAPSAUDIT (the CLI) must be built. Longer than ~500 lines because every verb's
cases share the one bus and daemon the module starts.
"""

import contextlib
import json
import os
import pty
import re
import select
import shlex
import shutil
import subprocess
import tempfile
import time
import unittest

import test_daemon as td

SOURCE_ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
FIXTURE = os.path.join(SOURCE_ROOT, "tests", "replay", "fixtures", "thp-protnone-6.1.tar.xz")


def cli_path():
    return td.env_path("SMAPSAUDIT")


def cli(*args, user=None, timeout=120, env=None):
    return td.run([cli_path(), *args], user=user, timeout=timeout, env=env)


def on_pty(argv, env=None, timeout=60, terminal="stdout"):
    """Runs argv with its standard output (or error) on a pseudo-terminal: (exit status, what it
    printed there, what it printed on the other one)."""
    master, slave = pty.openpty()
    other = tempfile.TemporaryFile()
    try:
        p = subprocess.Popen(list(map(str, argv)), stdin=slave, env=env, start_new_session=True,
                             stdout=slave if terminal == "stdout" else other,
                             stderr=slave if terminal == "stderr" else other)
    finally:
        os.close(slave)
    out = b""
    deadline = time.monotonic() + timeout
    try:
        while True:
            if time.monotonic() > deadline:
                raise AssertionError(f"{argv} did not end in {timeout} s: {out!r}")
            if select.select([master], [], [], 0.2)[0]:
                try:
                    chunk = os.read(master, 65536)
                except OSError:   # EIO: every writer closed the terminal
                    break
                if not chunk:
                    break
                out += chunk
            elif p.poll() is not None:
                break
        p.wait(timeout=10)
        other.seek(0)
        return p.returncode, out.decode(errors="replace"), other.read().decode(errors="replace")
    finally:
        stop(p)
        other.close()
        os.close(master)


def stop(p):
    """Kills p if it still runs, and closes its pipes."""
    td.stop_popen(p)
    for pipe in (p.stdin, p.stdout, p.stderr):
        if pipe:
            pipe.close()


def pty_env(**extra):
    env = {k: v for k, v in os.environ.items() if k not in ("PAGER", "SYSTEMD_PAGER", "NO_COLOR", "LESS")}
    env["TERM"] = "xterm"
    env.update(extra)
    return env


class ReplayedCapture:
    """thp-protnone-6.1 (tests/replay/fixtures): a capture of Linux 6.1 printing 0 kB for a PROT_NONE
    THP VMA, for a daemon that reads it as its /proc and /sys."""

    def __init__(self, directory):
        self.dir = os.path.join(directory, "replay")
        os.makedirs(self.dir)
        subprocess.run(["tar", "--sparse", "-xJf", FIXTURE, "-C", self.dir], check=True, timeout=120)
        with open(os.path.join(self.dir, "truth.json")) as f:
            self.pid = json.load(f)["pid"]

    def daemon_args(self):
        return (f"--proc-root={self.dir}/proc", f"--sys-root={self.dir}/sys")


def read(path):
    with open(path) as f:
        return f.read()


def report(stdout):
    value = json.loads(stdout)
    return value[0] if isinstance(value, list) else value


class CLITestCase(td.DaemonTestCase):
    def setUp(self):
        if not td.env_path("SMAPSAUDIT", required=False):
            self.skipTest("SMAPSAUDIT (the CLI) not built")
        self.stack = contextlib.ExitStack()
        self.tmp = tempfile.mkdtemp(prefix="smapsaudit-cli-test-")
        self.stack.callback(shutil.rmtree, self.tmp, ignore_errors=True)
        self.daemon = td.Daemon(self.tmp, self.config, self.daemon_args())
        self.stack.callback(self.daemon.kill)
        self.prepare()
        self.daemon.start()

    def daemon_args(self):
        return ()

    def prepare(self):
        """What the daemon finds when it starts."""


class Parity(CLITestCase):
    """Each check option gives the same audit through the daemon as in this process."""

    def compare(self, options):
        s = self.sleeper()
        r = cli("check", "--json", *options, s.pid)
        self.assertIn(r.returncode, (0, 1, 3), f"{options}: {r.stderr}")
        bus = report(r.stdout)
        r = cli("check", "--local", "--json", *options, s.pid)
        self.assertIn(r.returncode, (0, 1, 3), f"{options}: {r.stderr}")
        local = report(r.stdout)

        self.assertEqual(bus["verdict"], local["verdict"], options)
        for key in ("tier", "pagemap_scan", "frozen", "nodes"):
            self.assertEqual(bus["mode"].get(key), local["mode"].get(key), f"{options}: mode {key}")
        # An idle sleep does not change: the same figures, and the same ranges, both ways.
        for field in ("Rss", "Anonymous", "Swap", "AnonHugePages"):
            for key in ("walk_kb", "walk_lo_kb", "walk_hi_kb", "kernel_kb"):
                self.assertEqual(bus["totals"][field].get(key), local["totals"][field].get(key),
                                 f"{options}: {field} {key}")
        self.assertEqual(len(bus.get("findings", [])), len(local.get("findings", [])), options)
        return bus, local

    def test_default(self):
        bus, _ = self.compare([])
        self.assertEqual(bus["mode"]["tier"], "full")

    def test_fast(self):
        bus, _ = self.compare(["--fast"])
        self.assertEqual(bus["mode"]["tier"], "fast")
        # the fast tier bounds Pss instead of joining kpageflags: a range both ways
        self.assertLess(bus["totals"]["Pss"]["walk_lo_kb"], bus["totals"]["Pss"]["walk_hi_kb"])

    def test_no_scan(self):
        bus, _ = self.compare(["--no-scan"])
        self.assertFalse(bus["mode"]["pagemap_scan"])

    def test_passes(self):
        for n in (1, 3):
            bus, local = self.compare(["--passes", str(n)])
            self.assertLessEqual(bus["mode"]["passes"], n)
            self.assertLessEqual(local["mode"]["passes"], n)

    def test_freeze(self):
        bus, _ = self.compare(["--freeze"])
        self.assertTrue(bus["mode"]["frozen"])

    def test_all_together(self):
        bus, _ = self.compare(["--fast", "--no-scan", "--passes", "2"])
        self.assertEqual((bus["mode"]["tier"], bus["mode"]["pagemap_scan"]), ("fast", False))

    def test_daemon_refuses_bad_options(self):
        s = self.sleeper()
        for args, message in ((("passes", "u", "0"), "1 to 100"), (("passes", "u", "101"), "1 to 100"),
                              (("passes", "b", "true"), "unsigned"), (("fast", "u", "1"), "boolean")):
            r = td.call("Check", "ua{sv}", s.pid, 1, *args)
            self.assertNotEqual(r.returncode, 0, args)
            self.assertIn(message, r.stderr, args)

    def test_refused_option_suggests_local(self):
        # nobody may not audit root's process; with options asked, the CLI says where they work.
        s = self.sleeper()
        r = cli("check", "--no-scan", s.pid, user="nobody")
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn(f"PID {s.pid}", r.stderr)
        self.assertIn("--local", r.stderr)


class ByName(CLITestCase):
    """check --comm and --unit: every matching process, one summary line each, the worst exit."""

    def named_sleepers(self, name, n):
        binary = os.path.join(self.tmp, name)
        shutil.copy("/bin/sleep", binary)
        os.chmod(self.tmp, 0o755)
        procs = []
        for _ in range(n):
            p = subprocess.Popen([binary, "1000"])
            self.stack.callback(td.stop_popen, p)
            procs.append(p)
        td.wait_for(lambda: all(read(f"/proc/{p.pid}/comm").strip() == name for p in procs),
                    what=f"{name} to start")
        return binary, procs

    def test_comm(self):
        _, procs = self.named_sleepers("sa-cli-sleep", 2)
        r = cli("check", "--comm", "^sa-cli-sl[e]+p$")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        lines = r.stdout.strip().split("\n")
        self.assertEqual(len(lines), 2, r.stdout)
        for line, pid in zip(lines, sorted(p.pid for p in procs)):
            self.assertRegex(line, rf"^PID {pid} \(sa-cli-sleep\): consistent, 0 findings, Rss [1-9][0-9]* kB$")
        r = cli("check", "--comm", "^sa-cli-sleep$", "--json=short")
        self.assertEqual(sorted(rep["pid"] for rep in json.loads(r.stdout)), sorted(p.pid for p in procs))

    def test_comm_worst_exit(self):
        # nobody owns one of them: its line is trouble, and trouble is the exit status.
        binary, procs = self.named_sleepers("sa-cli-mixed", 1)
        mine = subprocess.Popen(td.NOBODY + [binary, "1000"])
        self.stack.callback(td.stop_popen, mine)
        td.wait_for(lambda: read(f"/proc/{mine.pid}/comm").strip() == "sa-cli-mixed", what="nobody's process")
        r = cli("check", "--comm", "^sa-cli-mixed$", user="nobody")
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn(f"PID {mine.pid} (sa-cli-mixed): consistent", r.stdout)
        self.assertIn(f"PID {procs[0].pid}", r.stderr)

    def test_no_match(self):
        r = cli("check", "--comm", "^no-such-process-name$")
        self.assertEqual(r.returncode, 2)
        self.assertIn("no process matches", r.stderr)
        r = cli("check", "--comm", "(")
        self.assertEqual(r.returncode, 2)
        self.assertIn("regular expression", r.stderr)
        r = cli("check", "--comm", "sleep", "1")
        self.assertEqual(r.returncode, 2)
        self.assertIn("not both", r.stderr)

    def test_unit(self):
        mounts = [line.split() for line in read("/proc/self/mounts").splitlines()]
        root = next((m[1] for m in mounts if m[2] == "cgroup2"), None)
        if not root or not os.access(root, os.W_OK):
            self.skipTest("no writable cgroup2 hierarchy to make a unit's cgroup in")
        name = f"sa-cli-test-{os.getpid()}"
        cgroup = os.path.join(root, f"{name}.service")
        procs = []

        def remove():
            for p in procs:
                td.stop_popen(p)
            td.wait_for(lambda: not read(os.path.join(cgroup, "cgroup.procs")).strip(), what="the cgroup to empty")
            os.rmdir(cgroup)
        os.mkdir(cgroup)
        self.stack.callback(remove)
        procs += self.named_sleepers("sa-cli-unit", 2)[1]
        outside = self.sleeper()
        for p in procs:
            with open(os.path.join(cgroup, "cgroup.procs"), "w") as f:
                f.write(str(p.pid))
        for unit in (f"{name}.service", name):
            r = cli("check", "--unit", unit)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            pids = [int(m) for m in re.findall(r"^PID (\d+) ", r.stdout, re.M)]
            self.assertEqual(pids, sorted(p.pid for p in procs), r.stdout)
            self.assertNotIn(f"PID {outside.pid} ", r.stdout)


class Findings(CLITestCase):
    """A replayed 6.1 capture: watch prints the finding as it is raised, findings lists it, the
    filters keep or drop it."""

    def daemon_args(self):
        self.capture = ReplayedCapture(self.tmp)
        return self.capture.daemon_args()

    def raise_finding(self):
        r = cli("check", "--no-legend", self.capture.pid)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        return r

    def test_watch_then_list(self):
        watcher = subprocess.Popen([cli_path(), "watch"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.stack.callback(stop, watcher)
        header = watcher.stdout.readline()
        self.assertEqual(header.split()[:4], ["TIME", "PID", "COMM", "UNIT"], header)
        time.sleep(0.5)   # subscribed before the finding is raised
        before = time.time()
        self.raise_finding()

        ready, _, _ = select.select([watcher.stdout], [], [], 60)
        self.assertTrue(ready, "watch printed nothing for a finding")
        line = watcher.stdout.readline().split()
        stamp = time.mktime(time.strptime(" ".join(line[:2]), "%Y-%m-%d %H:%M:%S"))
        self.assertLessEqual(abs(stamp - before), 60, line)
        self.assertEqual(line[2:4], [str(self.capture.pid), "workload"], line)
        self.assertIn("under-accounted", line)
        self.assertIn("prot_none,thp", line)

        r = cli("findings")
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.rstrip("\n").split("\n")
        self.assertEqual(lines[0].split(), ["TIME", "PID", "COMM", "KIND", "FIELD", "VMA", "KERNEL", "kB", "WALK",
                                            "kB", "TAGS"], r.stdout)
        rows = [l.split() for l in lines[1:-2]]
        self.assertEqual(lines[-1], f"{len(rows)} findings listed.")
        self.assertIn("AnonHugePages", [row[5] for row in rows])
        huge = next(row for row in rows if row[5] == "AnonHugePages")
        self.assertEqual((huge[2], huge[4], huge[7], huge[9]), (str(self.capture.pid), "under-accounted", "0",
                                                                 "prot_none,thp"))
        self.assertRegex(huge[6], r"^0x[0-9a-f]+-0x[0-9a-f]+$")
        self.assertGreater(int(huge[8]), 0)
        times = [" ".join(row[:2]) for row in rows]
        self.assertEqual(times, sorted(times), "newest last")

        as_json = json.loads(cli("findings", "--json=short").stdout)
        self.assertEqual(len(as_json), len(rows))
        self.assertEqual(cli("findings", "--json=short").stdout.count("\n"), 1, "short is one line")

        # The filters: each keeps the finding or drops it.
        for args, kept in ((["--pid", self.capture.pid], True), (["--pid", self.capture.pid + 1], False),
                           (["--kind", "under"], True), (["--kind", "under-accounted"], True),
                           (["--kind", "over-accounted"], False), (["--since", "600"], True),
                           (["--since", f"@{int(time.time()) + 60}"], False),
                           (["--unit", "no-such.service"], False)):
            r = cli("findings", "--json", *args)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(len(json.loads(r.stdout)) == len(rows), kept, args)
            self.assertEqual(len(json.loads(r.stdout)) == 0, not kept, args)
        r = cli("findings", "--kind", "sideways")
        self.assertEqual(r.returncode, 2)
        self.assertIn("--kind", r.stderr)

        r = cli("findings", "--no-legend")
        self.assertEqual(r.stdout.rstrip("\n").split("\n"), lines[1:-2])
        r = cli("findings", "--kind", "over")
        self.assertEqual(r.stdout, "0 findings listed.\n")

    def test_pager_and_colours(self):
        self.raise_finding()
        # The pager runs only on a terminal, with systemd's LESS flags unless told otherwise.
        probe = "sh -c 'echo PAGER LESS=$LESS; cat'"
        rc, out, err = on_pty([cli_path(), "findings"], env=pty_env(SYSTEMD_PAGER=probe, PAGER="false"))
        self.assertEqual(rc, 0, err)
        self.assertIn("PAGER LESS=FRSXMK", out)
        self.assertIn("under-accounted", out)
        rc, out, err = on_pty([cli_path(), "findings"], env=pty_env(PAGER=probe, SYSTEMD_LESS="FRX"))
        self.assertIn("PAGER LESS=FRX", out)
        for env, args in ((pty_env(PAGER=probe), ["--no-pager"]), (pty_env(SYSTEMD_PAGER="cat", PAGER=probe), []),
                          (pty_env(SYSTEMD_PAGER="", PAGER=probe), [])):
            rc, out, err = on_pty([cli_path(), "findings", *args], env=env)
            self.assertEqual(rc, 0, err)
            self.assertNotIn("PAGER", out, args)
            self.assertIn("under-accounted", out)
        r = cli("findings", env=pty_env(PAGER=probe))
        self.assertNotIn("PAGER", r.stdout, "a pager without a terminal")

        # Colours on a terminal only, and never with NO_COLOR or --no-color.
        red = "\033[1;31m"
        rc, out, _ = on_pty([cli_path(), "findings", "--no-pager"], env=pty_env())
        self.assertIn(red + "under-accounted", out)
        rc, out, _ = on_pty([cli_path(), "check", "--no-pager", self.capture.pid], env=pty_env())
        self.assertIn(red + "under-accounted", out)
        rc, out, _ = on_pty([cli_path(), "findings", "--no-pager"], env=pty_env(NO_COLOR="1"))
        self.assertNotIn("\033[", out)
        rc, out, _ = on_pty([cli_path(), "findings", "--no-pager", "--no-color"], env=pty_env())
        self.assertNotIn("\033[", out)
        self.assertNotIn("\033[", cli("findings").stdout)
        # Colours survive the pager: they are decided before it takes standard output over.
        rc, out, _ = on_pty([cli_path(), "findings"], env=pty_env(SYSTEMD_PAGER="cat -v"))
        self.assertIn("^[[1;31munder-accounted", out)

    def test_check_text_groups_findings(self):
        r = self.raise_finding()
        section = r.stdout.split("\nFindings:\n")[1].split("\nNotes:\n")[0]
        headings = [l for l in section.split("\n") if l.startswith("  VMA ")]
        self.assertEqual(len(headings), 1, r.stdout)
        self.assertIn("tags prot_none,thp", headings[0])
        self.assertEqual(section.count("PMD-mapped THPs in a PROT_NONE VMA are missing"), 1, r.stdout)
        self.assertGreaterEqual(section.count("under-accounted"), 2, r.stdout)


class FindingUnits(CLITestCase):
    """Findings that name their unit (recorded from sd_pid_get_unit() at audit time): the UNIT
    column, and --unit selecting by it, for processes long gone."""

    def prepare(self):
        os.makedirs(self.daemon.state, mode=0o700)
        now = time.time_ns() // 1000
        with open(os.path.join(self.daemon.state, "findings.jsonl"), "w") as f:
            for i, (pid, comm, unit) in enumerate(((4000001, "java", "tomcat.service"),
                                                    (4000002, "postgres", "postgresql@15-main.service"),
                                                    (4000003, "bash", None))):
                finding = {"schema": "smapsaudit.finding/1", "realtime_usec": now - (3 - i) * 1000000,
                           "kernel": "6.1.0-13-amd64", "pid": pid, "uid": 0, "comm": comm,
                           "kind": "under-accounted", "field": "AnonHugePages", "source": "smaps",
                           "vma": {"start": "0x7f0000000000", "end": "0x7f0004000000"}, "kernel_kb": 0,
                           "walk_kb": 32768, "delta_kb": -32768, "tags": ["prot_none", "thp"],
                           "explanation": "...", "origin": "sweep"}
                if unit:
                    finding["unit"] = unit
                f.write(json.dumps(finding) + "\n")

    def test_unit_column_and_filter(self):
        r = cli("findings")
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.split("\n")
        self.assertEqual(lines[0].split()[:5], ["TIME", "PID", "COMM", "UNIT", "KIND"], r.stdout)
        rows = [l.split() for l in lines[1:4]]
        self.assertEqual([row[2:5] for row in rows], [["4000001", "java", "tomcat.service"],
                                                      ["4000002", "postgres", "postgresql@15-main.service"],
                                                      ["4000003", "bash", "-"]], r.stdout)
        for unit, pids in (("tomcat", [4000001]), ("tomcat.service", [4000001]),
                           ("postgresql@15-main.service", [4000002]), ("postgresql", [])):
            r = cli("findings", "--json=short", "--unit", unit)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual([f["pid"] for f in json.loads(r.stdout)], pids, unit)


class WatchAndStatus(CLITestCase):
    def test_nobody_is_told_up_front(self):
        r = cli("watch", user="nobody", timeout=10)
        self.assertEqual(r.returncode, 2)
        self.assertIn("only root", r.stderr)
        self.assertIn("smapsaudit findings", r.stderr)

    def test_sweep_wait(self):
        before = td.get_property("LastSweepUSec")
        r = cli("sweep", "--wait", timeout=300)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertGreater(td.get_property("LastSweepUSec"), before)
        self.assertFalse(td.get_property("StatusText").startswith(("Sweeping", "Listing")))
        self.assertTrue(r.stdout.startswith("smapsauditd "), r.stdout)
        self.assertNotIn("last sweep: never", r.stdout)
        self.assertIn(td.get_property("StatusText"), r.stdout)
        r = cli("sweep", "--wait", user="nobody")
        self.assertEqual(r.returncode, 2)
        self.assertIn("only root", r.stderr)

    def test_status_json_modes(self):
        # status --json=short and pretty are json-c's: parsed back, the same object.
        short = cli("status", "--json=short")
        pretty = cli("status", "--json=pretty")
        self.assertEqual(short.stdout.count("\n"), 1)
        self.assertGreater(pretty.stdout.count("\n"), 3)
        self.assertEqual(json.loads(short.stdout)["version"], json.loads(pretty.stdout)["version"])
        # -j is --json=pretty: the same members; the status line itself moves with the daemon's sweeps
        j = json.loads(cli("-j", "status").stdout)
        self.assertEqual(set(j), set(json.loads(short.stdout)))
        self.assertEqual(j["kernel"], json.loads(short.stdout)["kernel"])
        off = cli("status", "--json=off")
        self.assertTrue(off.stdout.startswith("smapsauditd "), off.stdout)
        r = cli("status", "--json=yaml")
        self.assertEqual(r.returncode, 2)
        self.assertIn("pretty, short or off", r.stderr)


class Remote(CLITestCase):
    def test_host_unreachable(self):
        if not shutil.which("ssh"):
            self.skipTest("no ssh")
        r = cli("-H", "nobody@smapsaudit-test.invalid", "status", timeout=60)
        self.assertEqual(r.returncode, 2)
        self.assertIn("cannot reach smapsauditd on host nobody@smapsaudit-test.invalid", r.stderr)

    def test_machine_unknown(self):
        r = cli("-M", "smapsaudit-no-such-container", "status")
        self.assertEqual(r.returncode, 2)
        self.assertIn("smapsaudit-no-such-container", r.stderr)

    def test_local_only_verbs_refuse_a_target(self):
        for args in (["-H", "h", "check", "--local", "1"], ["-M", "m", "ksm"], ["-M", "m", "capture", "1", "-o", "/x"],
                     ["-H", "h", "check", "--comm", "x"], ["-H", "h", "-M", "m", "status"]):
            r = cli(*args)
            self.assertEqual(r.returncode, 2, args)
            self.assertTrue(re.search("this machine|exclude", r.stderr), r.stderr)

    def test_machine(self):
        # Opt-in: a container that systemd-machined knows and that runs smapsauditd
        # (tests/system/unit-in-container.sh builds one; machinectl list names it).
        machine = os.environ.get("SMAPSAUDIT_TEST_MACHINE")
        if not machine:
            self.skipTest("set SMAPSAUDIT_TEST_MACHINE to a container running smapsauditd")
        r = cli("-M", machine, "status", "--json=short")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("version", json.loads(r.stdout))
        r = cli("-M", machine, "check", "--json=short", "1")
        self.assertIn(r.returncode, (0, 1, 3), r.stderr)
        self.assertEqual(json.loads(r.stdout)["pid"], 1)


class Progress(CLITestCase):
    """61,440 VMAs still take long enough to audit for the progress line (due 200 ms into an audit,
    shown while it walks; 20,480 no longer do), on a terminal only, in this process and through the
    daemon (its CheckProgress signals)."""

    def test_local_check_shows_pages_walked(self):
        self.shows_pages_walked(["--local"])

    def test_daemon_check_shows_pages_walked(self):
        self.shows_pages_walked([])

    def shows_pages_walked(self, options):
        harness, _, _ = td.integration_modules(self)
        with harness.Workload("many-vmas", "--size-mb", 240) as w:
            rc, err, out = on_pty([cli_path(), "check", *options, "--json", w.pid], timeout=240,
                                  terminal="stderr")
            self.assertIn(rc, (0, 1, 3), err)
            self.assertEqual(json.loads(out)["pid"], w.pid)
            lines = re.findall(rf"PID {w.pid}: pass (\d+), ([0-9.]+) of ([0-9.]+) MiB walked \((\d+)%\)", err)
            self.assertTrue(lines, repr(err))
            for _, done, total, percent in lines:
                self.assertLessEqual(float(done), float(total))
                self.assertLessEqual(int(percent), 100)
            self.assertTrue(err.endswith("\r\033[K"), repr(err[-80:]))

            r = cli("check", *options, "--json", w.pid, timeout=240)
            self.assertIn(r.returncode, (0, 1, 3), r.stderr)
            self.assertNotIn("MiB walked", r.stderr, "a progress line without a terminal")


class KSMWait(unittest.TestCase):
    def test_capture_says_what_it_waits_for(self):
        # ksmd slowed down, so that its full scans outlast the capture's --wait: the capture waits
        # for them, and says so on a terminal, with the time left.
        if not td.env_path("SMAPSAUDIT", required=False):
            self.skipTest("SMAPSAUDIT (the CLI) not built")
        harness, knobs, _ = td.integration_modules(self)
        if not os.path.exists("/sys/kernel/mm/ksm/run"):
            self.skipTest("no KSM in this kernel")
        tmp = tempfile.mkdtemp(prefix="smapsaudit-cli-ksm-")
        try:
            with knobs.ksm_running(sleep_millisecs=2000, pages_to_scan=1), harness.Workload("ksm") as w:
                rc, err, _ = on_pty([cli_path(), "capture", w.pid, "-o", os.path.join(tmp, "cap"), "--wait", "3"],
                                    timeout=120, terminal="stderr")
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        self.assertEqual(rc, 0, err)
        notices = re.findall(r"waiting for ksmd's full scan (\d+) \(it finished (\d+)\), at most (\d+) s more", err)
        self.assertTrue(notices, repr(err))
        for target, finished, left in notices:
            self.assertLess(int(finished), int(target))
            self.assertLessEqual(int(left), 3)
        self.assertIn("Captured PID", err)


def help_options(text):
    section = text.split("\nOptions:\n")[1].split("\n\n")[0]
    return set(re.findall(r"(?<![\w-])(--[a-z][a-z-]*|-[a-zA-Z])\b", section))


def man_options(path):
    with open(path) as f:
        man = f.read()
    section = man.split("\n.SH OPTIONS\n")[1].split("\n.SH ")[0]
    heads = [section.split("\n")[i + 1] for i, l in enumerate(section.split("\n")) if l == ".TP"]
    found = set()
    for head in heads:
        found |= set(re.findall(r"(?<![\w-])(--[a-z][a-z-]*|-[a-zA-Z])\b", head.replace("\\-", "-")))
    return found


class Docs(unittest.TestCase):
    def setUp(self):
        if not td.env_path("SMAPSAUDIT", required=False):
            self.skipTest("SMAPSAUDIT (the CLI) not built")
        self.help = cli("--help").stdout

    def test_help_matches_man_page(self):
        self.assertEqual(help_options(self.help), man_options(os.path.join(SOURCE_ROOT, "docs", "smapsaudit.1")))

    def test_help_matches_readme(self):
        with open(os.path.join(SOURCE_ROOT, "README.md")) as f:
            readme = f.read()
        block = readme.split("## Commands and flags\n\n```\n")[1].split("```")[0]
        usage = self.help.split("\n")[0] + "\n\nCommands:" + self.help.split("\nCommands:")[1]
        self.assertEqual(block.strip(), usage.split("\n\nExit status")[0].strip())

    def test_bash_completion(self):
        helper = "/usr/share/bash-completion/bash_completion"
        if not os.path.exists(helper):
            self.skipTest("bash-completion is not installed")
        script = os.path.join(SOURCE_ROOT, "cli", "smapsaudit.bash-completion")

        def complete(*words):
            line = " ".join(words)
            code = (f"source {helper}; source {script}; COMP_WORDS=({' '.join(map(shlex.quote, words))}); "
                    f"COMP_CWORD={len(words) - 1}; COMP_LINE={shlex.quote(line)}; COMP_POINT={len(line)}; "
                    f"_smapsaudit; printf '%s\\n' \"${{COMPREPLY[@]}}\"")
            r = subprocess.run(["bash", "-c", code], capture_output=True, text=True, timeout=30)
            self.assertEqual(r.returncode, 0, r.stderr)
            return r.stdout.split()

        self.assertEqual(sorted(complete("smapsaudit", "")),
                         sorted("check capture status findings watch sweep ksm probe help".split()))
        self.assertEqual(complete("smapsaudit", "fi"), ["findings"])
        self.assertIn("--no-pager", complete("smapsaudit", "findings", "--no-p"))
        self.assertEqual(sorted(complete("smapsaudit", "--json=")), ["off", "pretty", "short"])
        self.assertIn(str(os.getpid()), complete("smapsaudit", "check", str(os.getpid())[:-1]))
        self.assertIn(str(os.getpid()), complete("smapsaudit", "ksm", "--pid", ""))
        # every option the help lists is offered
        offered = set(complete("smapsaudit", "-"))
        self.assertEqual({o.rstrip("=") for o in offered} | {"--json"}, help_options(self.help) | {"--json"})


if __name__ == "__main__":
    td.main()
