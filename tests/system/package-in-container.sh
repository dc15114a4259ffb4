#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The Debian packages as a fleet installs them: built by scripts/package, installed with dpkg
# into a Debian 12 container booted with systemd-nspawn, used, then removed and purged.
#
#   tests/system/package-in-container.sh [SRCDIR]   (root; meson test --suite system)
#
# It builds the .debs of SRCDIR's tracked files as they are (scripts/package --worktree, lintian
# included), gives the container the packages they depend on (debootstrapped once and cached by
# tests/system/container.sh), boots it, installs libsmapsaudit0, libsmapsaudit-dev and smapsaudit
# with dpkg and checks (tests/system/daemon-checks.sh):
#   - the package enabled and started smapsauditd (dh_installsystemd), and it stays active;
#     it created the user smapsaudit (preinst, dh_installsysusers) that run-as-user.conf needs;
#     it read /etc/smapsaudit/smapsauditd.conf, which the package installed as a conffile, and
#     on reload a drop-in in /etc/smapsaudit/smapsauditd.conf.d;
#   - smapsaudit status, and smapsaudit check 1 as root through the daemon;
#   - the main PID of a service of auditor-user's checked through the daemon by root (its report
#     names the unit) and by that user; the user is refused PID 1;
#   - smapsauditd-metrics.socket enabled: /metrics served on the socket systemd passes;
#   - the journal catalog installed by the package's trigger (no journalctl --update-catalog
#     here): a replayed capture of Debian 6.1's PROT_NONE THP bug gives a finding whose catalog
#     text journalctl -x -u smapsauditd shows; the capture edited to say its process was in
#     replayed-app.service, the finding is under journalctl -u replayed-app.service and /metrics
#     has it with unit="replayed-app.service";
#   - systemctl stop, start and restart keep the finding history;
#   - apt-get remove leaves no smapsauditd running nor startable, and the configuration;
#     apt-get purge leaves none of the packages' files, no configuration, no state, no unit
#     symlink.
# Exit 0 passed, 1 failed, 77 skipped (not root, not a git checkout, a tool missing, or the
# machine cannot boot a container: the reason is printed).
set -euo pipefail

SRC=$(cd "${1:-$(dirname "$0")/../..}" && pwd)
TEST=package-in-container
# shellcheck source=tests/system/container.sh
. "$SRC/tests/system/container.sh"
OURS=(libsmapsaudit0 libsmapsaudit-dev smapsaudit)

container_require dpkg-buildpackage dh lintian git python3
git -C "$SRC" rev-parse --git-dir >/dev/null 2>&1 || skip "$SRC is not a git checkout (scripts/package exports from git)"

say "building the packages (scripts/package --worktree)"
"$SRC/scripts/package" --worktree -o "$WORK/debs" >"$WORK/package.log" 2>&1 ||
        { tail -60 "$WORK/package.log"; die "scripts/package failed"; }
grep '^[EWI]: ' "$WORK/package.log" | sed "s/^/$TEST: lintian: /" || true
debs=()
for p in "${OURS[@]}"; do
        deb=$(find "$WORK/debs" -name "${p}_*.deb" -print -quit)
        [ -n "$deb" ] || die "scripts/package built no $p"
        debs+=("$deb")
done

# The container gets what the packages depend on, by name (same Debian release), less their own.
needed=$(for deb in "${debs[@]}"; do dpkg-deb -f "$deb" Depends; done |
        tr ',' '\n' | sed 's/|.*//; s/(.*)//; s/:any//; s/[[:space:]]//g' | grep -v '^$' | sort -u |
        grep -vxF -f <(printf '%s\n' "${OURS[@]}"))
# shellcheck disable=SC2086 # one package name a line
container_root $needed
mkdir -p "$ROOT/srv/debs"
cp "${debs[@]}" "$ROOT/srv/debs/"
chroot "$ROOT" useradd --create-home auditor-user

container_boot

# shellcheck disable=SC2016 # the container's shell expands the glob
in_container sh -c 'dpkg -i /srv/debs/*.deb' >"$WORK/install.log" 2>&1 ||
        { cat "$WORK/install.log"; die "dpkg -i of the packages failed"; }
mapfile -t installed_files < <(in_container dpkg -L "${OURS[@]}" | sort -u)
say "installed ${OURS[*]} (${#installed_files[@]} paths)"

# (A pipe into grep -q would end the writer early, SIGPIPE, which pipefail takes for a failure:
# grep -c reads it all.)

# The manual pages point at installed files: each path they name is there.
for page in smapsaudit.1 smapsauditd.8 smapsauditd.conf.5; do
        gz=$(find "$ROOT/usr/share/man" -name "$page.gz" -print -quit)
        [ -n "$gz" ] || die "the manual page $page is not installed"
        for path in $(zcat "$gz" | sed 's/\\-/-/g' | grep -o '/usr/share/[A-Za-z0-9_./-]*[A-Za-z0-9_]' | sort -u); do
                [ -e "$ROOT$path" ] || die "$page names $path, which the packages do not install"
        done
done

in_container id smapsaudit >/dev/null || die "the package did not create the user smapsaudit"
[ "$(in_container systemctl is-enabled smapsauditd)" = enabled ] || die "the package did not enable smapsauditd"
in_container systemctl is-active smapsauditd >/dev/null || { journal_tail; die "the package did not start smapsauditd"; }
check_stays_active
# shellcheck disable=SC2016 # a dpkg-query format, not the shell's
in_container dpkg-query -W -f='${Conffiles}\n' smapsaudit | grep -c ' /etc/smapsaudit/smapsauditd.conf ' >/dev/null ||
        die "/etc/smapsaudit/smapsauditd.conf is not a conffile of smapsaudit"
in_container journalctl -u smapsauditd --no-pager | grep -c 'Configuration loaded from /etc/smapsaudit/smapsauditd.conf' >/dev/null ||
        { journal_tail; die "smapsauditd did not read /etc/smapsaudit/smapsauditd.conf"; }
say "installed: smapsauditd enabled, active, configured from /etc/smapsaudit/smapsauditd.conf"

# A drop-in, as configuration management would add one; reload reads it through the sandbox.
mkdir -p "$ROOT/etc/smapsaudit/smapsauditd.conf.d"
printf '[Sweep]\nInterval=7min\n' >"$ROOT/etc/smapsaudit/smapsauditd.conf.d/50-fleet.conf"
in_container systemctl reload smapsauditd || { journal_tail; die "systemctl reload with a drop-in failed"; }
in_container journalctl -u smapsauditd --no-pager |
        grep -c 'loaded from /etc/smapsaudit/smapsauditd.conf and /etc/smapsaudit/smapsauditd.conf.d/50-fleet.conf: Interval=7min' \
        >/dev/null ||
        { journal_tail; die "the drop-in 50-fleet.conf was not read"; }
rm -r "$ROOT/etc/smapsaudit/smapsauditd.conf.d"
say "a drop-in in /etc/smapsaudit/smapsauditd.conf.d was read on reload"

in_container smapsaudit status >"$WORK/status.txt" || { cat "$WORK/status.txt"; die "smapsaudit status failed"; }
say "smapsaudit status: $(head -n 1 "$WORK/status.txt")"
check_through_daemon root 1
unit_pid=$(start_user_unit auditor-sleep.service)
check_through_daemon root "$unit_pid"
grep -Eq '"unit": *"auditor-sleep.service"' "$WORK/check-root-$unit_pid.json" ||
        die "the report of PID $unit_pid does not name its unit auditor-sleep.service: $(head -c 300 "$WORK/check-root-$unit_pid.json")"
check_through_daemon auditor-user "$unit_pid"
check_user_refused_pid1

# /metrics by socket activation, on a port free here (the container shares this network).
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p "$ROOT/etc/systemd/system/smapsauditd-metrics.socket.d"
printf '[Socket]\nListenStream=\nListenStream=127.0.0.1:%s\n' "$port" \
        >"$ROOT/etc/systemd/system/smapsauditd-metrics.socket.d/port.conf"
in_container systemctl daemon-reload
# systemd starts no socket whose service runs: stop, socket, start (as README and fleet.md say).
in_container systemctl stop smapsauditd
in_container systemctl enable --now smapsauditd-metrics.socket ||
        { in_container systemctl status --no-pager smapsauditd-metrics.socket || true; die "smapsauditd-metrics.socket did not start"; }
in_container systemctl start smapsauditd || { journal_tail; die "smapsauditd did not start with its socket"; }
# shellcheck disable=SC2016 # expanded by the container's bash
get_metrics() {
        in_container bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" && printf "GET /metrics HTTP/1.0\r\n\r\n" >&3 && cat <&3' _ "$port"
}

# A finding of a service's process: the replayed capture says its process was in
# replayed-app.service. Its journal entry is under that unit; its series carry the unit label.
replay_finding /system.slice/replayed-app.service
in_container journalctl -u replayed-app.service -t smapsauditd -o json --no-pager >"$WORK/unit-journal.json" || true
grep -q '"MESSAGE_ID" *: *"7ddd7618abbe4d7a918fd3e2dd9de5fb"' "$WORK/unit-journal.json" ||
        { tail -5 "$WORK/unit-journal.json"; die "journalctl -u replayed-app.service does not show the finding"; }
say "journalctl -u replayed-app.service: the finding about PID $REPLAY_PID"
# The metrics are rendered shortly after a change (many audits make one render): poll.
for _ in $(seq 50); do
        get_metrics >"$WORK/metrics.txt" || { journal_tail; die "GET /metrics on the socket of smapsauditd-metrics.socket failed"; }
        grep -q '^smapsaudit_open_findings{kind="under-accounted",.*unit="replayed-app.service"} [1-9]' "$WORK/metrics.txt" && break
        sleep 0.1
done
grep -q '^smapsaudit_build_info{version=' "$WORK/metrics.txt" || die "no smapsaudit_build_info in /metrics: $(head -c 300 "$WORK/metrics.txt")"
grep -q '^smapsaudit_open_findings{kind="under-accounted",.*unit="replayed-app.service"} [1-9]' "$WORK/metrics.txt" ||
        { grep -Ev '^#' "$WORK/metrics.txt" || true; journal_tail
          die "/metrics has no open finding with unit=\"replayed-app.service\""; }
in_container journalctl -u smapsauditd --no-pager | grep -c 'Serving metrics at /metrics on the socket systemd passed' >/dev/null ||
        die "smapsauditd did not say it serves the socket systemd passed"
say "/metrics on smapsauditd-metrics.socket (port $port): the finding with unit=\"replayed-app.service\""
replay_finish
get_metrics | grep -c '^smapsaudit_build_info' >/dev/null || die "/metrics is not served after a restart"

check_history_kept "$(history_count)" stop start restart

container_runs smapsauditd || die "smapsauditd is not seen running before apt-get remove"
in_container apt-get remove -y smapsaudit >"$WORK/remove.log" 2>&1 || { cat "$WORK/remove.log"; die "apt-get remove failed"; }
container_runs smapsauditd && die "smapsauditd still runs after apt-get remove"
rc=0
in_container busctl --system call org.smapsaudit.Auditor1 /org/smapsaudit/Auditor1 org.smapsaudit.Auditor1 \
        Sweep >/dev/null 2>&1 || rc=$?
[ "$rc" != 0 ] || die "the bus still activates smapsauditd after apt-get remove"
container_runs smapsauditd && die "a bus call started smapsauditd after apt-get remove"
[ -f "$ROOT/etc/smapsaudit/smapsauditd.conf" ] || die "apt-get remove removed the configuration"
say "apt-get remove: nothing runs, nothing activates it, the configuration stays"

in_container apt-get purge -y "${OURS[@]}" >"$WORK/purge.log" 2>&1 || { cat "$WORK/purge.log"; die "apt-get purge failed"; }
container_runs smapsauditd && die "smapsauditd runs after apt-get purge"
left=()
for path in "${installed_files[@]}"; do
        if [ -d "$ROOT$path" ]; then
                # A directory stays while it holds others' files, or belongs to another package.
                [ -z "$(ls -A "$ROOT$path")" ] && ! in_container dpkg -S "$path" >/dev/null 2>&1 && left+=("$path")
        elif [ -e "$ROOT$path" ] || [ -L "$ROOT$path" ]; then
                left+=("$path")
        fi
done
for path in /etc/smapsaudit /var/lib/smapsaudit /var/lib/prometheus/node-exporter/smapsaudit.prom \
            /etc/systemd/system/multi-user.target.wants/smapsauditd.service; do
        if [ -e "$ROOT$path" ] || [ -L "$ROOT$path" ]; then left+=("$path"); fi
done
[ ${#left[@]} -eq 0 ] || die "apt-get purge left behind: ${left[*]}"
say "apt-get purge: no process, none of the ${#installed_files[@]} paths, no configuration, state or unit link"

container_poweroff
say "passed"
