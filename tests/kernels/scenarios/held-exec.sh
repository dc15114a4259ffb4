# SPDX-License-Identifier: LGPL-2.1-or-later
# (g) An exec in flight: tests/workload held-exec(-short) has a child execve() with argv[0] on a
# page registered missing with userfaultfd, so the exec waits in copy_strings() with its argument
# pages counted in the old image (fs/exec.c acct_arg_size). status stands above the page tables
# by them, with nothing wrong: the audit notes the exec and finds nothing; once the fault is
# resolved and the exec is done, the same.
. "$SA_LIB"

for variant in short env; do
        shape=held-exec
        [ "$variant" = short ] && shape=held-exec-short
        start_workload "$variant" "$WL" "$shape" || exit 1
        section "truth-$variant" cat "$SA_TMP/$variant.out"
        child=$(sed -n 's/.*"child_pid":\([0-9]*\).*/\1/p' "$SA_TMP/$variant.out")
        section "views-$variant" sh -c "grep -E '^(VmRSS|RssAnon):' /proc/$child/status; \
                grep -E '^(Rss|Anonymous):' /proc/$child/smaps_rollup; grep -E '^(VmRSS|RssAnon):' /proc/$child/status; \
                cat /proc/$child/syscall /proc/$child/stack"
        section "check-$variant" "$SA" check --local --json "$child"
        kill -USR1 "$wl_pid"
        i=0
        while [ "$(cat "/proc/$child/comm" 2>/dev/null)" != sleep ] && [ $i -lt 100 ]; do
                sleep 0.1
                i=$((i + 1))
        done
        section "after-$variant" "$SA" check --local --json "$child"
        stop_workloads
done
exit 0
