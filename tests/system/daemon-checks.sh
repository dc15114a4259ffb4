# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=bash
#
# What an administrator and a user do with smapsauditd in a booted container
# (tests/system/container.sh), each step failing the test with the daemon's journal when it
# goes wrong. Sourced after container.sh.

# Active, and still active with no restart a few seconds later.
check_stays_active() {
        local restarts

        sleep 3
        in_container systemctl is-active smapsauditd >/dev/null || { journal_tail; die "smapsauditd did not stay active"; }
        restarts=$(in_container systemctl show -P NRestarts smapsauditd)
        [ "$restarts" = 0 ] || { journal_tail; die "smapsauditd was restarted $restarts time(s) since its start"; }
}

# With run-as-user.conf, the daemon runs as its own user (sysusers.d/smapsaudit.conf), its
# capabilities exactly the unit's, as ambient ones: CAP_DAC_READ_SEARCH (2), CAP_SETGID (6), CAP_SETUID (7), CAP_SYS_PTRACE
# (19) and CAP_SYS_ADMIN (21); and with them it sees frame numbers (a root check's report says
# "pfns": true).
check_own_user() {
        local pid uid want=00000000002800c4 field out="$WORK/check-pfns.json"

        pid=$(in_container systemctl show -P MainPID smapsauditd)
        uid=$(in_container id -u smapsaudit) || die "no user smapsaudit in the container"
        in_container cat "/proc/$pid/status" >"$WORK/daemon-status.txt"
        grep -Eq "^Uid:[[:space:]]+$uid[[:space:]]+$uid[[:space:]]+$uid[[:space:]]+$uid\$" "$WORK/daemon-status.txt" ||
                die "smapsauditd does not run as smapsaudit ($uid): $(grep '^Uid:' "$WORK/daemon-status.txt")"
        for field in CapPrm CapEff CapAmb CapBnd; do
                grep -q "^$field:[[:space:]]*$want\$" "$WORK/daemon-status.txt" ||
                        die "smapsauditd's $field is not $want: $(grep "^$field:" "$WORK/daemon-status.txt")"
        done
        in_container smapsaudit check --json 1 >"$out" || true
        grep -Eq '"pfns": *true' "$out" || die "the daemon's report shows no frame numbers: $(head -c 2000 "$out")"
        say "smapsauditd runs as smapsaudit ($uid) with capabilities $want, and sees frame numbers"
}

# check_through_daemon WHO PID: WHO (root or user) audits PID through the daemon, whose report
# must be PID's. Without --local the CLI only asks the bus, so an answer is the daemon's.
check_through_daemon() {
        local who=$1 pid=$2 rc=0 out="$WORK/check-$1-$2.json"

        if [ "$who" = root ]; then
                in_container smapsaudit check --json "$pid" >"$out" || rc=$?
        else
                as_user smapsaudit check --json "$pid" >"$out" || rc=$?
        fi
        case $rc in
                0|1|3) ;;
                *) journal_tail; die "$who's check of PID $pid failed with exit $rc" ;;
        esac
        if ! grep -Eq '"schema": *"smapsaudit\.report(\\)?/1"' "$out" || ! grep -q "\"pid\": *$pid" "$out"; then
                die "$who's check of PID $pid printed no report of it: $(cat "$out")"
        fi
        say "$who: smapsaudit check $pid answered through the daemon (exit $rc)"
}

# The user may not audit what it cannot ptrace-read: PID 1.
check_user_refused_pid1() {
        local rc=0

        as_user smapsaudit check 1 >/dev/null 2>"$WORK/refused.txt" || rc=$?
        [ "$rc" = 2 ] || die "auditor-user's check of PID 1 was not refused (exit $rc)"
        say "auditor-user: check of PID 1 refused: $(head -n 1 "$WORK/refused.txt")"
}

# A sweep ran inside the sandbox (the first starts with the daemon).
check_sweep_finishes() {
        local last=0

        for _ in $(seq 900); do
                last=$(in_container busctl --system get-property org.smapsaudit.Auditor1 /org/smapsaudit/Auditor1 \
                        org.smapsaudit.Auditor1 LastSweepUSec | awk '{print $2}')
                [ "${last:-0}" != 0 ] && break
                sleep 0.1
        done
        [ "${last:-0}" != 0 ] || { journal_tail; die "no sweep finished in 90 s"; }
        say "a sweep finished"
}

REPLAY_DROPIN=/etc/systemd/system/smapsauditd.service.d/replay.conf

# replay_finding [CGROUP]: a capture of Debian 6.1's PROT_NONE THP bug (tests/replay/fixtures)
# replayed through the unit (a drop-in adds --proc-root/--sys-root; below /srv, which the sandbox
# reads, not /tmp: PrivateTmp=) gives a finding, and journalctl -x -u smapsauditd shows its
# catalog text. With CGROUP, the capture says its process was in that cgroup (the capture is
# edited, as the replay tests edit theirs). The daemon runs on the capture until replay_finish.
# Sets REPLAY_PID.
replay_finding() {
        local fixture=$SRC/tests/replay/fixtures/thp-protnone-6.1.tar.xz rc=0 catalog_text="found that the kernel's smaps"
        local dropin=$ROOT$REPLAY_DROPIN

        mkdir -p "$ROOT/srv/replay"
        tar --sparse -xJf "$fixture" -C "$ROOT/srv/replay"
        REPLAY_PID=$(sed -n 's/.*"pid": *\([0-9]*\).*/\1/p' "$ROOT/srv/replay/truth.json")
        [ -n "$REPLAY_PID" ] || die "no pid in the fixture's truth.json"
        [ $# -eq 0 ] || echo "0::$1" >"$ROOT/srv/replay/proc/$REPLAY_PID/cgroup"

        mkdir -p "$(dirname "$dropin")"
        cat >"$dropin" <<EOF
[Service]
ExecStart=
ExecStart=/usr/sbin/smapsauditd --proc-root=/srv/replay/proc --sys-root=/srv/replay/sys
EOF
        in_container systemctl daemon-reload
        in_container systemctl restart smapsauditd || { journal_tail; die "restart with the replay drop-in failed"; }
        in_container smapsaudit check "$REPLAY_PID" >"$WORK/replay.txt" || rc=$?
        [ "$rc" = 1 ] || { cat "$WORK/replay.txt"; journal_tail; die "the replayed bug was not found (exit $rc)"; }
        for _ in $(seq 100); do
                in_container journalctl -x -u smapsauditd --no-pager >"$WORK/journal.txt" 2>&1 || true
                grep -q "$catalog_text" "$WORK/journal.txt" && break
                sleep 0.1
        done
        grep -q "$catalog_text" "$WORK/journal.txt" ||
                { tail -40 "$WORK/journal.txt"; die "journalctl -x -u smapsauditd does not show the catalog text"; }
        say "journal: the finding with its catalog text ($(grep -m1 -o 'The kernel under-accounts memory of process [^ ]*' "$WORK/journal.txt"))"
}

# The daemon back on the live /proc, without the replay drop-in.
replay_finish() {
        rm "$ROOT$REPLAY_DROPIN"
        rmdir "$(dirname "$ROOT$REPLAY_DROPIN")"
        in_container systemctl daemon-reload
        in_container systemctl restart smapsauditd || { journal_tail; die "systemctl restart failed"; }
}

history_count() {
        in_container smapsaudit findings --json --since @0 | grep -o '"kind"' | wc -l
}

# check_history_kept BEFORE ACTION...: after systemctl ACTION smapsauditd (one after the other)
# the daemon is active and still has at least BEFORE findings.
check_history_kept() {
        local before=$1 action after
        shift

        [ "$before" -ge 1 ] || die "the finding is not in the daemon's history"
        for action in "$@"; do
                in_container systemctl "$action" smapsauditd || { journal_tail; die "systemctl $action failed"; }
                if [ "$action" != stop ]; then
                        in_container systemctl is-active smapsauditd >/dev/null || { journal_tail; die "smapsauditd died on $action"; }
                fi
        done
        after=$(history_count)
        [ "$after" -ge "$before" ] || die "systemctl $* lost history: $before finding(s) before, $after after"
        say "systemctl $* kept the history ($after finding(s))"
}

# start_user_unit NAME: a service of auditor-user's (what a unit of a real service looks like to
# the daemon); prints its main PID.
start_user_unit() {
        local pid=0

        in_container systemd-run --quiet --uid=auditor-user --unit="$1" sleep 600 ||
                die "systemd-run of $1 as auditor-user failed"
        for _ in $(seq 50); do
                pid=$(in_container systemctl show -P MainPID "$1")
                [ "${pid:-0}" != 0 ] && break
                sleep 0.1
        done
        [ "${pid:-0}" != 0 ] || die "$1 has no main PID"
        echo "$pid"
}
