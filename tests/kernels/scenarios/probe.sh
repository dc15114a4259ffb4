# SPDX-License-Identifier: LGPL-2.1-or-later
# (f) smapsaudit probe: every catalogued bug provoked in a child and judged in one run, with
# --allow-knobs (the knobs must be as they were afterwards), one --report, and the standalone
# reproducers (tests/kernels/repro), each of which prints PASS or FAIL by itself. Two NUMA nodes
# in the guest, for the NUMA-hinted THP bug.
#
# Environment besides lib.sh's: REPRO (the directory of the repro-NAME binaries).
. "$SA_LIB"
: "${REPRO:?REPRO is not set}"

knobs() {
        for _f in /sys/kernel/mm/transparent_hugepage/enabled /proc/sys/kernel/numa_balancing \
                /sys/kernel/mm/ksm/run /sys/kernel/mm/ksm/sleep_millisecs /sys/kernel/mm/ksm/pages_to_scan; do
                [ -e "$_f" ] && echo "$_f $(cat "$_f")"
        done
}

section knobs-before knobs
section probe "$SA" probe --allow-knobs --json
section knobs-after knobs
section report "$SA" probe --report thp-protnone
section probe-text "$SA" probe --allow-knobs

# The reproducers change no knob themselves: set what they need (restored on exit).
thp_madvise
[ -e /proc/sys/kernel/numa_balancing ] && knob /proc/sys/kernel/numa_balancing 1
knob /sys/kernel/mm/ksm/sleep_millisecs 10
knob /sys/kernel/mm/ksm/pages_to_scan 1000
knob /sys/kernel/mm/ksm/run 1
for r in thp-protnone numa-thp ksm-protnone ksm-fork rollup-skip kpf-ksm status-lag; do
        section "repro-$r" "$REPRO/repro-$r"
done
exit 0
