# SPDX-License-Identifier: LGPL-2.1-or-later
# (c2) KSM counters across fork (fixed upstream by 4d6fc29f3634, not in 6.1): 1024 identical
# mergeable pages merged, then a fork with ksmd stopped (run=0). On 6.1 the child, never scanned,
# reports the parent's ksm_merging_pages and rmap_items; after ksmd scans it, it reports twice
# the KSM pages it maps.
. "$SA_LIB"

knob /sys/kernel/mm/ksm/sleep_millisecs 10 || exit 1
knob /sys/kernel/mm/ksm/pages_to_scan 1000
knob /sys/kernel/mm/ksm/run 1
start_workload kw "$KW" ksm-fork --pages 1024 --seconds 60 || exit 1
parent=$wl_pid
section truth cat "$SA_TMP/kw.out"
section wait-merge-settled wait_full_scans 2 60
echo 0 >/sys/kernel/mm/ksm/run
kill -USR1 "$parent"
wait_line "$SA_TMP/kw.out" 2 30 || { say "no child"; exit 1; }
child=$(sed -n 's/.*"child_pid":\([0-9]*\).*/\1/p' "$SA_TMP/kw.out")
section child echo "$child"

cp "$SA_TMP/kw.out" "$SA_TMP/truth.json"

# record STATE CAPTURE: what the kernel and smapsaudit say about parent and child now, and a
# capture of each (sections STATE-*, captures CAPTURE-parent and CAPTURE-child).
record() {
        section "$1-state" ksm_state "$parent" "$child"
        for _who in parent child; do
                eval "_p=\$$_who"
                section "$1-check-$_who" "$SA" check --local --json "$_p"
                cp "$SA_TMP/section.out" "$SA_TMP/guest-report-$_p.json"
        done
        if has_ksm_verb; then
                section "$1-ksm-verb" "$SA" ksm --json
                section "$1-ksm-verb-child" "$SA" ksm --pid "$child" --json
        elif [ "$1" = fork ]; then
                section ksm-verb-missing sh -c "'$SA' ksm --json; exit 0"
        fi
        ksm_state "$parent" "$child" >"$SA_TMP/ksm-state.txt"
        for _who in parent child; do
                eval "_p=\$$_who"
                capture "$2-$_who" "$_p" "$SA_TMP/truth.json" "$SA_TMP/ksm-state.txt" "$SA_TMP/guest-report-$_p.json"
        done
}

# state 1: right after fork, ksmd stopped: the child was never scanned
record fork ksm-fork

# state 2: ksmd ran again and scanned the child
echo 1 >/sys/kernel/mm/ksm/run
section scanned-wait wait_full_scans 3 60
record scanned ksm-scanned
exit 0
