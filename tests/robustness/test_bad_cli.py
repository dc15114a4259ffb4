#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Bad input on the command line, and bad files under --proc-root.

Arguments: a missing PID, words, negative and huge numbers, unknown options and verbs, --passes
out of range, options without their value. Files: a proc root that does not exist, and a
capture of a live workload whose files are replaced, one at a time, by random bytes, by nothing,
by a truncated copy, or removed.

Never a crash: the exit status is never a signal's (134 SIGABRT, 139 SIGSEGV, ...), stderr holds no
sanitizer report, and every run ends within its time. Bad arguments and unreadable files exit 2
with a message that names the PID, the argument or the file: a number option given a sign,
junk, nothing or more than 64 bits names the option and the value. A pagemap cut short fails
the audit, and so does a broken status or numa_maps: a file that is there but says nothing
sensible is never read as absent (a missing one is, as on a kernel without it).
"""

import json
import os
import random
import shutil
import subprocess
import tempfile
import unittest

import robust

import harness  # tests/integration, on the path robust set up

TIMEOUT = 120


def cli(*args, timeout=TIMEOUT):
    env = dict(os.environ)
    # no daemon to reach: a bus call must fail as "not reachable", never hang
    env["DBUS_SYSTEM_BUS_ADDRESS"] = "unix:path=/nonexistent/smapsaudit-test-bus"
    r, seconds = robust.run_capture([robust.env_path("SMAPSAUDIT"), *args], timeout=timeout, env=env)
    return r


class Arguments(unittest.TestCase):
    def assertTrouble(self, args, *words):
        r = cli(*args)
        what = f"smapsaudit {' '.join(map(str, args))}: exit {r.returncode}\nstdout: {r.stdout[:500]}\nstderr: {r.stderr}"
        self.assertNotIn(r.returncode, robust.CRASH_STATUSES, what)
        self.assertIsNone(robust.sanitizer_report(r.stderr), what)
        self.assertEqual(r.returncode, 2, what)
        self.assertTrue(r.stderr.strip(), f"no message: {what}")
        for w in words:
            self.assertIn(str(w), r.stderr, what)
        print(f"smapsaudit {' '.join(map(str, args))}: 2, {r.stderr.strip().splitlines()[0][:160]}")

    def test_pids(self):
        self.assertTrouble(["check"], "PID")
        self.assertTrouble(["check", "abc"], "'abc'")
        self.assertTrouble(["check", ""], "''")
        self.assertTrouble(["check", "--", "-5"], "'-5'")
        self.assertTrouble(["check", "0"], "'0'")
        self.assertTrouble(["check", "1x"], "'1x'")
        for huge in ("2147483648", "4294967295", "4294967296", "18446744073709551616", "9" * 40):
            self.assertTrouble(["check", huge], f"'{huge}'")
            self.assertTrouble(["check", "--local", huge], f"'{huge}'")
        # a good PID first does not make a bad one after it pass
        self.assertTrouble(["check", "--local", str(os.getpid()), "nope"], "'nope'")
        self.assertTrouble(["capture", "abc", "-o", "/nonexistent"], "'abc'")
        self.assertTrouble(["ksm", "--pid", "abc"], "'abc'")
        self.assertTrouble(["ksm", "--pid", "-1"], "'-1'")

    def test_options(self):
        self.assertTrouble(["check", "--bogus", "1"], "bogus")
        self.assertTrouble(["--bogus"], "bogus")
        self.assertTrouble(["check", "-Z", "1"], "Z")
        for v in ("0", "-1", "101", "abc", "", "99999999999999999999"):
            self.assertTrouble(["check", "--local", "--passes", v, "1"], "--passes", f"'{v}'")
        self.assertTrouble(["--passes", "0", "check", "1"], "--passes")
        self.assertTrouble(["check", "--passes"], "passes")
        self.assertTrouble(["ksm", "--wait", "0"], "--wait")
        self.assertTrouble(["ksm", "--wait", "86401"], "--wait")
        self.assertTrouble(["ksm", "--max-pages", "x"], "--max-pages")
        self.assertTrouble(["findings", "--since", "yesterday"], "yesterday")
        # Every numeric option refuses a sign (strtoull() would take "-1" for 2^64-1), overflow,
        # trailing junk and nothing, naming itself and the value. Followed by a verb that needs
        # the (absent) daemon, so that nothing long runs if one is accepted.
        bad = ("-1", "-0", "+1", "", "1x", " 1", "0x10", "18446744073709551616", "9" * 40)
        for option, verb in (("--max-pages", "status"), ("--wait", "status"), ("--passes", "status"),
                             ("--since", "findings")):
            for v in bad:
                self.assertTrouble([option, v, verb], option, f"'{v}'")
                self.assertTrouble([verb, option, v], option, f"'{v}'")
        for v in ("@-5", "@", "@1x", "@" + "9" * 40):
            self.assertTrouble(["findings", "--since", v], "--since", f"'{v}'")
        for v in bad:
            self.assertTrouble(["ksm", "--pid", v], f"'{v}'")
        self.assertTrouble(["frobnicate"], "frobnicate")
        self.assertTrouble(["status", "extra"], "status")
        self.assertTrouble(["capture", str(os.getpid())], "capture")
        r = cli()   # no verb: the help, on stdout, and exit 2
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("Usage:", r.stdout)

    def test_unreachable_daemon(self):
        self.assertTrouble(["check", str(os.getpid())], "not reachable")
        self.assertTrouble(["status"], "not reachable")

    def test_live_pids(self):
        with open("/proc/sys/kernel/pid_max") as f:
            pid_max = int(f.read())
        gone = next(p for p in range(pid_max - 1, 300, -1) if not os.path.exists(f"/proc/{p}"))
        self.assertTrouble(["check", "--local", gone], f"PID {gone}")
        self.assertTrouble(["check", "--local", 2], "PID 2")
        r = cli("check", "--local", "--json", "1")
        self.assertNotIn(r.returncode, robust.CRASH_STATUSES, r.stderr)
        self.assertIn(r.returncode, (0, 1, 2, 3), r.stderr)
        if r.returncode == 2:
            self.assertIn("1", r.stderr)
        print(f"smapsaudit check --local 1: {r.returncode}, {r.stderr.strip()[:160]}")

    def test_several_pids_json_is_one_array(self):
        # Several PIDs give one JSON array of the reports there are, whichever of them fails (the
        # first, the last, all): a script can always json.load() stdout.
        with open("/proc/sys/kernel/pid_max") as f:
            pid_max = int(f.read())
        gone = next(p for p in range(pid_max - 1, 300, -1) if not os.path.exists(f"/proc/{p}"))
        me = os.getpid()
        for pids, n, rc in (((me, gone), 1, 2), ((gone, me), 1, 2), ((gone, 2), 0, 2), ((me, me), 2, None)):
            r = cli("check", "--local", "--json", *pids)
            what = f"check --local --json {pids}: exit {r.returncode}\nstdout: {r.stdout[:300]}\nstderr: {r.stderr}"
            value = json.loads(r.stdout)
            self.assertIsInstance(value, list, what)
            self.assertEqual([rep["pid"] for rep in value], [p for p in pids if p != gone and p != 2][:n], what)
            if rc is not None:
                self.assertEqual(r.returncode, rc, what)
        value = json.loads(cli("check", "--local", "--json", me).stdout)
        self.assertIsInstance(value, dict, "one PID: one report, not an array")

    def test_proc_root_missing(self):
        self.assertTrouble(["check", "--local", "--proc-root", "/nonexistent/proc", os.getpid()], "/nonexistent/proc")
        self.assertTrouble(["check", "--proc-root", "/nonexistent/proc", "--sys-root", "/nonexistent/sys", 4242],
                           "/nonexistent")
        empty = tempfile.mkdtemp(prefix="smapsaudit-empty-root-")
        try:
            self.assertTrouble(["check", "--proc-root", empty, 4242], "4242")
            os.mkdir(os.path.join(empty, "4242"))
            self.assertTrouble(["check", "--proc-root", empty, 4242], "4242")
        finally:
            shutil.rmtree(empty)


def write_random(path, size, seed):
    rnd = random.Random(seed)
    with open(path, "wb") as f:
        f.write(bytes(rnd.getrandbits(8) for _ in range(size)))


class GarbageFiles(unittest.TestCase):
    """A capture of protnone-4k (8 MiB), copied per case as hard links (its pagemap is sparse:
    never copied byte by byte); the one file a case breaks is unlinked and written anew, so the
    capture itself never changes."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="smapsaudit-garbage-")
        try:
            with harness.Workload("protnone-4k", "--size-mb", 8) as w:
                cls.pid = w.pid
                cls.capture = os.path.join(cls.tmp, "capture")
                r = harness.smapsaudit("capture", "--wait", "1", w.pid, "-o", cls.capture, timeout=300)
            if r.rc != 0:
                raise AssertionError(f"capture failed: {r.describe()}")
        except BaseException:
            # no tearDownClass after a failed setUpClass
            shutil.rmtree(cls.tmp, ignore_errors=True)
            raise

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def case_dir(self, name):
        d = os.path.join(self.tmp, name)
        shutil.rmtree(d, ignore_errors=True)
        subprocess.run(["cp", "-al", self.capture, d], check=True)
        self.addCleanup(shutil.rmtree, d, True)
        return d

    def audit(self, root):
        return cli("check", "--json", "--proc-root", os.path.join(root, "proc"), "--sys-root",
                   os.path.join(root, "sys"), self.pid)

    def replace(self, root, rel, how, seed=0):
        """Replaces root/proc/REL (REL relative to proc/, PID in it as {pid})."""
        path = os.path.join(root, "proc", rel.format(pid=self.pid))
        size = os.path.getsize(path) if os.path.exists(path) else 0
        if how == "truncated":
            # the first half of the file, as a new sparse file (never the linked inode)
            tmp = path + ".new"
            subprocess.run(["cp", "--sparse=always", path, tmp], check=True)
            os.truncate(tmp, size // 2)
            os.rename(tmp, path)
            return path
        if os.path.exists(path):
            os.unlink(path)
        if how == "random":
            write_random(path, 4096, seed)
        elif how == "random-100k":
            write_random(path, 100000, seed)
        elif how == "empty":
            open(path, "wb").close()
        elif how == "zeros":
            with open(path, "wb") as f:
                f.truncate(size)   # a hole: every entry "not present"
        elif how == "missing":
            pass
        else:
            raise ValueError(how)
        return path

    def run_case(self, rel, how, must_be_trouble):
        root = self.case_dir(f"{rel.replace('/', '_').format(pid='PID')}-{how}")
        path = self.replace(root, rel, how, seed=hash((rel, how)) & 0xffff)
        r = self.audit(root)
        what = f"proc/{rel} {how}: exit {r.returncode}\nstderr: {r.stderr[:2000]}"
        self.assertNotIn(r.returncode, robust.CRASH_STATUSES, what)
        self.assertIsNone(robust.sanitizer_report(r.stderr), what)
        self.assertIn(r.returncode, (0, 1, 2, 3), what)
        first = r.stderr.strip().splitlines()[0][:200] if r.stderr.strip() else ""
        reports = harness.parse_reports(r.stdout)
        verdict = reports[0].get("verdict") if reports else None
        print(f"proc/{rel.format(pid='PID')} {how}: exit {r.returncode}"
              + (f", verdict {verdict}, {len(reports[0].get('findings', []))} findings" if reports else "")
              + (f", {first}" if first else ""))
        if not must_be_trouble:
            return
        name = os.path.basename(path)
        named = str(self.pid) in r.stderr or name in r.stderr
        self.assertEqual(r.returncode, 2, f"a broken {name} did not stop the audit: {what}")
        self.assertTrue(named, f"exit 2 without naming PID {self.pid} or the file: {what}")

    def test_capture_replays(self):
        r = self.audit(self.case_dir("intact"))
        self.assertIn(r.returncode, (0, 1, 3), r.stderr)

    def test_per_process_files(self):
        # What the brief holds to "exit 2, naming the PID or file": random bytes, nothing, or a
        # truncated copy in the files an audit cannot do without.
        for name in ("smaps", "status", "numa_maps"):
            for how in ("random", "empty"):
                with self.subTest(file=name, how=how):
                    self.run_case("{pid}/" + name, how, must_be_trouble=True)
        for how in ("truncated", "empty", "random-100k"):
            with self.subTest(file="pagemap", how=how):
                self.run_case("{pid}/pagemap", how, must_be_trouble=True)
        for name in ("smaps", "pagemap"):
            with self.subTest(file=name, how="missing"):
                self.run_case("{pid}/" + name, "missing", must_be_trouble=True)
        # Well-formed but disagreeing (a hole: no page present), or files the audit can do
        # without: any verdict, never a crash.
        self.run_case("{pid}/pagemap", "zeros", must_be_trouble=False)
        for name in ("smaps_rollup", "stat", "sched", "ksm_stat", "maps", "comm", "status", "numa_maps"):
            for how in ("random", "empty", "missing"):
                with self.subTest(file=name, how=how):
                    self.run_case("{pid}/" + name, how, must_be_trouble=False)

    def test_machine_files(self):
        for name in ("kpageflags", "kpagecount", "vmstat", "meminfo", "sys/kernel/osrelease", "swaps"):
            for how in ("random", "empty", "missing", "truncated"):
                with self.subTest(file=name, how=how):
                    self.run_case(name, how, must_be_trouble=False)


if __name__ == "__main__":
    robust.main()
