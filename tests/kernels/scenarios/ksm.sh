# SPDX-License-Identifier: LGPL-2.1-or-later
# (c1) KSM merge coverage: 8 MiB of identical MADV_MERGEABLE pages, the second half PROT_NONE
# (tests/workload ksm). On 6.1 the PROT_NONE half never merges (474098edac26 also broke KSM's
# follow_page on protnone PTEs). `smapsaudit ksm --coverage` must say so; until that verb exists
# the state is recorded and captured.
. "$SA_LIB"

knob /sys/kernel/mm/ksm/sleep_millisecs 10 || exit 1
knob /sys/kernel/mm/ksm/pages_to_scan 1000
knob /sys/kernel/mm/ksm/run 1
start_workload wl "$WL" ksm --size-mb 8 || exit 1
section truth cat "$SA_TMP/wl.out"
cp "$SA_TMP/wl.out" "$SA_TMP/truth.json"
# Merging the accessible half takes ~2 full scans; give ksmd many more to show the other half
# never merges.
section full-scans wait_full_scans 10 120
section ksm-state ksm_state "$wl_pid"
section check "$SA" check --local --json --all-vmas "$wl_pid"
cp "$SA_TMP/section.out" "$SA_TMP/guest-report.json"
if has_ksm_verb; then
        section ksm-verb "$SA" ksm --pid "$wl_pid" --coverage --json
else
        section ksm-verb-missing sh -c "'$SA' ksm --json; exit 0"
fi
capture ksm-coverage "$wl_pid" "$SA_TMP/truth.json" "$SA_TMP/guest-report.json"
exit 0
