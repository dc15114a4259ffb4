/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Tags explain a finding: what kind of memory the VMA holds. */
#include "account.h"
#include "macro.h"
#include "smapsaudit.h"

static const char *const tag_names[] = {
        "prot_none", "numa_hinted", "thp", "ksm", "ksm_mergeable", "shmem", "file", "hugetlb",
};

_export_ int smapsaudit_tags_format(unsigned tags, char *buf, size_t size, char sep) {
        size_t len = 0;

        if (size == 0)
                return -ENOBUFS;
        buf[0] = 0;
        for (size_t i = 0; i < ELEMENTSOF(tag_names); i++) {
                int n;
                if (!(tags & (1u << i)))
                        continue;
                n = snprintf(buf + len, size - len, "%s%s", len ? (char[]) { sep, 0 } : "", tag_names[i]);
                if (n < 0 || (size_t) n >= size - len)
                        return -ENOBUFS;
                len += (size_t) n;
        }
        return (int) len;
}

const char *sa_tag_name(unsigned bit) {
        return bit < ELEMENTSOF(tag_names) ? tag_names[bit] : NULL;
}

/*
 * NUMA balancing can leave protnone hint entries in a VMA when it is on,
 * task_numa_work has scanned the mm, and the VMA is one it scans
 * (kernel/sched/fair.c task_numa_work): accessible, not hugetlb, not
 * VM_MIXEDMAP or PFNMAP/IO, and not a read-only file mapping.
 */
static bool numa_eligible(const struct sa_smaps_vma *v, const struct sa_numa_state *n) {
        bool file = v->inode != 0;

        if (n->balancing <= 0 || n->scan_seq <= 0)
                return false;
        if (streq(v->perms, "") || (v->perms[0] == '-' && v->perms[1] == '-' && v->perms[2] == '-'))
                return false;
        if (v->vmflags & (SA_VMF(SA_VM_HT) | SA_VMF(SA_VM_MM) | SA_VMF(SA_VM_PF) | SA_VMF(SA_VM_IO)))
                return false;
        if (file && v->perms[0] == 'r' && v->perms[1] != 'w')
                return false;
        return true;
}

unsigned sa_vma_tags(const struct sa_smaps_vma *v, const struct sa_acc *acc, const struct sa_numa_state *n) {
        struct sa_vma_class c;
        unsigned t = 0;

        sa_vma_classify(v, &c);
        if (v->perms[0] == '-' && v->perms[1] == '-' && v->perms[2] == '-')
                t |= SMAPSAUDIT_TAG_PROT_NONE;
        if (numa_eligible(v, n))
                t |= SMAPSAUDIT_TAG_NUMA_HINTED;
        if (acc->pmd_thps > 0 || v->kb[SA_ANON_HUGE] || v->kb[SA_SHMEM_PMD] || v->kb[SA_FILE_PMD])
                t |= SMAPSAUDIT_TAG_THP;
        if (acc->ksm_pages > 0 || v->kb[SA_KSM])
                t |= SMAPSAUDIT_TAG_KSM;
        if (c.mergeable)
                t |= SMAPSAUDIT_TAG_KSM_MERGEABLE;
        if (c.shmem || acc->f[SA_ST_RSS_SHMEM].lo > 0)
                t |= SMAPSAUDIT_TAG_SHMEM;
        else if (v->inode != 0)
                t |= SMAPSAUDIT_TAG_FILE;
        if (c.hugetlb)
                t |= SMAPSAUDIT_TAG_HUGETLB;
        return t;
}
