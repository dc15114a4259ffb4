#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# fleet/: the alert rules load (promtool check rules), their unit tests pass
# (promtool test rules fleet/tests/*.yml) and the Alertmanager example is a
# valid configuration (amtool check-config, when amtool is installed).
# Exit 77 (skipped) without promtool: Debian's "prometheus" package has it.
set -eu
fleet=${1:?usage: check-fleet-rules.sh FLEET_DIR}

if ! command -v promtool >/dev/null 2>&1; then
        echo "SKIP: promtool is not installed (apt-get install prometheus)"
        exit 77
fi

promtool check rules "$fleet/smapsaudit.rules.yml"
# promtool resolves rule_files relative to each test file.
promtool test rules "$fleet"/tests/*.yml
# The Alertmanager route groups by labels the alerts carry: each group_by label is on an alert
# the promtool tests expect (a label renamed in the metrics or rules and not in the route fails).
for label in $(sed -n 's/.*group_by: *\[\(.*\)\].*/\1/p' "$fleet/alertmanager.yml" | tr ',' '\n' | tr -d ' ' | sort -u); do
        [ "$label" = alertname ] && continue
        if ! grep -Eq "^ +$label: " "$fleet"/tests/*.yml; then
                echo "alertmanager.yml groups by '$label', which no alert in fleet/tests/*.yml carries" >&2
                exit 1
        fi
done
if command -v amtool >/dev/null 2>&1; then
        amtool check-config "$fleet/alertmanager.yml"
else
        echo "amtool is not installed (apt-get install prometheus-alertmanager): alertmanager.yml not checked"
fi
echo "fleet rules: 1 passed, 0 failed"
