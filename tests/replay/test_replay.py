#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Replay captures taken inside Debian's 6.1 kernel under qemu (tests/kernels/run) and hold the
offline audit to what the guest reported live.

  test_replay.py [FIXTURE...]       default: every fixtures/*.tar.xz

Each fixture is `smapsaudit capture PID -o DIR` of a guest workload, with the workload's truth
line (truth.json) and the report `smapsaudit check --local --json` gave in the guest
(guest-report.json, or guest-report-PID.json when a fixture holds several processes), packed
with `tar --sparse | xz`. See README.md for how each was made.

Needs only $SMAPSAUDIT and this interpreter's standard library. Exit 0 passed, 1 failed,
77 skipped (a fixture whose checks need a smapsaudit verb that does not exist yet).
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile

HERE = os.path.dirname(os.path.realpath(__file__))
FIXTURES = os.path.join(HERE, "fixtures")
SKIP = 77

sys.path.insert(0, os.path.join(HERE, "..", "integration"))
from harness import parse_reports as reports  # noqa: E402  (every JSON value of a text)


class Failed(AssertionError):
    pass


class Skipped(Exception):
    pass


def need(cond, msg):
    if not cond:
        raise Failed(msg)


def hexint(v):
    return int(v, 16) if isinstance(v, str) else int(v)


def smapsaudit():
    path = os.environ.get("SMAPSAUDIT")
    if not path or not os.access(path, os.X_OK):
        raise Failed("SMAPSAUDIT is not set to an executable (run through meson test)")
    return path


def extract(fixture, dest):
    with tarfile.open(fixture, mode="r:xz") as tf:
        if hasattr(tarfile, "data_filter"):
            tf.extractall(dest, filter="data")
        else:
            for m in tf.getmembers():
                need(not (m.name.startswith("/") or ".." in m.name.split("/")) and (m.isfile() or m.isdir()),
                     f"{fixture}: unexpected member {m.name}")
            tf.extractall(dest)


def pids_in(root):
    return sorted(int(d) for d in os.listdir(os.path.join(root, "proc")) if d.isdigit())


def load_json(path):
    """The first JSON value of a file (a workload's truth.json may hold more lines after it)."""
    with open(path) as f:
        values = reports(f.read())
    need(values, f"no JSON in {path}")
    return values[0]


def replay_check(root, pid):
    argv = [smapsaudit(), "check", "--local", "--json", "--all-vmas",
            "--proc-root", os.path.join(root, "proc"), "--sys-root", os.path.join(root, "sys"), str(pid)]
    proc = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300)
    values = reports(proc.stdout)
    need(values, f"$ {' '.join(argv)}\nexit {proc.returncode}, no JSON report; stderr: {proc.stderr.strip()}")
    need(values[0].get("schema") == "smapsaudit.report/1", f"schema {values[0].get('schema')}")
    return proc.returncode, values[0]


def describe(r, rc):
    lines = [f"exit {rc}, verdict {r.get('verdict')}, kernel {r.get('kernel')}, passes "
             f"{r.get('mode', {}).get('passes')}"]
    for f in r.get("findings", []):
        v = f.get("vma") or {}
        lines.append(f"  finding: {f.get('kind')} {f.get('source')} {f.get('field')} vma {v.get('start')}-"
                     f"{v.get('end')} kernel {f.get('kernel_kb')} kB walk {f.get('walk_kb')} kB tags {f.get('tags')}")
    for n in r.get("notes", []):
        lines.append(f"  note: {n}")
    return "\n".join(lines)


def finding_key(f):
    v = f.get("vma") or {}
    return (f.get("source"), f.get("field"), f.get("kind"), v.get("start"), v.get("end"),
            tuple(sorted(f.get("tags", []))), f.get("kernel_kb"), f.get("walk_kb"))


def find_vma(report, start):
    for v in report.get("vmas", []):
        if hexint(v["start"]) == hexint(start):
            return v
    return None


def guest_report(root, pid):
    for name in (f"guest-report-{pid}.json", "guest-report.json"):
        path = os.path.join(root, name)
        if os.path.exists(path):
            values = reports(open(path).read())
            if values and values[0].get("pid") == pid:
                return values[0]
    return None


def same_as_guest(root, pid, rc, r, out):
    """The offline report says what the live one said about the kernel's per-VMA views: every
    smaps finding's field, direction, VMA, tags and numbers. (Findings on the totals, status and
    KSM counters depend on tolerances the audit may still tune, so they are not pinned to the
    guest's; the verdict is compared when neither report has any.)"""
    g = guest_report(root, pid)
    need(g is not None, f"the fixture holds no guest report for PID {pid}")
    need(r.get("kernel") == g.get("kernel"), f"kernel {r.get('kernel')} != guest {g.get('kernel')}")

    def smaps_keys(rep):
        return sorted(finding_key(f) for f in rep.get("findings", []) if f.get("source") == "smaps")

    def only_smaps(rep):
        return all(f.get("source") == "smaps" for f in rep.get("findings", []))

    need(smaps_keys(r) == smaps_keys(g) and (not (only_smaps(r) and only_smaps(g)) or
                                             r.get("verdict") == g.get("verdict")),
         f"PID {pid}: the replay differs from the guest\nguest:  {describe(g, '?')}\nreplay: {describe(r, rc)}")
    out.append(f"PID {pid}: replay = guest: {describe(r, rc)}")
    return g


def expect_region_findings(r, rc, region, tags, not_tags):
    """Exit 1, under-accounted; every finding on exactly the region's VMA, with the tags; one of
    them an under-accounted AnonHugePages from smaps that names the rollup/status disagreement;
    the walk sees every page of the region."""
    text = describe(r, rc)
    need(rc == 1 and r.get("verdict") == "under-accounted", f"expected exit 1, under-accounted:\n{text}")
    findings = r.get("findings", [])
    need(findings, f"no findings:\n{text}")
    for f in findings:
        v = f.get("vma")
        need(v and (hexint(v["start"]), hexint(v["end"])) == (hexint(region["start"]), hexint(region["end"])),
             f"a finding not on {region['name']} {region['start']}-{region['end']}:\n{text}")
        for t in tags:
            need(t in f.get("tags", []), f"a finding without tag {t}:\n{text}")
        for t in not_tags:
            need(t not in f.get("tags", []), f"a finding with tag {t}:\n{text}")
    huge = [f for f in findings if f.get("source") == "smaps" and f.get("field") == "AnonHugePages"
            and f.get("kind") == "under-accounted"]
    need(huge, f"no under-accounted smaps AnonHugePages finding:\n{text}")
    need(all("smaps_rollup Rss" in f.get("explanation", "") and "status VmRSS" in f.get("explanation", "")
             for f in huge), f"the explanation does not name the smaps_rollup/status disagreement:\n{text}")
    vma = find_vma(r, region["start"])
    need(vma is not None, f"the region's VMA is not in the report:\n{text}")
    need(vma["walk"]["present_pages"] == region["pages"] and vma["walk"]["pmd_thps"] == region["pages"] // 512,
         f"walk of {region['name']}: {vma['walk']}, expected {region['pages']} pages in PMD-mapped THPs")
    need(vma["fields"]["AnonHugePages"]["kernel_kb"] < region["expect"]["AnonHugePages"],
         f"the captured smaps does not show the bug: {vma['fields']['AnonHugePages']}")


def replay_single(root, out):
    """A fixture of one process: its truth, and its offline report held to the guest's."""
    (pid,) = pids_in(root)
    truth = load_json(os.path.join(root, "truth.json"))
    rc, r = replay_check(root, pid)
    same_as_guest(root, pid, rc, r, out)
    return pid, truth, rc, r


def protnone_thp(root, out):
    pid, truth, rc, r = replay_single(root, out)
    rw, none = truth["regions"]
    expect_region_findings(r, rc, none, ("prot_none", "thp"), ())
    v = find_vma(r, rw["start"])
    need(v and v["verdict"] == "consistent" and "prot_none" not in v["tags"],
         f"the accessible half: {v and (v['verdict'], v['tags'])}")


def numa_thp(root, out):
    pid, truth, rc, r = replay_single(root, out)
    (region,) = truth["regions"]
    need(truth["numa_huge_pte_updates_after"] > truth["numa_huge_pte_updates_before"],
         "the capture was taken before NUMA balancing hinted a huge PMD")
    expect_region_findings(r, rc, region, ("numa_hinted", "thp"), ("prot_none",))
    nodes = [d for d in os.listdir(os.path.join(root, "sys", "devices", "system", "node")) if d.startswith("node")]
    out.append(f"NUMA nodes in the capture: {sorted(nodes)}")


def ksm_numbers(root, pid):
    nums = {}
    path = os.path.join(root, "proc", str(pid), "ksm_stat")
    if os.path.exists(path):
        for line in open(path):
            k, _, v = line.partition(" ")
            if v.strip().lstrip("-").isdigit():
                nums[k] = int(v)
    path = os.path.join(root, "proc", str(pid), "ksm_merging_pages")
    if os.path.exists(path):
        nums["ksm_merging_pages"] = int(open(path).read())
    return nums


def sys_ksm(root, name):
    with open(os.path.join(root, "sys", "kernel", "mm", "ksm", name)) as f:
        return int(f.read())


def has_ksm_verb():
    proc = subprocess.run([smapsaudit(), "--help"], capture_output=True, text=True)
    return bool(re.search(r"^ +ksm( |$)", proc.stdout, re.MULTILINE))


def ksm_verb(root, *args):
    argv = [smapsaudit(), "ksm", "--json", "--proc-root", os.path.join(root, "proc"),
            "--sys-root", os.path.join(root, "sys"), *map(str, args)]
    proc = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300)
    values = reports(proc.stdout)
    need(values, f"$ {' '.join(argv)}\nexit {proc.returncode}, no JSON; stderr: {proc.stderr.strip()}")
    return proc.returncode, values


def ksm_findings(values):
    return [f for v in values for f in v.get("findings", [])]


def ksm_coverage(root, out):
    pid, truth, rc, r = replay_single(root, out)
    rw, none = truth["regions"]
    vrw, vnone = find_vma(r, rw["start"]), find_vma(r, none["start"])
    need(vrw["walk"]["ksm_pages"] == rw["pages"] and vnone["walk"]["ksm_pages"] == 0,
         f"KSM pages in the capture: accessible {vrw['walk']['ksm_pages']}, PROT_NONE {vnone['walk']['ksm_pages']}")
    out.append(f"captured: accessible half {vrw['walk']['ksm_pages']} of {rw['pages']} pages KSM, PROT_NONE half "
               f"{vnone['walk']['ksm_pages']} of {none['pages']}; full_scans {sys_ksm(root, 'full_scans')}")
    if not has_ksm_verb():
        raise Skipped("`smapsaudit ksm` does not exist yet; the capture holds the unmerged PROT_NONE half")
    rc, values = ksm_verb(root, "--pid", pid, "--coverage")
    findings = ksm_findings(values)
    out.append(f"smapsaudit ksm --coverage: exit {rc}, findings {json.dumps(findings)}")
    need(rc == 1 and any(f.get("vma") and hexint(f["vma"]["start"]) == hexint(none["start"]) and
                         "prot_none" in f.get("tags", []) for f in findings),
         "no coverage finding tagged prot_none on the PROT_NONE half (note: the capture holds no page "
         "content hashes unless `smapsaudit capture` writes them)")


def ksm_fork(root, out, scanned):
    truth = load_json(os.path.join(root, "truth.json"))
    parent = truth["pid"]
    pids = pids_in(root)
    need(len(pids) == 2 and parent in pids, f"expected the parent {parent} and its child, got {pids}")
    child = [p for p in pids if p != parent][0]
    np, nc = ksm_numbers(root, parent), ksm_numbers(root, child)
    shared = sys_ksm(root, "pages_shared") + sys_ksm(root, "pages_sharing")
    out.append(f"captured: parent merging {np.get('ksm_merging_pages')} rmap_items {np.get('ksm_rmap_items')}, "
               f"child merging {nc.get('ksm_merging_pages')} rmap_items {nc.get('ksm_rmap_items')}, global "
               f"pages_shared + pages_sharing {shared}")
    if scanned:
        need(nc.get("ksm_merging_pages", 0) > truth["pages"],
             "the capture does not show the child counting more merging pages than it maps")
    else:
        need(nc.get("ksm_merging_pages") == truth["pages"] and
             np.get("ksm_merging_pages", 0) + nc.get("ksm_merging_pages", 0) > shared,
             "the capture does not show the child's inherited counters")
    # Only the last-captured process replays exactly (combined.json): the other's mapcounts of
    # shared library pages come from a later moment. Its KSM pages are what they were.
    base = load_json(os.path.join(root, "combined.json"))["base_pids"]
    for pid in pids:
        rc, r = replay_check(root, pid)
        if pid in base:
            same_as_guest(root, pid, rc, r, out)
        vma = find_vma(r, truth["start"])
        need(vma is not None and vma["walk"]["ksm_pages"] == truth["pages"],
             f"PID {pid}: the mergeable VMA's walk: {vma and vma['walk']}")
        if pid not in base:
            out.append(f"PID {pid} (not the base capture): {truth['pages']} KSM pages in the mergeable VMA; "
                       f"{describe(r, rc)}")
    if not has_ksm_verb():
        raise Skipped("`smapsaudit ksm` does not exist yet; the capture holds the inherited fork counters")
    rc, values = ksm_verb(root)
    findings = ksm_findings(values)
    out.append(f"smapsaudit ksm: exit {rc}, findings {json.dumps(findings)}")
    need(rc == 1 and findings, "the inherited fork counters raised no finding")


CHECKS = {
    "thp-protnone-6.1": protnone_thp,
    "numa-thp-6.1": numa_thp,
    "ksm-coverage-6.1": ksm_coverage,
    "ksm-fork-6.1": lambda root, out: ksm_fork(root, out, scanned=False),
    "ksm-fork-scanned-6.1": lambda root, out: ksm_fork(root, out, scanned=True),
}


def run(name):
    fixture = os.path.join(FIXTURES, name + ".tar.xz")
    need(os.path.exists(fixture), f"no fixture {fixture}")
    need(name in CHECKS, f"no checks for fixture {name}")
    root = tempfile.mkdtemp(prefix=f"smapsaudit-replay-{name}-")
    out = []
    try:
        extract(fixture, root)
        CHECKS[name](root, out)
        return out
    finally:
        for line in out:
            print(f"  {line}")
        shutil.rmtree(root, ignore_errors=True)


def main(argv):
    names = argv or sorted(f[:-len(".tar.xz")] for f in os.listdir(FIXTURES) if f.endswith(".tar.xz"))
    failed, skipped = [], []
    for name in names:
        print(f"{name}:")
        try:
            run(name)
            print(f"PASS {name}")
        except Skipped as e:
            print(f"SKIP {name}: {e}")
            skipped.append(name)
        except Failed as e:
            print(f"FAIL {name}: {e}")
            failed.append(name)
    if failed:
        return 1
    return SKIP if skipped and len(skipped) == len(names) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
