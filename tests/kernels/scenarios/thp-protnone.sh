# SPDX-License-Identifier: LGPL-2.1-or-later
# (a) A 64 MiB THP region whose second half is PROT_NONE (tests/workload thp-protnone). On 6.1
# smaps skips the protnone PMDs: the PROT_NONE VMA shows Rss 0 while pagemap has 32 MiB present
# and status still counts them.
. "$SA_LIB"

thp_madvise
[ -e /proc/sys/kernel/numa_balancing ] && knob /proc/sys/kernel/numa_balancing 0
start_workload wl "$WL" thp-protnone --size-mb 64 || exit 1
section truth cat "$SA_TMP/wl.out"
cp "$SA_TMP/wl.out" "$SA_TMP/truth.json"
section kernel-views sh -c "grep -E '^(VmRSS|RssAnon|RssFile|RssShmem|Threads)' /proc/$wl_pid/status; \
        echo; cat /proc/$wl_pid/smaps_rollup; echo; grep -E 'numa_(huge_)?pte_updates' /proc/vmstat; \
        grep . /sys/kernel/mm/ksm/pages_shared /sys/kernel/mm/ksm/pages_sharing"
section check "$SA" check --local --json --all-vmas "$wl_pid"
cp "$SA_TMP/section.out" "$SA_TMP/guest-report.json"
capture thp-protnone "$wl_pid" "$SA_TMP/truth.json" "$SA_TMP/guest-report.json"
exit 0
