# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=bash
#
# A Debian 12 container booted with systemd-nspawn, for the system suite's tests. Sourced:
#
#   SRC=checkout; TEST=name; . "$SRC/tests/system/container.sh"   (with daemon-checks.sh)
#   container_require TOOL...          skip (77) unless root and every TOOL is here
#   container_packages_of_binaries B... the packages of this machine that own what B links against
#   container_root PACKAGE...           $ROOT: a copy of a cached minbase root with PACKAGE...
#   container_boot                      boot $ROOT; $LEADER is its PID 1 once it runs
#   in_container CMD..., as_user CMD..., journal_tail, container_runs NAME
#   container_poweroff
#
# Roots are debootstrapped once per test and package set below $SMAPSAUDIT_ROOTFS_CACHE
# (default /var/tmp/smapsaudit-nspawn), as rootfs-TEST-KEY; each run works on a copy in $WORK,
# which is removed at exit with whatever the container still runs.

CACHE=${SMAPSAUDIT_ROOTFS_CACHE:-/var/tmp/smapsaudit-nspawn}
WORK=
ROOT=
NSPAWN_PID=
LEADER=

say() { echo "$TEST: $*"; }
die() { echo "$TEST: FAIL: $*" >&2; exit 1; }
skip() { echo "$TEST: SKIP: $*"; exit 77; }

container_cleanup() {
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
trap container_cleanup EXIT

container_require() {
        [ "$(id -u)" = 0 ] || skip "needs root (debootstrap, systemd-nspawn)"
        for tool in systemd-nspawn debootstrap nsenter dpkg-query "$@"; do
                command -v "$tool" >/dev/null || skip "no $tool here (scripts/deps installs it)"
        done
        WORK=$(mktemp -d "/var/tmp/smapsaudit-$TEST.XXXXXX")
}

# One package name a line: what owns each library the binaries load (same Debian release here
# and in the container).
container_packages_of_binaries() {
        local libs lib real owner path

        libs=$(ldd "$@" | awk '$2 == "=>" && $3 ~ /^\// { print $3 }' | sort -u)
        for lib in $libs; do
                case $lib in "$WORK"/*) continue ;; esac
                real=$(readlink -f "$lib")
                owner=
                # usrmerge: dpkg may know the file under /lib or /usr/lib, and under either name
                for path in "$lib" "$real" "/usr$lib" "/usr$real" "${lib#/usr}" "${real#/usr}"; do
                        owner=$(dpkg-query -S "$path" 2>/dev/null | head -n 1 | cut -d: -f1) && [ -n "$owner" ] && break
                done
                [ -n "$owner" ] || die "no package of this machine owns $lib (needed by $*)"
                echo "$owner"
        done
}

container_root() {
        local packages key cached old mirror

        mapfile -t packages < <(printf '%s\n' "$@" systemd systemd-sysv dbus | sort -u)
        say "container packages: ${packages[*]}"
        key=$(printf '%s\n' "${packages[@]}" | sha256sum | cut -c1-16)
        cached=$CACHE/rootfs-$TEST-$key
        if [ ! -x "$cached/lib/systemd/systemd" ]; then
                mkdir -p "$CACHE"
                say "debootstrapping Debian 12 into $cached (once per package set)"
                rm -rf "$cached.tmp"
                mirror=$(sed -n 's/^URIs: *\(http[^ ]*\/debian\)$/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n 1)
                if ! debootstrap --variant=minbase --include="$(IFS=,; echo "${packages[*]}")" bookworm \
                        "$cached.tmp" ${mirror:+"$mirror"} >"$WORK/debootstrap.log" 2>&1; then
                        tail -20 "$WORK/debootstrap.log"
                        rm -rf "$cached.tmp"
                        skip "debootstrap could not make a Debian 12 root (no mirror reachable?)"
                fi
                mv "$cached.tmp" "$cached"
                # this test's newest root only: package sets change with the build
                for old in "$CACHE/rootfs-$TEST"-*; do
                        [ "$old" = "$cached" ] || rm -rf "$old"
                done
        fi
        ROOT=$WORK/root
        cp -a "$cached" "$ROOT"
}

container_boot() {
        local state

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

        state=
        for _ in $(seq 600); do
                state=$(in_container systemctl is-system-running 2>/dev/null || true)
                case "$state" in running|degraded) break ;; esac
                sleep 0.1
        done
        say "container up ($state)"
}

in_container() { nsenter -t "$LEADER" -a -- "$@"; }
# Whether a process named $1 runs in the container (looked for from here: minbase has no pgrep).
container_runs() {
        local ns p

        ns=$(readlink "/proc/$LEADER/ns/pid")
        for p in $(pgrep -x "$1" || true); do
                [ "$(readlink "/proc/$p/ns/pid" 2>/dev/null)" = "$ns" ] && return 0
        done
        return 1
}
as_user() { in_container setpriv --reuid=auditor-user --regid=auditor-user --init-groups -- "$@"; }
journal_tail() { in_container journalctl -u smapsauditd --no-pager -n 30 || true; }

container_poweroff() {
        in_container systemctl poweroff || true
        for _ in $(seq 100); do
                kill -0 "$NSPAWN_PID" 2>/dev/null || break
                sleep 0.1
        done
}

# shellcheck source=tests/system/daemon-checks.sh
. "$SRC/tests/system/daemon-checks.sh"
