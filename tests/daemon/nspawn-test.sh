#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Opt-in: smapsauditd under a real systemd, in a systemd-nspawn container.
# Not part of "meson test" (it needs ~250 MB, the Debian mirror on first use,
# and a minute or two). Run as root from anywhere:
#
#   apt-get install systemd-container debootstrap     # once
#   tests/daemon/nspawn-test.sh                        # builds, installs, boots, checks
#
# It builds the tree with --prefix=/usr in a temporary directory, installs it
# into a Debian 12 root (debootstrapped once and kept in $ROOTFS_CACHE,
# default /var/tmp/smapsaudit-nspawn-rootfs; each run works on a copy), boots
# it, and inside it runs what an administrator would:
#   systemctl start smapsauditd; smapsaudit check 1; smapsaudit status
# and checks the unit's sandbox let the daemon work (READY=1 reached, a sweep
# ran, Check answered through the bus). Exit 0 on success.
set -euo pipefail

SRC=$(cd "$(dirname "$0")/../.." && pwd)
ROOTFS_CACHE=${ROOTFS_CACHE:-/var/tmp/smapsaudit-nspawn-rootfs}
WORK=$(mktemp -d /var/tmp/smapsaudit-nspawn.XXXXXX)
NSPAWN_PID=
LEADER=

cleanup() {
        # SIGKILL to nspawn alone would leave the container running: end its
        # PID 1, which ends every process in its PID namespace.
        if [ -n "$LEADER" ] && kill -0 "$LEADER" 2>/dev/null; then
                kill -KILL "$LEADER" 2>/dev/null || true
        fi
        if [ -n "$NSPAWN_PID" ] && kill -0 "$NSPAWN_PID" 2>/dev/null; then
                kill -KILL "$NSPAWN_PID" 2>/dev/null || true
                wait "$NSPAWN_PID" 2>/dev/null || true
        fi
        rm -rf "$WORK"
}
trap cleanup EXIT

die() { echo "nspawn-test: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "needs root"
command -v systemd-nspawn >/dev/null || die "needs systemd-nspawn: apt-get install systemd-container"

# The packages the binaries link against, besides what minbase has.
RUNTIME=systemd,systemd-sysv,dbus,libproc2-0,libnuma1,libjson-c5,libsystemd0,zlib1g

if [ ! -x "$ROOTFS_CACHE/lib/systemd/systemd" ]; then
        command -v debootstrap >/dev/null || die "needs debootstrap: apt-get install debootstrap"
        echo "nspawn-test: debootstrapping Debian 12 into $ROOTFS_CACHE (once)"
        rm -rf "$ROOTFS_CACHE.tmp"
        debootstrap --variant=minbase --include="$RUNTIME" bookworm "$ROOTFS_CACHE.tmp" >/dev/null
        mv "$ROOTFS_CACHE.tmp" "$ROOTFS_CACHE"
fi

ROOT=$WORK/root
cp -a "$ROOTFS_CACHE" "$ROOT"

echo "nspawn-test: building with --prefix=/usr"
meson setup "$WORK/build" "$SRC" --prefix=/usr --sysconfdir=/etc --localstatedir=/var \
        -Dbuildtype=debugoptimized >/dev/null
ninja -C "$WORK/build" >/dev/null
DESTDIR=$ROOT meson install -C "$WORK/build" --no-rebuild --quiet
chroot "$ROOT" ldconfig
if chroot "$ROOT" ldd /usr/sbin/smapsauditd /usr/bin/smapsaudit | grep "not found"; then
        die "libraries missing in the container; add their packages to RUNTIME"
fi
# Without dbus-1.pc on the build machine the bus files go below the prefix's
# datadir; dbus reads /usr/share/dbus-1: check that the install put them there.
[ -f "$ROOT/usr/share/dbus-1/system.d/org.smapsaudit.Auditor1.conf" ] || die "policy file not in /usr/share/dbus-1/system.d"

systemd-nspawn -D "$ROOT" -b --register=no --keep-unit --console=passive --link-journal=no \
        >"$WORK/console.log" 2>&1 &
NSPAWN_PID=$!

# The container's PID 1 is the child of nspawn whose comm is systemd.
for _ in $(seq 100); do
        for child in $(pgrep -P "$NSPAWN_PID" || true); do
                if [ "$(cat /proc/"$child"/comm 2>/dev/null)" = systemd ]; then LEADER=$child; fi
        done
        [ -n "$LEADER" ] && break
        sleep 0.1
done
[ -n "$LEADER" ] || die "the container did not boot: $(cat "$WORK/console.log")"

in_container() { nsenter -t "$LEADER" -a -- "$@"; }

for _ in $(seq 300); do
        state=$(in_container systemctl is-system-running 2>/dev/null || true)
        case "$state" in running|degraded) break ;; esac
        sleep 0.1
done
echo "nspawn-test: container up ($state)"

in_container systemctl start smapsauditd || {
        in_container journalctl -u smapsauditd --no-pager | tail -20
        die "systemctl start smapsauditd failed"
}
in_container systemctl is-active smapsauditd >/dev/null || die "smapsauditd is not active"

rc=0
in_container smapsaudit check 1 || rc=$?
case $rc in
        0|1|3) echo "nspawn-test: smapsaudit check 1 answered through the daemon (exit $rc)" ;;
        *) in_container journalctl -u smapsauditd --no-pager | tail -20
           die "smapsaudit check 1 failed with exit $rc" ;;
esac

# A sweep ran inside the sandbox (the first starts with the daemon).
for _ in $(seq 600); do
        last=$(in_container busctl --system get-property org.smapsaudit.Auditor1 /org/smapsaudit/Auditor1 \
                org.smapsaudit.Auditor1 LastSweepUSec | awk '{print $2}')
        [ "${last:-0}" != 0 ] && break
        sleep 0.1
done
[ "${last:-0}" != 0 ] || die "no sweep finished in 60 s"
in_container smapsaudit status || true
in_container systemctl status smapsauditd --no-pager || true

in_container systemctl reload smapsauditd
in_container systemctl is-active smapsauditd >/dev/null || die "smapsauditd died on reload"

in_container systemctl poweroff || true
wait "$NSPAWN_PID" 2>/dev/null || true
NSPAWN_PID=
LEADER=
echo "nspawn-test: passed"
