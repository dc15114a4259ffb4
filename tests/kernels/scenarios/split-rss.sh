# SPDX-License-Identifier: LGPL-2.1-or-later
# (e) Split RSS counters: up to 6.1 each thread caches its RSS counter changes and folds them into
# the mm only every 64 faults (SPLIT_RSS_COUNTING), so status lags the page tables.
#   anon: two threads, each with 60 fresh anonymous pages (one page a fault);
#   file: the same, and the second thread also takes 40 read faults on a file, each mapping up
#         to 16 pages through fault-around (default fault_around_bytes 64 KiB).
# In both the audit's status slack must cover the lag: no finding.
. "$SA_LIB"

start_workload anon "$KW" split-rss --pages 60 || exit 1
section truth-anon cat "$SA_TMP/anon.out"
section status-anon grep -E '^(VmRSS|RssAnon|RssFile|RssShmem|Threads)' "/proc/$wl_pid/status"
section check-anon "$SA" check --local --json --all-vmas "$wl_pid"
stop_workloads

start_workload file "$KW" split-rss --pages 10 --file "$SA_TMP/fault-around.dat" --file-faults 40 || exit 1
section truth-file cat "$SA_TMP/file.out"
section status-file grep -E '^(VmRSS|RssAnon|RssFile|RssShmem|Threads)' "/proc/$wl_pid/status"
section check-file "$SA" check --local --json --all-vmas "$wl_pid"
stop_workloads
rm -f "$SA_TMP/fault-around.dat"
exit 0
