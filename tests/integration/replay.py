# SPDX-License-Identifier: LGPL-2.1-or-later
"""Captures for replay tests, and edits that make a capture look like a buggy kernel's.

``smapsaudit capture PID -o DIR`` writes DIR/proc and DIR/sys; ``check --local --proc-root
DIR/proc --sys-root DIR/sys PID`` then audits the files instead of the live process. Editing
the captured smaps reproduces what 6.1–6.4 printed, on a kernel that no longer has the bug.
"""

import os
import re

import harness

# What 6.1–6.4 lost for a PMD-mapped THP whose PMD was protnone: smaps_pte_range() skipped the
# whole entry, so every field it would have added stayed 0.
SKIPPED_PMD_FIELDS = ("Rss", "Pss", "Pss_Dirty", "Shared_Clean", "Shared_Dirty", "Private_Clean",
                      "Private_Dirty", "Referenced", "Anonymous", "LazyFree", "AnonHugePages", "KSM")

_HEADER = re.compile(r"^([0-9a-f]+)-([0-9a-f]+) ")
_FIELD = re.compile(r"^([A-Za-z_]+):(\s+)(\d+)( kB)$")


def capture(pid, directory):
    result = harness.smapsaudit("capture", pid, "-o", directory)
    return result


def check_capture(pid, directory, *options):
    return harness.check(pid, "--proc-root", os.path.join(directory, "proc"),
                         "--sys-root", os.path.join(directory, "sys"), *options)


def _set_field(line, value):
    m = _FIELD.match(line)
    digits = str(value)
    width = len(m.group(2)) + len(m.group(3))
    return f"{m.group(1)}:{digits.rjust(width)}{m.group(4)}"


def zero_vma_fields(smaps_path, start, fields=SKIPPED_PMD_FIELDS):
    """Set ``fields`` of the VMA at ``start`` to 0 kB in a captured smaps. Returns {field: kB
    removed}. Fails if the VMA is not there."""
    want = harness.hexint(start)
    with open(smaps_path) as f:
        lines = f.read().split("\n")
    removed, in_vma, found = {}, False, False
    for i, line in enumerate(lines):
        h = _HEADER.match(line)
        if h:
            in_vma = int(h.group(1), 16) == want
            found = found or in_vma
            continue
        m = _FIELD.match(line)
        if in_vma and m and m.group(1) in fields:
            removed[m.group(1)] = int(m.group(3))
            lines[i] = _set_field(line, 0)
    if not found:
        raise AssertionError(f"no VMA at {start} in {smaps_path}")
    with open(smaps_path, "w") as f:
        f.write("\n".join(lines))
    return removed


def reduce_rollup(rollup_path, removed):
    """Subtract what ``zero_vma_fields`` removed from a captured smaps_rollup (Pss_Anon loses
    what Pss lost: the skipped pages were anonymous)."""
    amounts = dict(removed)
    amounts["Pss_Anon"] = removed.get("Pss", 0)
    with open(rollup_path) as f:
        lines = f.read().split("\n")
    for i, line in enumerate(lines):
        m = _FIELD.match(line)
        if m and amounts.get(m.group(1)):
            value = int(m.group(3)) - amounts[m.group(1)]
            if value < 0:
                raise AssertionError(f"{rollup_path}: {m.group(1)} would go negative")
            lines[i] = _set_field(line, value)
    with open(rollup_path, "w") as f:
        f.write("\n".join(lines))


def make_numa_scanned(directory, pid, scan_seq=3):
    """NUMA balancing on and the mm scanned, as the capture's files say it. Creates the files if
    the capture lacks them. Returns the paths written."""
    written = []
    sysctl = os.path.join(directory, "proc", "sys", "kernel", "numa_balancing")
    os.makedirs(os.path.dirname(sysctl), exist_ok=True)
    with open(sysctl, "w") as f:
        f.write("1\n")
    written.append(sysctl)

    pid_dir = os.path.join(directory, "proc", str(pid))
    sched_files = [os.path.join(pid_dir, "sched")]
    task_dir = os.path.join(pid_dir, "task")
    if os.path.isdir(task_dir):
        sched_files += [os.path.join(task_dir, t, "sched") for t in os.listdir(task_dir)
                        if os.path.exists(os.path.join(task_dir, t, "sched"))]
    pattern = re.compile(r"^(mm->numa_scan_seq\s+:\s+)-?\d+$", re.MULTILINE)
    fresh = f"{'mm->numa_scan_seq':<45}:{scan_seq:>21}\n"
    for path in sched_files:
        text = ""
        if os.path.exists(path):
            with open(path) as f:
                text = f.read()
        if pattern.search(text):
            text = pattern.sub(lambda m: m.group(1) + str(scan_seq), text)
        else:
            text += fresh
        with open(path, "w") as f:
            f.write(text)
        written.append(path)
    return written


def assert_edited_vma(test, report, region, tags):
    """The walk still sees every page of the edited VMA; its kernel numbers are the edited 0."""
    vma = harness.find_vma(report, region["start"])
    test.assertIsNotNone(vma, f"no VMA at {region['start']}")
    for field in ("Rss", "Anonymous", "AnonHugePages"):
        test.assertEqual(vma["fields"][field]["walk_kb"], region["expect"][field], field)
        test.assertEqual(vma["fields"][field]["kernel_kb"], 0, field)
    test.assertNotEqual(vma.get("verdict"), "consistent")
    for tag in tags:
        test.assertIn(tag, vma.get("tags", []), f"VMA tags {vma.get('tags')}")


def assert_findings_name_only(test, result, region, tags):
    """Every finding that names a VMA names exactly ``region`` and carries ``tags``; at least one
    is an under-accounted AnonHugePages of that VMA."""
    findings = result.report.get("findings", [])
    on_vma = [f for f in findings if f.get("vma")]
    test.assertTrue(on_vma, f"no finding names a VMA\n{result.describe()}")
    for f in on_vma:
        test.assertEqual((harness.hexint(f["vma"]["start"]), harness.hexint(f["vma"]["end"])),
                         (harness.hexint(region["start"]), harness.hexint(region["end"])),
                         f"finding on another VMA: {f}")
        for tag in tags:
            test.assertIn(tag, f.get("tags", []), f"finding without tag {tag}: {f}")
    test.assertTrue(any(f.get("field") == "AnonHugePages" and f.get("kind") == "under-accounted"
                        for f in on_vma),
                    f"no under-accounted AnonHugePages finding\n{result.describe()}")
