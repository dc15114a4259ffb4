/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The catalogue: the entries of docs/kernel-bugs.md that a process can trigger on purpose, with
 * what a report to the mm list needs to say about each, and the probe that tests it.
 */
#include "probe-internal.h"

#define REPRO_DIR "tests/kernels/repro/"

static const char *const cfg_thp[] = { "CONFIG_TRANSPARENT_HUGEPAGE", "CONFIG_PROC_PAGE_MONITOR", NULL };
static const char *const cfg_numa[] = { "CONFIG_TRANSPARENT_HUGEPAGE", "CONFIG_NUMA_BALANCING",
                                        "CONFIG_PROC_PAGE_MONITOR", NULL };
static const char *const cfg_ksm[] = { "CONFIG_KSM", NULL };
static const char *const cfg_rollup[] = { "CONFIG_PROC_PAGE_MONITOR", NULL };
static const char *const cfg_kpf[] = { "CONFIG_PROC_PAGE_MONITOR", "CONFIG_KSM", NULL };
static const char *const cfg_lag[] = { "CONFIG_SPLIT_PTLOCK_CPUS", "CONFIG_NR_CPUS", NULL };

static const struct probe_bug bugs[] = {
        {
                .id = "thp-protnone", .number = 1,
                .message_id = "7fa6f284b01f4a59a08e8850b07ca000",
                .title = "smaps skips PROT_NONE PMD-mapped THPs",
                .introduced = "474098edac26 \"mm/gup: replace FOLL_NUMA by gup_can_follow_protnone()\" (6.1)",
                .fixed = "d74943a2f3cd \"mm/gup: reintroduce FOLL_NUMA as FOLL_HONOR_NUMA_FAULT\" and 8b9c1cc0418a "
                         "\"smaps: use vm_normal_page_pmd() instead of follow_trans_huge_pmd()\" (6.5)",
                .affects = "6.1 to 6.4 and 6.5-rc",
                .measured = "Debian 6.1.192: present; Debian 6.12.117 and 6.18.44: absent",
                .symptom = "smaps_pmd_entry() looks the PMD up with follow_trans_huge_pmd(..., FOLL_DUMP), which "
                           "refuses protnone PMDs since 474098edac26; on x86-64 a PROT_NONE VMA's PMDs are "
                           "protnone, so /proc/PID/smaps (and smaps_rollup) count nothing for PMD-mapped THPs of "
                           "a PROT_NONE VMA: Rss, Pss, Anonymous and AnonHugePages are 0 kB while pagemap shows "
                           "the pages present and status VmRSS counts them. The PTE path is not affected.",
                .config = cfg_thp, .repro = REPRO_DIR "thp-protnone.c",
        },
        {
                .id = "numa-thp", .number = 2,
                .message_id = "b0968560671646d59aa33dafeefeff7f",
                .title = "smaps skips NUMA-hinted PMD-mapped THPs",
                .introduced = "474098edac26 \"mm/gup: replace FOLL_NUMA by gup_can_follow_protnone()\" (6.1)",
                .fixed = "d74943a2f3cd and 8b9c1cc0418a (6.5)",
                .affects = "6.1 to 6.4",
                .measured = "Debian 6.1.192 (two NUMA nodes): present; Debian 6.12.117: absent",
                .symptom = "The same skip for PMDs that NUMA balancing made protnone to take a hint fault, in an "
                           "accessible VMA: between the scan and the hint fault the THPs vanish from smaps and "
                           "smaps_rollup (Rss, Anonymous, AnonHugePages 0 kB for them) while pagemap and status "
                           "count them.",
                .config = cfg_numa, .repro = REPRO_DIR "numa-thp.c",
        },
        {
                .id = "ksm-protnone", .number = 3,
                .message_id = "bbffad840ccd412da3a909e6f422839e",
                .title = "KSM never merges pages of a PROT_NONE VMA",
                .introduced = "474098edac26 (6.1): KSM's follow_page() refuses protnone PTEs",
                .fixed = "d74943a2f3cd \"mm/gup: reintroduce FOLL_NUMA as FOLL_HONOR_NUMA_FAULT\" (6.5)",
                .affects = "6.1 to 6.4",
                .measured = "Debian 6.1.192: present; Debian 6.12.117 and 6.18.44: absent",
                .symptom = "Identical MADV_MERGEABLE pages of a VMA made PROT_NONE after they were written are "
                           "never merged by ksmd, across any number of full scans, while the same pages in an "
                           "accessible VMA merge at once.",
                .config = cfg_ksm, .repro = REPRO_DIR "ksm-protnone.c",
        },
        {
                .id = "ksm-fork", .number = 4,
                .message_id = "6284a829cd374f2aae30e95b225be7c7",
                .title = "KSM counters inherited on fork",
                .introduced = "7609385337a4 \"ksm: count ksm merging pages for each process\" and cb4df4cae4f2 "
                              "\"ksm: count allocated ksm rmap_items for each process\"",
                .fixed = "4d6fc29f3634 \"mm/ksm: fix incorrect KSM counter handling in mm_struct during fork\" "
                         "(6.18; stable 6.6+)",
                .affects = "6.1 onwards until the fix (6.1 has no backport)",
                .measured = "Debian 6.1.192: present; Debian 6.12.117 and 6.18.44: absent",
                .symptom = "fork() copies the parent's mm->ksm_merging_pages and ksm_rmap_items into the child: "
                           "a child that ksmd never scanned reports its parent's counts, and once ksmd scanned "
                           "it, twice the KSM pages it maps (/proc/PID/ksm_merging_pages, ksm_stat).",
                .config = cfg_ksm, .repro = REPRO_DIR "ksm-fork.c",
        },
        {
                .id = "rollup-skip", .number = 5,
                .message_id = "b7b6e8123f594ed39790e7eaa8462bc7",
                .title = "smaps_rollup skips VMAs after dropping a contended mmap_lock",
                .introduced = "c4c84f06285e (the maple tree conversion of fs/proc/task_mmu.c, 6.1) on top of "
                              "ff9f47f6f00c (5.10)",
                .fixed = "6d065f507d82 (6.10; stable 6.6, 6.9)",
                .affects = "6.1 to 6.9 (6.6.y and 6.9.y fixed by their stable backports)",
                .measured = "Debian 6.1.192: present; Debian 6.12.117 and 6.18.44: absent",
                .symptom = "When show_smaps_rollup() drops mmap_lock because a writer waits, it resumes after "
                           "the VMA it finds on relocking instead of at it, so every contended read leaves VMAs "
                           "out: smaps_rollup comes out below the sum of the VMAs that were mapped all along, by "
                           "whole VMAs.",
                .config = cfg_rollup, .repro = REPRO_DIR "rollup-skip.c",
        },
        {
                .id = "kpf-ksm", .number = 6,
                .message_id = "c1e4b1d3f7ad46c2958eb645439542fd",
                .title = "/proc/kpageflags sets KPF_KSM on every anonymous page",
                .introduced = "dee3d0bef2b0 \"proc: rewrite stable_page_flags()\"",
                .fixed = "\"fs/proc: fix KPF_KSM reported for all anonymous pages\" (2026, Cc stable)",
                .affects = "from dee3d0bef2b0 (6.10-rc1 by a third-party summary, not re-checked) until the fix",
                .measured = "Debian 6.12.117: present; Debian 6.1.192 and 6.18.44: absent",
                .symptom = "stable_page_flags() tests mapping & PAGE_MAPPING_KSM, which is true for every "
                           "anonymous folio since PAGE_MAPPING_KSM includes PAGE_MAPPING_ANON: /proc/kpageflags "
                           "reports KPF_KSM for anonymous pages KSM never touched.",
                .config = cfg_kpf, .repro = REPRO_DIR "kpf-ksm.c",
        },
        {
                .id = "status-lag", .number = 7, .bound = true,
                .title = "status RSS counters lag the page tables (a bound, not a bug)",
                .introduced = "SPLIT_RSS_COUNTING (per-thread cached counters)",
                .fixed = "f1a7941243c1 (6.2, percpu counters) and 82241a83cd15 (6.16, summed when read)",
                .affects = "up to 6.1 (up to 64 fault events per thread); 6.2 to 6.15 (a percpu batch per CPU)",
                .measured = "Debian 6.1.192: present; Debian 6.12.117 (2 CPUs) and 6.18.44: absent",
                .symptom = "/proc/PID/status RssAnon, RssFile and RssShmem lag the page tables by what each "
                           "thread has not folded into the mm yet. Not a bug; an auditor must allow for it.",
                .config = cfg_lag, .repro = REPRO_DIR "status-lag.c",
        },
};

static const probe_fn fns[ELEMENTSOF(bugs)] = {
        probe_thp_protnone, probe_numa_thp, probe_ksm_protnone, probe_ksm_fork,
        probe_rollup_skip, probe_kpf_ksm, probe_status_lag,
};

size_t probe_n_bugs(void) {
        return ELEMENTSOF(bugs);
}

const struct probe_bug *probe_bug_by_index(size_t i) {
        return i < ELEMENTSOF(bugs) ? &bugs[i] : NULL;
}

const struct probe_bug *probe_bug_by_id(const char *id) {
        for (size_t i = 0; i < ELEMENTSOF(bugs); i++)
                if (streq(bugs[i].id, id))
                        return &bugs[i];
        return NULL;
}

probe_fn probe_fn_by_index(size_t i) {
        return i < ELEMENTSOF(fns) ? fns[i] : NULL;
}
