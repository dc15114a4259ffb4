# SPDX-License-Identifier: LGPL-2.1-or-later
# (b) NUMA balancing on (two nodes in the guest): the workload's two threads spin until
# numa_huge_pte_updates rises, then park. On 6.1 smaps skips the NUMA-hinted (protnone) PMDs of
# the accessible THP VMA.
. "$SA_LIB"

thp_madvise
knob /proc/sys/kernel/numa_balancing 1 || exit 1
start_workload wl "$WL" numa-thp --size-mb 64 --seconds 30 || exit 1
section truth cat "$SA_TMP/wl.out"
cp "$SA_TMP/wl.out" "$SA_TMP/truth.json"
section nodes sh -c 'ls -d /sys/devices/system/node/node*; cat /proc/sys/kernel/numa_balancing'
section kernel-views sh -c "grep -E '^(VmRSS|RssAnon|RssFile|RssShmem|Threads)' /proc/$wl_pid/status; \
        echo; cat /proc/$wl_pid/smaps_rollup; echo; grep -E 'numa_(huge_)?pte_updates' /proc/vmstat; \
        grep numa_scan_seq /proc/$wl_pid/sched; grep . /sys/kernel/mm/ksm/pages_shared /sys/kernel/mm/ksm/pages_sharing"
section check "$SA" check --local --json --all-vmas "$wl_pid"
cp "$SA_TMP/section.out" "$SA_TMP/guest-report.json"
capture numa-thp "$wl_pid" "$SA_TMP/truth.json" "$SA_TMP/guest-report.json"
exit 0
