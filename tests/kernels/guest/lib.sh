# SPDX-License-Identifier: LGPL-2.1-or-later
# Shared by the scenario scripts (tests/kernels/scenarios/*.sh). POSIX sh: the same scripts run
# under busybox sh as the qemu guests' /init and under /bin/sh on the host.
#
# Environment: SA (the smapsaudit CLI), WL (tests/workload), KW (tests/kernels/kworkload),
# SA_TMP (a scratch directory of our own), SA_CAPTURE=1 to stream captures out, TAR and XZ (GNU
# tar and xz: busybox sh runs its own applets for plain "tar" and "xz", which can't do this).
#
# Output protocol, read by tests/kernels/run:
#   ===SMAPSAUDIT-BEGIN name===       then the command's stdout
#   ===SMAPSAUDIT-STDERR name===      then its stderr
#   ===SMAPSAUDIT-END name rc=N from=UPTIME to=UPTIME===
# Every knob a scenario changes is saved first and restored when the script exits.

: "${SA:?SA is not set}" "${SA_TMP:?SA_TMP is not set}"
SA_KNOBS=""
SA_PIDS=""

say() { echo "kernels: $*" >&2; }

# section NAME CMD...: run CMD and print its output between markers; returns CMD's status.
section() {
        _name=$1
        shift
        _t0=$(cut -d' ' -f1 /proc/uptime)
        "$@" >"$SA_TMP/section.out" 2>"$SA_TMP/section.err"
        _rc=$?
        _t1=$(cut -d' ' -f1 /proc/uptime)
        echo "===SMAPSAUDIT-BEGIN $_name==="
        cat "$SA_TMP/section.out"
        echo "===SMAPSAUDIT-STDERR $_name==="
        cat "$SA_TMP/section.err"
        echo "===SMAPSAUDIT-END $_name rc=$_rc from=$_t0 to=$_t1==="
        # the harness compares the count with the sections that arrived whole
        SA_SECTIONS=$((${SA_SECTIONS:-0} + 1))
        echo "$SA_SECTIONS" >"$SA_TMP/sections"
        return $_rc
}

# knob PATH VALUE: save PATH's value, then write VALUE. Selector files ("a [b] c") save the word
# in brackets. Restored last-in first-out by restore_knobs.
knob() {
        [ -e "$1" ] || { say "no $1: left alone"; return 1; }
        _old=$(cat "$1")
        case "$_old" in
        *\[*\]*) _old=$(echo "$_old" | sed 's/.*\[\([^]]*\)\].*/\1/') ;;
        esac
        SA_KNOBS="$1=$_old
$SA_KNOBS"
        echo "$2" >"$1" || { say "cannot write $2 to $1"; return 1; }
}

restore_knobs() {
        # KSM: unmerge everything before ksm/run and friends get their old values back
        case "$SA_KNOBS" in
        */kernel/mm/ksm/*) echo 2 >/sys/kernel/mm/ksm/run 2>/dev/null ;;
        esac
        printf '%s\n' "$SA_KNOBS" | while IFS='=' read -r _f _v; do
                [ -n "$_f" ] && { echo "$_v" >"$_f" || say "could not restore $_f=$_v"; }
        done
        SA_KNOBS=""
}

# THP at least in madvise mode (leaves "always" alone).
thp_madvise() {
        case "$(cat /sys/kernel/mm/transparent_hugepage/enabled)" in
        *\[always\]*|*\[madvise\]*) ;;
        *) knob /sys/kernel/mm/transparent_hugepage/enabled madvise ;;
        esac
}

# start_workload TAG CMD...: start CMD in the background, stdout to $SA_TMP/TAG.out; wait until
# it printed its first line (the truth); sets wl_pid.
start_workload() {
        _tag=$1
        shift
        "$@" >"$SA_TMP/$_tag.out" 2>"$SA_TMP/$_tag.err" &
        wl_pid=$!
        SA_PIDS="$wl_pid $SA_PIDS"
        wait_line "$SA_TMP/$_tag.out" 1 "${WL_READY_TIMEOUT:-120}" || {
                say "$* printed no truth line: $(cat "$SA_TMP/$_tag.err")"
                return 1
        }
}

# wait_line FILE N SECONDS: until FILE holds N complete lines; gives up early when the workload
# (wl_pid) is gone.
wait_line() {
        _i=0
        while _n=$(grep -c '}$' "$1" 2>/dev/null); [ "${_n:-0}" -lt "$2" ]; do
                _i=$((_i + 1))
                [ $_i -gt $(($3 * 10)) ] && return 1
                kill -0 "$wl_pid" 2>/dev/null || return 1
                sleep 0.1
        done
        return 0
}

stop_workloads() {
        for _p in $SA_PIDS; do
                kill "$_p" 2>/dev/null
        done
        for _p in $SA_PIDS; do
                wait "$_p" 2>/dev/null
        done
        SA_PIDS=""
}

# check_brief ARGS...: smapsaudit check --local --json ARGS with the report's "vmas" array left
# out (2000 VMAs make megabytes of console); returns smapsaudit's exit status.
check_brief() {
        "$SA" check --local --json "$@" >"$SA_TMP/brief.json"
        _rc=$?
        awk '/^  "vmas": \[/ { skip = 1; print "  \"vmas_omitted\": true,"; next }
             skip && /^  \],?$/ { skip = 0; next }
             !skip' "$SA_TMP/brief.json"
        return $_rc
}

# A /sys/kernel/mm/ksm counter.
ksm_value() { cat "/sys/kernel/mm/ksm/$1"; }

# wait_full_scans N SECONDS: until ksmd completed N more full scans; says how long it took.
wait_full_scans() {
        _from=$(ksm_value full_scans)
        _i=0
        while [ "$(ksm_value full_scans)" -lt $((_from + $1)) ]; do
                _i=$((_i + 1))
                if [ $_i -gt $(($2 * 10)) ]; then
                        echo "full_scans $_from -> $(ksm_value full_scans): not $1 more in $2 s"
                        return 1
                fi
                sleep 0.1
        done
        echo "full_scans $_from -> $(ksm_value full_scans) in ~$((_i / 10)) s"
}

# Every KSM number of PID and of the machine, one "name value" a line.
ksm_state() {
        for _p in "$@"; do
                echo "pid $_p"
                [ -r "/proc/$_p/ksm_merging_pages" ] && echo "ksm_merging_pages_file $(cat "/proc/$_p/ksm_merging_pages")"
                [ -r "/proc/$_p/ksm_stat" ] && cat "/proc/$_p/ksm_stat"
        done
        echo "global"
        for _f in /sys/kernel/mm/ksm/*; do
                echo "$(basename "$_f") $(cat "$_f")"
        done
}

# Does this smapsaudit have the ksm verb yet? (--help lists the commands; "ksm --help" would
# print the general help and succeed either way.)
has_ksm_verb() {
        "$SA" --help 2>/dev/null | grep -qE '^ +ksm( |$)'
}

# capture NAME PID [EXTRA_FILE...]: only with SA_CAPTURE=1 (the 6.1 guests): smapsaudit capture
# PID into $SA_TMP/cap-NAME, with the extra files (a truth line, the report the guest saw) copied
# beside proc/ and sys/, streamed out as base64 of tar --sparse | xz.
capture() {
        [ "${SA_CAPTURE:-0}" = 1 ] || return 0
        _cap=$1
        _pid=$2
        shift 2
        rm -rf "$SA_TMP/cap-$_cap"
        section "capture-log-$_cap" "$SA" capture "$_pid" -o "$SA_TMP/cap-$_cap" || return 1
        for _f in "$@"; do
                cp "$_f" "$SA_TMP/cap-$_cap/"
        done
        section "capture-$_cap" sh -c "'${TAR:-tar}' --sparse --numeric-owner --owner=0 --group=0 -C '$SA_TMP/cap-$_cap' -cf - . | '${XZ:-xz}' -9e | base64"
}

trap 'stop_workloads; restore_knobs' EXIT
trap 'exit 130' INT TERM
