#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# systemd/smapsaudit.catalog: journalctl compiles it, and it explains every
# MESSAGE_ID that daemon/journal.h defines. Uses a scratch --root, so the
# machine's catalog is not touched.
set -eu
catalog=${1:?usage: check-catalog.sh CATALOG JOURNAL_H}
header=${2:?usage: check-catalog.sh CATALOG JOURNAL_H}

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

ids=$(sed -n 's/^#define MESSAGE_ID_[A-Z_]* *"\([0-9a-f]\{32\}\)"$/\1/p' "$header")
n=0
for id in $ids; do
        n=$((n + 1))
        if ! grep -q "^$id smapsaudit: " "$root/list"; then
                echo "MESSAGE_ID $id (daemon/journal.h) has no catalog entry:" >&2
                cat "$root/list" >&2
                exit 1
        fi
done
if [ "$n" -ne 6 ]; then
        echo "expected 6 MESSAGE_IDs in $header, found $n" >&2
        exit 1
fi
echo "catalog: $n passed, 0 failed"
