/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * /proc/PID/status: the mm's RSS counters (task_mem in fs/proc/task_mmu.c),
 * an independent third view next to the smaps walk and ours. On a live
 * procfs the counters come through libproc2's pids API; the text parser
 * fills what libproc2 has no item for (HugetlbPages, TracerPid) and serves
 * captured trees.
 */
#include <stddef.h>
#include <libproc2/pids.h>

#include "ctx.h"
#include "procfs.h"
#include "sources.h"

#define K(name, field, m) { name, offsetof(struct sa_status, field), m }
static const struct sa_keyed status_keys[] = {
        K("VmRSS", vm_rss, SA_STATUS_VM_RSS),
        K("RssAnon", rss_anon, SA_STATUS_RSS_ANON),
        K("RssFile", rss_file, SA_STATUS_RSS_FILE),
        K("RssShmem", rss_shmem, SA_STATUS_RSS_SHMEM),
        K("VmSwap", vm_swap, SA_STATUS_VM_SWAP),
        K("HugetlbPages", hugetlb, SA_STATUS_HUGETLB),
        K("Threads", threads, SA_STATUS_THREADS),
        K("TracerPid", tracer_pid, SA_STATUS_TRACER),
        K("Uid", uid, SA_STATUS_UID),
        K("Ngid", ngid, 0),
};

int sa_status_parse(const char *buf, struct sa_status *ret) {
        struct sa_status st = {};
        const char *name;

        sa_parse_keyed(buf, status_keys, ELEMENTSOF(status_keys), &st, &st.have);
        /* "Uid:\treal\teffective\tsaved\tfs": the keyed parser took the real one. */
        name = strstr(buf, "\nUid:");
        if (name) {
                long long real, eff;
                if (sscanf(name + 5, "%lld %lld", &real, &eff) == 2)
                        st.euid = eff;
        }
        name = startswith(buf, "Name:") ? buf : strstr(buf, "\nName:");
        if (name) {
                name += (*name == '\n') + 5;
                name += strspn(name, " \t");
                snprintf(st.name, sizeof(st.name), "%.*s", (int) strcspn(name, "\n"), name);
                st.have |= SA_STATUS_NAME;
        }
        *ret = st;
        return 0;
}

static int status_from_libproc2(pid_t pid, struct sa_status *st) {
        enum pids_item items[] = {
                PIDS_VM_RSS, PIDS_VM_RSS_ANON, PIDS_VM_RSS_FILE, PIDS_VM_RSS_SHARED, PIDS_VM_SWAP,
        };
        struct pids_info *info = NULL;
        struct pids_fetch *fetch;
        unsigned pids[] = { (unsigned) pid };
        int r;

        r = procps_pids_new(&info, items, (int) ELEMENTSOF(items));
        if (r < 0)
                return r;
        fetch = procps_pids_select(info, pids, 1, PIDS_SELECT_PID);
        if (!fetch || fetch->counts->total != 1) {
                procps_pids_unref(&info);
                return -ESRCH;
        }
        st->vm_rss = (int64_t) PIDS_VAL(0, ul_int, fetch->stacks[0], info);
        st->rss_anon = (int64_t) PIDS_VAL(1, ul_int, fetch->stacks[0], info);
        st->rss_file = (int64_t) PIDS_VAL(2, ul_int, fetch->stacks[0], info);
        st->rss_shmem = (int64_t) PIDS_VAL(3, ul_int, fetch->stacks[0], info);
        st->vm_swap = (int64_t) PIDS_VAL(4, ul_int, fetch->stacks[0], info);
        procps_pids_unref(&info);
        return 0;
}

int sa_status_read(struct smapsaudit_ctx *ctx, pid_t pid, struct sa_status *ret) {
        const uint64_t always = SA_STATUS_NAME | SA_STATUS_UID | SA_STATUS_THREADS;
        _cleanup_free_ char *buf = NULL;
        struct sa_status st;
        size_t len;
        int r;

        r = sa_read_pid_file(ctx, pid, "status", &buf, &len);
        if (r < 0)
                return r;
        sa_status_parse(buf, &st);
        /*
         * The kernel prints Name, Uid and Threads for every task, Threads after
         * the counters, and ends every line: a file without them, or cut off
         * mid-line, is not a whole status file, and its counters are not zero.
         */
        if (len == 0 || buf[len - 1] != '\n' || (st.have & always) != always)
                return -EBADMSG;
        /* A kernel thread has no mm and no counters: nothing to take from libproc2. */
        if (sa_ctx_live(ctx) && (st.have & SA_STATUS_VM_RSS)) {
                struct sa_status lp = st;
                if (status_from_libproc2(pid, &lp) >= 0)
                        st = lp;
        }
        *ret = st;
        return 0;
}

bool sa_status_counters_equal(const struct sa_status *a, const struct sa_status *b) {
        return a->vm_rss == b->vm_rss && a->rss_anon == b->rss_anon && a->rss_file == b->rss_file &&
               a->rss_shmem == b->rss_shmem && a->vm_swap == b->vm_swap && a->hugetlb == b->hugetlb;
}
