#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# smapsauditd under a real systemd: the unit as installed, started with systemctl, in a Debian 12
# container booted with systemd-nspawn. The other daemon tests start the binary directly; this one
# proves the unit (its sandbox, its syscall filter, its bus policy and catalog install).
#
#   tests/system/unit-in-container.sh [SRCDIR]      (root; meson test --suite system)
#
# It builds SRCDIR (default: this checkout) with --prefix=/usr in a temporary directory, derives
# the packages the container needs from what the built binaries link against (ldd, then dpkg -S
# on this machine), debootstraps a minbase Debian 12 root with them once (cached below
# $SMAPSAUDIT_ROOTFS_CACHE, default /var/tmp/smapsaudit-nspawn, one root per package set; each
# run works on a copy), installs the build into the copy, boots it and checks what an
# administrator and a user would do:
#   - systemctl start smapsauditd: active, and still active with no restart a few seconds later;
#   - smapsaudit check 1 as root through the daemon; a user's check of its own process through
#     the daemon, and the same user refused PID 1;
#   - a sweep finishes (LastSweepUSec);
#   - a capture of Debian 6.1's PROT_NONE THP bug (tests/replay/fixtures) replayed through the
#     unit (a drop-in adds --proc-root/--sys-root): the finding, and journalctl -x -u smapsauditd
#     shows its catalog text;
#   - systemctl reload and restart keep the finding history;
#   - systemd-analyze security smapsauditd reports at most the exposure docs/smapsauditd.8 claims.
# Exit 0 passed, 1 failed, 77 skipped (not root, no systemd-nspawn/debootstrap, or the
# machine cannot boot a container: the reason is printed).
set -euo pipefail

SRC=$(cd "${1:-$(dirname "$0")/../..}" && pwd)
CACHE=${SMAPSAUDIT_ROOTFS_CACHE:-/var/tmp/smapsaudit-nspawn}
FIXTURE=$SRC/tests/replay/fixtures/thp-protnone-6.1.tar.xz
# The exposure docs/smapsauditd.8 states for the unit; the test fails above it.
MAX_EXPOSURE=$(sed -n 's/^.*overall exposure level of \([0-9.]*\).*$/\1/p' "$SRC/docs/smapsauditd.8" | head -n 1)
WORK=
NSPAWN_PID=
LEADER=

say() { echo "unit-in-container: $*"; }
die() { echo "unit-in-container: FAIL: $*" >&2; exit 1; }
skip() { echo "unit-in-container: SKIP: $*"; exit 77; }

cleanup() {
        # SIGKILL to nspawn alone would leave the container running: end its PID 1, which ends
        # every process in its PID namespace.
        if [ -n "$LEADER" ] && kill -0 "$LEADER" 2>/dev/null; then
                kill -KILL "$LEADER" 2>/dev/null || true
        fi
        if [ -n "$NSPAWN_PID" ] && kill -0 "$NSPAWN_PID" 2>/dev/null; then
                kill -KILL "$NSPAWN_PID" 2>/dev/null || true
                wait "$NSPAWN_PID" 2>/dev/null || true
        fi
        [ -z "$WORK" ] || rm -rf "$WORK"
}
trap cleanup EXIT

[ "$(id -u)" = 0 ] || skip "needs root (debootstrap, systemd-nspawn)"
for tool in systemd-nspawn debootstrap nsenter dpkg-query; do
        command -v "$tool" >/dev/null || skip "no $tool here (apt-get install systemd-container debootstrap)"
done
[ -n "$MAX_EXPOSURE" ] || die "docs/smapsauditd.8 states no 'overall exposure level of N' for the unit"

WORK=$(mktemp -d /var/tmp/smapsaudit-unit.XXXXXX)
BUILD=$WORK/build
STAGE=$WORK/stage

say "building $SRC with --prefix=/usr"
meson setup "$BUILD" "$SRC" --prefix=/usr --sysconfdir=/etc --localstatedir=/var \
        -Dbuildtype=debugoptimized -Db_sanitize=none >"$WORK/build.log" 2>&1 ||
        { cat "$WORK/build.log"; die "meson setup failed"; }
ninja -C "$BUILD" >>"$WORK/build.log" 2>&1 || { tail -50 "$WORK/build.log"; die "the build failed"; }
DESTDIR=$STAGE meson install -C "$BUILD" --no-rebuild --quiet >>"$WORK/build.log" 2>&1 ||
        { tail -50 "$WORK/build.log"; die "meson install failed"; }

# What the installed binaries link against, as this machine's packages: the container gets the
# same packages (same Debian release), plus what boots it.
binaries=("$STAGE"/usr/sbin/smapsauditd "$STAGE"/usr/bin/smapsaudit)
libs=$(LD_LIBRARY_PATH=$(dirname "$(find "$STAGE" -name 'libsmapsaudit.so.*' -print -quit)") \
        ldd "${binaries[@]}" | awk '$2 == "=>" && $3 ~ /^\// { print $3 }' | sort -u)
packages=()
for lib in $libs; do
        case $lib in "$STAGE"/*) continue ;; esac
        real=$(readlink -f "$lib")
        owner=
        # usrmerge: dpkg may know the file under /lib or /usr/lib, and under either name
        for path in "$lib" "$real" "/usr$lib" "/usr$real" "${lib#/usr}" "${real#/usr}"; do
                owner=$(dpkg-query -S "$path" 2>/dev/null | head -n 1 | cut -d: -f1) && [ -n "$owner" ] && break
        done
        [ -n "$owner" ] || die "no package of this machine owns $lib (needed by the binaries)"
        packages+=("$owner")
done
boot_packages=(systemd systemd-sysv dbus)
mapfile -t packages < <(printf '%s\n' "${packages[@]}" "${boot_packages[@]}" | sort -u)
say "container packages: ${packages[*]}"

key=$(printf '%s\n' "${packages[@]}" | sha256sum | cut -c1-16)
ROOTFS_CACHE=$CACHE/rootfs-$key
if [ ! -x "$ROOTFS_CACHE/lib/systemd/systemd" ]; then
        mkdir -p "$CACHE"
        say "debootstrapping Debian 12 into $ROOTFS_CACHE (once per package set)"
        rm -rf "$ROOTFS_CACHE.tmp"
        mirror=$(sed -n 's/^URIs: *\(http[^ ]*\/debian\)$/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n 1)
        if ! debootstrap --variant=minbase --include="$(IFS=,; echo "${packages[*]}")" bookworm \
                "$ROOTFS_CACHE.tmp" ${mirror:+"$mirror"} >"$WORK/debootstrap.log" 2>&1; then
                tail -20 "$WORK/debootstrap.log"
                rm -rf "$ROOTFS_CACHE.tmp"
                skip "debootstrap could not make a Debian 12 root (no mirror reachable?)"
        fi
        mv "$ROOTFS_CACHE.tmp" "$ROOTFS_CACHE"
        # keep the newest root only: package sets change with the build
        for old in "$CACHE"/rootfs-*; do
                [ "$old" = "$ROOTFS_CACHE" ] || rm -rf "$old"
        done
fi

ROOT=$WORK/root
cp -a "$ROOTFS_CACHE" "$ROOT"
# the root is usrmerged (/lib is a link to usr/lib): install through its links, as dpkg would
tar -C "$STAGE" -c . | tar -C "$ROOT" -x --keep-directory-symlink
chroot "$ROOT" ldconfig
if chroot "$ROOT" ldd /usr/sbin/smapsauditd /usr/bin/smapsaudit | grep "not found"; then
        die "libraries missing in the container although their packages were derived from ldd"
fi
[ -f "$ROOT/usr/share/dbus-1/system.d/org.smapsaudit.Auditor1.conf" ] || die "policy file not in /usr/share/dbus-1/system.d"
# What a package's trigger does after installing a catalog file.
chroot "$ROOT" journalctl --update-catalog
chroot "$ROOT" useradd --create-home auditor-user
# The replayed capture, where the daemon's sandbox can read it (not below /tmp: PrivateTmp=).
mkdir -p "$ROOT/srv/replay"
tar --sparse -xJf "$FIXTURE" -C "$ROOT/srv/replay"
replay_pid=$(sed -n 's/.*"pid": *\([0-9]*\).*/\1/p' "$ROOT/srv/replay/truth.json")
[ -n "$replay_pid" ] || die "no pid in the fixture's truth.json"

systemd-nspawn -D "$ROOT" -b --register=no --keep-unit --console=passive --link-journal=no \
        >"$WORK/console.log" 2>&1 &
NSPAWN_PID=$!

# The container's PID 1 is the child of nspawn whose comm is systemd.
for _ in $(seq 200); do
        for child in $(pgrep -P "$NSPAWN_PID" || true); do
                if [ "$(cat /proc/"$child"/comm 2>/dev/null)" = systemd ]; then LEADER=$child; fi
        done
        [ -n "$LEADER" ] && break
        kill -0 "$NSPAWN_PID" 2>/dev/null || break
        sleep 0.1
done
if [ -z "$LEADER" ]; then
        cat "$WORK/console.log"
        skip "systemd-nspawn could not boot a container on this machine (its output is above)"
fi

in_container() { nsenter -t "$LEADER" -a -- "$@"; }
as_user() { in_container setpriv --reuid=auditor-user --regid=auditor-user --init-groups -- "$@"; }
journal_tail() { in_container journalctl -u smapsauditd --no-pager -n 30 || true; }

state=
for _ in $(seq 600); do
        state=$(in_container systemctl is-system-running 2>/dev/null || true)
        case "$state" in running|degraded) break ;; esac
        sleep 0.1
done
say "container up ($state)"

in_container systemctl start smapsauditd || { journal_tail; die "systemctl start smapsauditd failed"; }
sleep 3
in_container systemctl is-active smapsauditd >/dev/null || { journal_tail; die "smapsauditd did not stay active"; }
restarts=$(in_container systemctl show -P NRestarts smapsauditd)
[ "$restarts" = 0 ] || { journal_tail; die "smapsauditd was restarted $restarts time(s) since its start"; }
say "systemctl start smapsauditd: active"

# Through the daemon: without --local the CLI only asks the bus, so an answer is the daemon's.
rc=0
in_container smapsaudit check --json 1 >"$WORK/check1.json" || rc=$?
case $rc in
        0|1|3) grep -Eq '"schema": *"smapsaudit\.report(\\)?/1"' "$WORK/check1.json" ||
                       die "smapsaudit check 1 printed no report: $(cat "$WORK/check1.json")"
               say "root: smapsaudit check 1 answered through the daemon (exit $rc)" ;;
        *) journal_tail; die "smapsaudit check 1 as root failed with exit $rc" ;;
esac

# A user's own process: the daemon audits it for that user; PID 1 is refused to the same user.
# shellcheck disable=SC2016 # $$ is the user's shell
as_user sh -c 'echo $$ >/home/auditor-user/pid; exec sleep 600' &
user_pid=
for _ in $(seq 50); do
        user_pid=$(cat "$ROOT/home/auditor-user/pid" 2>/dev/null || true)
        [ -n "$user_pid" ] && break
        sleep 0.1
done
[ -n "$user_pid" ] || die "the user's process did not start"
rc=0
as_user smapsaudit check --json "$user_pid" >"$WORK/check-user.json" || rc=$?
case $rc in
        0|1|3) grep -q "\"pid\": *$user_pid" "$WORK/check-user.json" ||
                       die "the user's check printed no report of PID $user_pid: $(cat "$WORK/check-user.json")"
               say "auditor-user: smapsaudit check of its own PID $user_pid through the daemon (exit $rc)" ;;
        *) journal_tail; die "the user's check of its own process failed with exit $rc" ;;
esac
rc=0
as_user smapsaudit check 1 >/dev/null 2>"$WORK/refused.txt" || rc=$?
[ "$rc" = 2 ] || die "auditor-user's check of PID 1 was not refused (exit $rc)"
say "auditor-user: check of PID 1 refused: $(head -n 1 "$WORK/refused.txt")"

# A sweep ran inside the sandbox (the first starts with the daemon).
last=0
for _ in $(seq 900); do
        last=$(in_container busctl --system get-property org.smapsaudit.Auditor1 /org/smapsaudit/Auditor1 \
                org.smapsaudit.Auditor1 LastSweepUSec | awk '{print $2}')
        [ "${last:-0}" != 0 ] && break
        sleep 0.1
done
[ "${last:-0}" != 0 ] || { journal_tail; die "no sweep finished in 90 s"; }
say "a sweep finished"

# The replayed 6.1 capture through the unit: a finding, its journal entry with the catalog text.
mkdir -p "$ROOT/etc/systemd/system/smapsauditd.service.d"
cat >"$ROOT/etc/systemd/system/smapsauditd.service.d/replay.conf" <<EOF
[Service]
ExecStart=
ExecStart=/usr/sbin/smapsauditd --proc-root=/srv/replay/proc --sys-root=/srv/replay/sys
EOF
in_container systemctl daemon-reload
in_container systemctl restart smapsauditd || { journal_tail; die "restart with the replay drop-in failed"; }
rc=0
in_container smapsaudit check "$replay_pid" >"$WORK/replay.txt" || rc=$?
[ "$rc" = 1 ] || { cat "$WORK/replay.txt"; journal_tail; die "the replayed 6.1 bug was not found (exit $rc)"; }
catalog_text="found that the kernel's smaps"
for _ in $(seq 100); do
        in_container journalctl -x -u smapsauditd --no-pager >"$WORK/journal.txt" 2>&1 || true
        grep -q "$catalog_text" "$WORK/journal.txt" && break
        sleep 0.1
done
grep -q "$catalog_text" "$WORK/journal.txt" ||
        { tail -40 "$WORK/journal.txt"; die "journalctl -x -u smapsauditd does not show the catalog text"; }
say "journal: the finding with its catalog text ($(grep -m1 -o 'The kernel under-accounts memory of process [^ ]*' "$WORK/journal.txt"))"

history_count() {
        in_container smapsaudit findings --json --since @0 | grep -o '"kind"' | wc -l
}
before=$(history_count)
[ "$before" -ge 1 ] || die "the finding is not in the daemon's history"
rm "$ROOT/etc/systemd/system/smapsauditd.service.d/replay.conf"
in_container systemctl daemon-reload
in_container systemctl restart smapsauditd || { journal_tail; die "systemctl restart failed"; }
after=$(history_count)
[ "$after" -ge "$before" ] || die "systemctl restart lost history: $before finding(s) before, $after after"
in_container systemctl reload smapsauditd || { journal_tail; die "systemctl reload failed"; }
in_container systemctl is-active smapsauditd >/dev/null || { journal_tail; die "smapsauditd died on reload"; }
after=$(history_count)
[ "$after" -ge "$before" ] || die "systemctl reload lost history: $before finding(s) before, $after after"
say "restart and reload kept the history ($after finding(s))"

in_container systemd-analyze security --no-pager smapsauditd >"$WORK/security.txt" 2>&1 || true
exposure=$(sed -n 's/.*Overall exposure level for smapsauditd.service: \([0-9.]*\).*/\1/p' "$WORK/security.txt")
[ -n "$exposure" ] || { cat "$WORK/security.txt"; die "systemd-analyze security gave no exposure level"; }
awk -v e="$exposure" -v m="$MAX_EXPOSURE" 'BEGIN { exit !(e <= m) }' ||
        { grep -E '^✗' "$WORK/security.txt" | head -30; die "exposure $exposure is above the documented $MAX_EXPOSURE"; }
say "systemd-analyze security smapsauditd: $exposure (documented: at most $MAX_EXPOSURE)"

in_container systemctl poweroff || true
for _ in $(seq 100); do
        kill -0 "$NSPAWN_PID" 2>/dev/null || break
        sleep 0.1
done
say "passed"
