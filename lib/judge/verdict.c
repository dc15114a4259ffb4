/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The process verdict, once the passes are over: from the findings, what
 * each VMA and the totals settled, and how much Rss stayed undecided
 * (docs/report.md); and the notes on what the walk could not do. No I/O.
 */
#include <inttypes.h>

#include "pass.h"

void sa_judge_verdict(struct sa_judge *j) {
        struct smapsaudit_report *r = j->r;
        bool rollup_held = j->rollup_done || j->rollup_churn || j->rollup_agreed;
        bool under = false, over = false, open = !rollup_held || !j->status_done;
        unsigned churn = 0, moving = 0;
        struct sa_coverage cov = {};

        for (size_t i = 0; i < r->n_findings; i++) {
                under |= r->findings[i].kind == SMAPSAUDIT_UNDER_ACCOUNTED;
                over |= r->findings[i].kind == SMAPSAUDIT_OVER_ACCOUNTED;
        }
        for (size_t i = 0; i < r->n_vmas; i++) {
                struct sa_vma_report *v = &r->vmas[i];
                if (j->track[i].state == SA_VMA_DONE) {
                        bool found = false;
                        for (size_t k = 0; k < r->n_findings; k++)
                                found |= r->findings[k].vma_start == v->kernel.start &&
                                         r->findings[k].vma_end == v->kernel.end;
                        if (!found)
                                v->verdict = SMAPSAUDIT_CONSISTENT;
                        sa_coverage_add(&cov, sa_vma_rss_kb(&v->kernel), 0, true);
                        continue;
                }
                if (j->track[i].core_ok || j->track[i].moving_decided) {
                        v->verdict = SMAPSAUDIT_CONSISTENT;
                        if (j->track[i].core_ok)
                                churn++;
                        else
                                moving++;
                        sa_coverage_add(&cov, sa_vma_rss_kb(&v->kernel), 0, true);
                        continue;
                }
                v->verdict = SMAPSAUDIT_INCONCLUSIVE;
                r->unstable_vmas++;
                sa_coverage_add(&cov, sa_vma_rss_kb(&v->kernel), (v->kernel.end - v->kernel.start) / 1024, false);
        }
        r->decided_rss_kb = cov.decided_kb;
        r->undecided_rss_kb = cov.undecided_kb;
        /* what stayed undecided is too small to hide a bug the catalogue knows: judge the rest */
        open |= sa_coverage_open(&cov);
        if (moving)
                sa_report_note(r, "%u VMA(s) changed in every pass: decided from Rss, Anonymous, Swap, KSM and the "
                                  "PMD-mapped fields, each within what the events around the walk could move, in a "
                                  "pass without THP events; Pss and the shared/private split were not judged", moving);
        if (r->unstable_vmas && !sa_coverage_open(&cov))
                sa_report_note(r, "%u VMA(s) with %" PRIu64 " kB of Rss stayed undecided: none can hold a PMD THP and "
                                  "together they hold less than %llu kB, too little to hide a known kernel bug",
                               r->unstable_vmas, cov.undecided_kb, SA_UNDECIDED_BOUND_KB);
        if (churn)
                sa_report_note(r, "Pss and the shared/private split of %u VMA(s) were not judged: the mapcounts of "
                                  "their shared pages changed in every pass (other processes mapping and unmapping them)",
                               churn);
        if (under)
                r->verdict = SMAPSAUDIT_UNDER_ACCOUNTED;
        else if (over)
                r->verdict = SMAPSAUDIT_OVER_ACCOUNTED;
        else if (open)
                r->verdict = SMAPSAUDIT_INCONCLUSIVE;
        else
                r->verdict = SMAPSAUDIT_CONSISTENT;
        if (!j->rollup_done && !j->rollup_agreed && j->rollup_churn)
                sa_report_note(r, "the rollup's Pss fields were not judged: they moved with other processes' "
                                  "mapcounts in every pass");
        if (open)
                sa_report_note(r, "%u VMA(s) (%" PRIu64 " kB of Rss)%s kept changing or disagreed only once in %u "
                                  "passes: not judged",
                               r->unstable_vmas, cov.undecided_kb,
                               rollup_held && j->status_done ? "" : " and the process totals", r->passes);
}

/* The notes that say what the walk could not do, from its mode. */
void sa_judge_describe_mode(const struct sa_judge *j) {
        struct smapsaudit_report *r = j->r;

        if (r->walk_mode & SA_WALK_FAST)
                sa_report_note(r, "fast tier: Rss, Anonymous, the PMD-mapped fields and swap are recomputed exactly, "
                                  "KSM in mergeable VMAs; Pss and the shared/private split are bounded and NUMA "
                                  "nodes are not compared");
        if (!(r->walk_mode & SA_WALK_PFN))
                sa_report_note(r, "no CAP_SYS_ADMIN: pagemap hides PFNs, so Pss, KSM, the NUMA nodes and the "
                                  "shared/private split are bounded, not recomputed");
        else if (!(r->walk_mode & SA_WALK_KPAGE))
                sa_report_note(r, "kpageflags/kpagecount not readable: Pss, KSM and NUMA nodes are bounded, not recomputed");
        if (!(r->walk_mode & SA_WALK_SCAN))
                sa_report_note(r, "no PAGEMAP_SCAN (kernel < 6.7 or captured files): PMD mappings are inferred "
                                  "from the folio layout");
        if (!(r->walk_mode & SA_WALK_NODES) && (r->walk_mode & SA_WALK_KPAGE))
                sa_report_note(r, "no PFN → node map: numa_maps is not compared");
        {
                uint64_t ignored = 0;
                for (size_t i = 0; i < r->n_vmas; i++)
                        ignored += r->vmas[i].walk.ksm_flag_ignored;
                if (ignored)
                        sa_report_note(r, "kpageflags sets KPF_KSM on %" PRIu64 " page(s) that KSM cannot have merged "
                                          "(outside mergeable VMAs, in large folios, or with no stable tree): not "
                                          "counted as KSM (the kpageflags bug of dee3d0bef2b0, e.g. Debian's 6.12.117)",
                                       ignored);
        }
        if (!j->kernel->mapcount_known)
                sa_report_note(r, "kernel config unknown: assuming per-page mapcount (CONFIG_PAGE_MAPCOUNT)");
}
