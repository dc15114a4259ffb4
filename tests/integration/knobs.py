# SPDX-License-Identifier: LGPL-2.1-or-later
"""Save, set and restore the machine-wide kernel knobs that integration tests change.

Every knob here is shared by everything on the machine, so a test that changes one must put it
back whatever happens: use these only as context managers (``with`` or ``ExitStack``), and
enter them before starting a workload, so that the workload is killed before the knob is
restored (a KSM unmerge or a hugetlb pool shrink must not race with our own process).
"""

import os
import re
import shutil
import subprocess
import time

KSM = "/sys/kernel/mm/ksm"
THP_ENABLED = "/sys/kernel/mm/transparent_hugepage/enabled"
NUMA_BALANCING = "/proc/sys/kernel/numa_balancing"
NR_HUGEPAGES = "/proc/sys/vm/nr_hugepages"


def read_knob(path):
    """A knob's current value; for "a [b] c" selectors, the selected word."""
    with open(path) as f:
        text = f.read().strip()
    m = re.search(r"\[(\S+)\]", text)
    return m.group(1) if m else text


def write_knob(path, value):
    with open(path, "w") as f:
        f.write(f"{value}\n")


def read_int(path):
    return int(read_knob(path))


class Knobs:
    """Set several knobs on entry; on exit restore them in reverse order.

    ``changes`` is a list of (path, value). ``before_restore`` may name (path, value) pairs that
    are written first on exit, before the saved values (KSM's run=2 unmerge).
    """

    def __init__(self, changes, before_restore=()):
        self.changes = list(changes)
        self.before_restore = list(before_restore)
        self.saved = []

    def __enter__(self):
        try:
            for path, value in self.changes:
                self.saved.append((path, read_knob(path)))
                write_knob(path, value)
        except BaseException:
            self._restore()
            raise
        return self

    def __exit__(self, *exc):
        self._restore()
        return False

    def _restore(self):
        errors = []
        if self.saved:
            for path, value in self.before_restore:
                try:
                    write_knob(path, value)
                except OSError as e:
                    errors.append(f"{path}={value}: {e}")
        for path, value in reversed(self.saved):
            try:
                write_knob(path, value)
            except OSError as e:
                errors.append(f"{path}={value}: {e}")
        self.saved = []
        if errors:
            raise OSError("could not restore knobs: " + "; ".join(errors))


def numa_balancing(value=1):
    return Knobs([(NUMA_BALANCING, value)])


def thp_madvise():
    """THP at least in madvise mode: MADV_HUGEPAGE regions get THPs. Leaves "always" alone."""
    if read_knob(THP_ENABLED) in ("always", "madvise"):
        return Knobs([])
    return Knobs([(THP_ENABLED, "madvise")])


def ksm_running(sleep_millisecs=10, pages_to_scan=1000):
    """ksmd scanning fast. On exit: run=2 (unmerge every KSM page), then the saved values."""
    return Knobs([(f"{KSM}/sleep_millisecs", sleep_millisecs),
                  (f"{KSM}/pages_to_scan", pages_to_scan),
                  (f"{KSM}/run", 1)],
                 before_restore=[(f"{KSM}/run", 2)])


def ksm_full_scans():
    return read_int(f"{KSM}/full_scans")


def wait_ksm_full_scans(count, timeout):
    """Wait until ksmd has completed ``count`` more full scans; False on timeout."""
    target = ksm_full_scans() + count
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ksm_full_scans() >= target:
            return True
        time.sleep(0.05)
    return False


class HugePages:
    """Reserve ``count`` more 2 MiB hugetlb pages than the pool had; restore the pool on exit."""

    def __init__(self, count):
        self.count = count
        self.knobs = None

    def __enter__(self):
        saved = read_int(NR_HUGEPAGES)
        self.knobs = Knobs([(NR_HUGEPAGES, saved + self.count)]).__enter__()
        return self

    def free_pages(self):
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("HugePages_Free:"):
                    return int(line.split()[1])
        return 0

    def __exit__(self, *exc):
        return self.knobs.__exit__(*exc)


class Swap:
    """Swap for the test: the swap already on, or zram0 made a 256 MiB swap device, and on exit
    switched off and reset (even when the test failed). ``active`` is False when neither could
    be had (no zram, no mkswap): the caller skips."""

    ZRAM = "/dev/zram0"

    def __init__(self):
        self.ours = False
        self.active = False

    @staticmethod
    def _swaps():
        with open("/proc/swaps") as f:
            return f.read().splitlines()[1:]

    def __enter__(self):
        if self._swaps():
            self.active = True
            return self
        if not os.path.exists(self.ZRAM) or not shutil.which("mkswap") or not shutil.which("swapon"):
            return self
        try:
            write_knob("/sys/block/zram0/disksize", "256M")
            self.ours = True
            subprocess.run(["mkswap", self.ZRAM], check=True, capture_output=True, timeout=30)
            subprocess.run(["swapon", self.ZRAM], check=True, capture_output=True, timeout=30)
        except (OSError, subprocess.SubprocessError):
            self.__exit__()
            return self
        self.active = bool(self._swaps())
        return self

    def __exit__(self, *exc):
        if self.ours:
            subprocess.run(["swapoff", self.ZRAM], capture_output=True, timeout=120)
            write_knob("/sys/block/zram0/reset", "1")
            self.ours = False
        return False


def is_root():
    return os.geteuid() == 0
