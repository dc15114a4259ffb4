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
# on this machine), debootstraps a minbase Debian 12 root with them once (tests/system/
# container.sh: cached below $SMAPSAUDIT_ROOTFS_CACHE, default /var/tmp/smapsaudit-nspawn; each
# run works on a copy), installs the build into the copy, boots it and checks what an
# administrator and a user would do (tests/system/daemon-checks.sh):
#   - systemctl start smapsauditd: active, and still active with no restart a few seconds later;
#   - smapsaudit check 1 as root through the daemon; a user's check of the main PID of its own
#     service through the daemon, and the same user refused PID 1;
#   - a sweep finishes (LastSweepUSec);
#   - a capture of Debian 6.1's PROT_NONE THP bug (tests/replay/fixtures) replayed through the
#     unit (a drop-in adds --proc-root/--sys-root): the finding, and journalctl -x -u smapsauditd
#     shows its catalog text;
#   - systemctl reload and restart keep the finding history;
#   - systemd-analyze security smapsauditd reports at most the exposure docs/smapsauditd.8 claims;
#   - with the drop-in run-as-user.conf: the daemon runs as the user smapsaudit with exactly the
#     unit's capabilities as ambient ones and sees frame numbers, the checks above still hold,
#     and reload works (as root, "+").
# Exit 0 passed, 1 failed, 77 skipped (not root, no systemd-nspawn/debootstrap, or the
# machine cannot boot a container: the reason is printed).
set -euo pipefail

SRC=$(cd "${1:-$(dirname "$0")/../..}" && pwd)
TEST=unit-in-container
# shellcheck source=tests/system/container.sh
. "$SRC/tests/system/container.sh"
# The exposure docs/smapsauditd.8 states for the unit; the test fails above it.
MAX_EXPOSURE=$(sed -n 's/^.*overall exposure level of \([0-9.]*\).*$/\1/p' "$SRC/docs/smapsauditd.8" | head -n 1)

# shellcheck disable=SC2119 # no tool beyond the container's own
container_require
[ -n "$MAX_EXPOSURE" ] || die "docs/smapsauditd.8 states no 'overall exposure level of N' for the unit"

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
needed=$(LD_LIBRARY_PATH=$(dirname "$(find "$STAGE" -name 'libsmapsaudit.so.*' -print -quit)") \
        container_packages_of_binaries "$STAGE"/usr/sbin/smapsauditd "$STAGE"/usr/bin/smapsaudit)
# shellcheck disable=SC2086 # one package name a line
container_root $needed

# the root is usrmerged (/lib is a link to usr/lib): install through its links, as dpkg would
tar -C "$STAGE" -c . | tar -C "$ROOT" -x --keep-directory-symlink
chroot "$ROOT" ldconfig
if chroot "$ROOT" ldd /usr/sbin/smapsauditd /usr/bin/smapsaudit | grep "not found"; then
        die "libraries missing in the container although their packages were derived from ldd"
fi
[ -f "$ROOT/usr/share/dbus-1/system.d/org.smapsaudit.Auditor1.conf" ] || die "policy file not in /usr/share/dbus-1/system.d"
# What a package's trigger does after installing a catalog file, and its postinst after
# installing sysusers.d and tmpfiles.d files (dh_installsysusers, dh_installtmpfiles).
chroot "$ROOT" journalctl --update-catalog
systemd-sysusers --root="$ROOT" smapsaudit.conf
systemd-tmpfiles --root="$ROOT" --create smapsaudit.conf
chroot "$ROOT" useradd --create-home auditor-user

container_boot

in_container systemctl start smapsauditd || { journal_tail; die "systemctl start smapsauditd failed"; }
check_stays_active
say "systemctl start smapsauditd: active"

check_through_daemon root 1
user_pid=$(start_user_unit auditor-sleep.service)
check_through_daemon auditor-user "$user_pid"
check_user_refused_pid1
check_sweep_finishes

# shellcheck disable=SC2119 # no cgroup: the capture as it was taken
replay_finding
replay_finish
check_history_kept "$(history_count)" reload restart

in_container systemd-analyze security --no-pager smapsauditd >"$WORK/security.txt" 2>&1 || true
exposure=$(sed -n 's/.*Overall exposure level for smapsauditd.service: \([0-9.]*\).*/\1/p' "$WORK/security.txt")
[ -n "$exposure" ] || { cat "$WORK/security.txt"; die "systemd-analyze security gave no exposure level"; }
awk -v e="$exposure" -v m="$MAX_EXPOSURE" 'BEGIN { exit !(e <= m) }' ||
        { grep -E '^✗' "$WORK/security.txt" | head -30; die "exposure $exposure is above the documented $MAX_EXPOSURE"; }
say "systemd-analyze security smapsauditd: $exposure (documented: at most $MAX_EXPOSURE)"

# The drop-in that runs the daemon as its own user, as smapsauditd(8) says to install it.
mkdir -p "$ROOT/etc/systemd/system/smapsauditd.service.d"
cp "$ROOT/usr/share/doc/smapsaudit/examples/run-as-user.conf" "$ROOT/etc/systemd/system/smapsauditd.service.d/"
in_container systemctl daemon-reload
in_container systemctl restart smapsauditd || { journal_tail; die "systemctl restart with run-as-user.conf failed"; }
check_stays_active
check_own_user
check_through_daemon root 1
check_through_daemon auditor-user "$user_pid"
check_user_refused_pid1
in_container systemctl reload smapsauditd || { journal_tail; die "systemctl reload with run-as-user.conf failed"; }
in_container systemd-analyze security --no-pager smapsauditd >"$WORK/security-user.txt" 2>&1 || true
say "with run-as-user.conf: $(grep -o 'Overall exposure level for smapsauditd.service: [0-9.]*' "$WORK/security-user.txt")"

container_poweroff
say "passed"
