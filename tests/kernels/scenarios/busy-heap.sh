# SPDX-License-Identifier: LGPL-2.1-or-later
# (b') A heap that never holds still (two NUMA nodes, numa_balancing=1): one MADV_HUGEPAGE VMA whose
# first half holds THPs NUMA-hinted while two threads spin, its second half faulted into and
# dropped 4-64 KiB at a time without end. On 6.1 smaps skips the hinted PMDs: the event budget
# must still see 64 MiB missing in a VMA that differs between any two reads.
. "$SA_LIB"

thp_madvise
knob /proc/sys/kernel/numa_balancing 1 || exit 1
start_workload wl "$WL" busy-heap --size-mb 128 --seconds 30 || exit 1
section truth cat "$SA_TMP/wl.out"
section nodes sh -c 'ls -d /sys/devices/system/node/node*; cat /proc/sys/kernel/numa_balancing'
section kernel-views sh -c "grep -E '^(VmRSS|RssAnon|RssFile|RssShmem|Threads)' /proc/$wl_pid/status; \
        echo; cat /proc/$wl_pid/smaps_rollup; echo; grep -E 'numa_(huge_)?pte_updates|^thp_' /proc/vmstat; \
        grep numa_scan_seq /proc/$wl_pid/sched"
section check "$SA" check --local --json --all-vmas "$wl_pid"
section check-again "$SA" check --local --json --all-vmas "$wl_pid"
exit 0
