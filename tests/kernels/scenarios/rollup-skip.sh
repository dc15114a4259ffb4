# SPDX-License-Identifier: LGPL-2.1-or-later
# (d) smaps_rollup under mmap_lock contention: 2000 written VMAs of 64 KiB and a thread mapping
# and unmapping 8 KiB in a loop. On 6.1 (c4c84f06285e, fixed by 6d065f507d82) the rollup walk
# skips the VMA it finds after dropping the contended lock: its Rss comes out below the VMAs that
# were mapped all along. The probe measures that independently of smapsaudit; then smapsaudit
# check must catch it.
. "$SA_LIB"

start_workload kw "$KW" rollup-churn --vmas 2000 --vma-kb 64 || exit 1
section truth cat "$SA_TMP/kw.out"
section probe "$KW" rollup-probe "$wl_pid" --reads "${ROLLUP_READS:-30}" --vma-kb 64
# The target's own faults (minflt, /proc/PID/stat field 10) around each audit: the rollup
# window's allowance grows with them.
minflt() { cut -d' ' -f10 "/proc/$wl_pid/stat"; }
for i in 1 2 3; do
        f0=$(minflt)
        t0=$(cut -d' ' -f1 /proc/uptime)
        section "check-churn-$i" check_brief "$wl_pid"
        section "faults-$i" echo "minflt $f0 -> $(minflt) over $t0 -> $(cut -d' ' -f1 /proc/uptime) s"
done
# the same process once the writer stopped: no contention, nothing to skip
kill -USR1 "$wl_pid"
wait_line "$SA_TMP/kw.out" 2 30 || say "the churn thread did not stop"
section churn-stopped sed -n 2p "$SA_TMP/kw.out"
section probe-quiet "$KW" rollup-probe "$wl_pid" --reads 10 --vma-kb 64
section check-quiet check_brief "$wl_pid"
exit 0
