# SPDX-License-Identifier: LGPL-2.1-or-later
# (a) through the daemon: the thp-protnone workload (a 64 MiB THP region whose second half is
# PROT_NONE), swept by smapsauditd on a dbus-daemon of our own, without systemd. On 6.1 the sweep
# must raise a Finding signal on the PROT_NONE VMA and the under-accounted metric; elsewhere
# neither. busctl monitor records the daemon's signals; the metrics come from its textfile.
# ProbeOnBoot= is left at its default: before its first sweep the daemon probes the kernel, and
# its smapsaudit_kernel_bug samples and log lines are held to what the probe scenario measured.
#
# Environment besides lib.sh's: SAD (smapsauditd), SA_BUS_CONF (tests/daemon/
# private-system-bus.conf) and SA_BUS_POLICY (systemd/org.smapsaudit.Auditor1.conf); dbus-daemon
# and busctl on PATH.
. "$SA_LIB"
: "${SAD:?SAD is not set}" "${SA_BUS_CONF:?SA_BUS_CONF is not set}" "${SA_BUS_POLICY:?SA_BUS_POLICY is not set}"

# wait_text FILE PATTERN SECONDS [PID]: until FILE has a line matching PATTERN (grep -E); gives up
# early when PID is gone.
wait_text() {
        _i=0
        until grep -qE "$2" "$1" 2>/dev/null; do
                _i=$((_i + 1))
                [ $_i -gt $(($3 * 10)) ] && { say "no '$2' in $1 within $3 s"; return 1; }
                [ -n "$4" ] && ! kill -0 "$4" 2>/dev/null && { say "$4 exited: no '$2' in $1"; return 1; }
                sleep 0.1
        done
}

D=$SA_TMP/daemon
mkdir -p "$D/state" "$D/metrics" || exit 1

thp_madvise
[ -e /proc/sys/kernel/numa_balancing ] && knob /proc/sys/kernel/numa_balancing 0
start_workload wl "$WL" thp-protnone --size-mb 64 || exit 1
section truth cat "$SA_TMP/wl.out"

# The bus: the host tests' configuration, its socket in our directory.
sed -e "s|{socket}|$D/system_bus_socket|" -e "s|{policy}|$SA_BUS_POLICY|" "$SA_BUS_CONF" >"$D/bus.conf"
section bus dbus-daemon --config-file="$D/bus.conf" --fork --print-address=1 --print-pid=1 --nopidfile || exit 1
DBUS_SYSTEM_BUS_ADDRESS=$(sed -n 1p "$SA_TMP/section.out")
bus_pid=$(sed -n 2p "$SA_TMP/section.out")
SA_PIDS="$bus_pid $SA_PIDS"
export DBUS_SYSTEM_BUS_ADDRESS

# Every signal of the daemon's object, one JSON a line, from before the daemon starts: Finding and
# the PropertiesChanged that ends each sweep (the proof that the monitor heard the sweep).
busctl --system --json=short monitor --match "type='signal',path='/org/smapsaudit/Auditor1'" \
        >"$D/signals.json" 2>"$D/monitor.err" &
monitor_pid=$!
SA_PIDS="$monitor_pid $SA_PIDS"
wait_text "$D/monitor.err" Monitoring 60 "$monitor_pid" || { cat "$D/monitor.err" >&2; exit 1; }

# A sweep every 5 s, with the whole interval as its CPU budget: under TCG the first sweep covers
# every process, the workload included, unless the host is loaded.
cat >"$D/smapsauditd.conf" <<EOF
[Sweep]
Interval=5s
CPUBudgetPercent=100
MaxProcessesPerSweep=0

[Metrics]
TextfilePath=$D/metrics/smapsaudit.prom
EOF
section config cat "$D/smapsauditd.conf"
"$SAD" --config="$D/smapsauditd.conf" --state-dir="$D/state" --debug >"$D/smapsauditd.log" 2>&1 &
sad_pid=$!
SA_PIDS="$sad_pid $SA_PIDS"

# The workload started before the daemon, so it is in the first round of sweeps: once a sweep
# covered every process, or finished the round that sweeps the CPU budget stopped began (a loaded
# host slows TCG down), it was audited, a fast-tier discrepancy again in the full tier within the
# same sweep. The metrics are written 0.1 s after the sweep ends (an earlier sweep's may be there
# before), and busctl writes each signal as it arrives: a second later both are complete.
section sweep wait_text "$D/smapsauditd.log" "^Sweep (covered all|finished a round)" 300 "$sad_pid"
sleep 1
section metrics-written wait_text "$D/metrics/smapsaudit.prom" "^smapsaudit_last_sweep_timestamp_seconds " 30 "$sad_pid"
section metrics cat "$D/metrics/smapsaudit.prom"
section daemon-alive kill -0 "$sad_pid"
section signals cat "$D/signals.json"
section monitor-stderr cat "$D/monitor.err"
kill "$sad_pid"
wait "$sad_pid"
sad_rc=$?
section daemon-log sh -c "cat '$D/smapsauditd.log'; exit $sad_rc"
exit 0
