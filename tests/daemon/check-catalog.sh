#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# systemd/smapsaudit.catalog: journalctl compiles it, and it explains every
# MESSAGE_ID that daemon/journal.h defines and each kernel bug's of the
# probe's catalogue (probe/catalog.c). Uses a scratch --root, so the
# machine's catalog is not touched.
set -eu
usage="usage: check-catalog.sh CATALOG JOURNAL_H PROBE_CATALOG_C"
catalog=${1:?$usage}
header=${2:?$usage}
bugs=${3:?$usage}

if ! command -v journalctl >/dev/null 2>&1; then
        echo "SKIP: no journalctl"
        exit 77
fi

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/usr/lib/systemd/catalog"
cp "$catalog" "$root/usr/lib/systemd/catalog/"
journalctl --root="$root" --update-catalog
journalctl --root="$root" --list-catalog >"$root/list"

ids="$(sed -n 's/^#define MESSAGE_ID_[A-Z_]* *"\([0-9a-f]\{32\}\)"$/\1/p' "$header")
$(sed -n 's/^ *\.message_id = "\([0-9a-f]\{32\}\)",$/\1/p' "$bugs")"
n=0
for id in $ids; do
        n=$((n + 1))
        if ! grep -q "^$id smapsaudit: " "$root/list"; then
                echo "MESSAGE_ID $id ($header or $bugs) has no catalog entry:" >&2
                cat "$root/list" >&2
                exit 1
        fi
done
# six of the daemon's own, one per kernel bug (not the bound) of the probe
if [ "$n" -ne 12 ]; then
        echo "expected 12 MESSAGE_IDs in $header and $bugs, found $n" >&2
        exit 1
fi
echo "catalog: $n passed, 0 failed"
