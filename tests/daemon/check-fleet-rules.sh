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
if command -v amtool >/dev/null 2>&1; then
        amtool check-config "$fleet/alertmanager.yml"
else
        echo "amtool is not installed (apt-get install prometheus-alertmanager): alertmanager.yml not checked"
fi
echo "fleet rules: 1 passed, 0 failed"
