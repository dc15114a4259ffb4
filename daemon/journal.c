/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>
#include <systemd/sd-journal.h>

#include "journal.h"
#include "macro.h"

#define ENTRY_FIELDS_MAX 24
#define JOURNAL_SOCKET "/run/systemd/journal/socket"

/* Fields of one entry, each "NAME=value", formatted into one buffer. */
typedef struct Entry {
        struct iovec iov[ENTRY_FIELDS_MAX];
        size_t n;
        char buf[4096];
        size_t used;
        const char *message;   /* points into buf, after "MESSAGE=" */
} Entry;

static void add(Entry *e, const char *format, ...) _printf_(2, 3);
static void add(Entry *e, const char *format, ...) {
        size_t left = sizeof(e->buf) - e->used;
        va_list ap;
        int k;

        if (e->n >= ENTRY_FIELDS_MAX || left < 2)
                return;
        va_start(ap, format);
        k = vsnprintf(e->buf + e->used, left, format, ap);
        va_end(ap);
        if (k < 0)
                return;
        if ((size_t) k >= left)
                k = (int) left - 1;   /* cut, still one field */
        e->iov[e->n++] = (struct iovec) { .iov_base = e->buf + e->used, .iov_len = (size_t) k };
        if (!e->message && strncmp(e->buf + e->used, "MESSAGE=", 8) == 0)
                e->message = e->buf + e->used + 8;
        e->used += (size_t) k + 1;
}

/* sd_journal_send() drops entries silently when journald's socket is not
 * there (a container without it, a test machine): look first. */
static bool journal_available(void) {
        return access(JOURNAL_SOCKET, F_OK) >= 0;
}

static int send_entry(Entry *e, int priority) {
        int r = -ENOENT;

        add(e, "PRIORITY=%d", priority);
        add(e, "SYSLOG_IDENTIFIER=smapsauditd");
        if (journal_available())
                r = sd_journal_sendv(e->iov, (int) e->n);
        if (r < 0)
                /* No journald here: the message alone, where the rest of our log goes. */
                log_internal(priority, 0, "%s", e->message ?: "");
        return r;
}

static void add_process(Entry *e, const JournalProcess *p) {
        add(e, "PID=%d", (int) p->pid);
        add(e, "COMM=%s", p->comm ?: "");
        add(e, "KERNEL_RELEASE=%s", p->kernel_release ?: "");
        if (p->object_pid)
                add(e, "OBJECT_PID=%d", (int) p->pid);
        else if (p->unit && p->unit[0] == '/')
                add(e, "OBJECT_SYSTEMD_CGROUP=%s", p->unit);
        else if (p->unit && p->unit[0])
                add(e, "OBJECT_SYSTEMD_UNIT=%s", p->unit);
}

static void add_finding(Entry *e, const OpenFinding *f) {
        char tags[256];

        if (smapsaudit_tags_format(f->tags, tags, sizeof(tags), ',') < 0)
                tags[0] = 0;
        add(e, "KIND=%s", smapsaudit_verdict_to_string(f->kind));
        add(e, "FIELD=%s", f->field);
        add(e, "SOURCE=%s", f->source);
        add(e, "VMA_START=0x%" PRIx64, f->vma_start);
        add(e, "VMA_END=0x%" PRIx64, f->vma_end);
        add(e, "KERNEL_KB=%" PRId64, f->kernel_kb);
        add(e, "WALK_KB=%" PRId64, f->walk_kb);
        add(e, "DELTA_KB=%" PRId64, f->delta_kb);
        add(e, "TAGS=%s", tags);
}

/* "AnonHugePages under-accounted in smaps, VMA 0x1000-0x2000, kernel 0 kB, walk 2048 kB" */
static void describe(const OpenFinding *f, char *buf, size_t size) {
        char vma[64] = "process-wide";

        if (f->vma_start || f->vma_end)
                snprintf(vma, sizeof(vma), "VMA 0x%" PRIx64 "-0x%" PRIx64, f->vma_start, f->vma_end);
        snprintf(buf, size, "%s %s in %s, %s, kernel %" PRId64 " kB, walk %" PRId64 " kB (delta %" PRId64 " kB)",
                 f->field, smapsaudit_verdict_to_string(f->kind), f->source, vma, f->kernel_kb, f->walk_kb,
                 f->delta_kb);
}

int journal_finding(const JournalProcess *p, const OpenFinding *f, const char *origin) {
        char what[256];
        Entry e = {};

        describe(f, what, sizeof(what));
        add(&e, "MESSAGE_ID=%s", f->kind == SMAPSAUDIT_OVER_ACCOUNTED ? MESSAGE_ID_OVER_ACCOUNTED
                                                                      : MESSAGE_ID_UNDER_ACCOUNTED);
        add(&e, "MESSAGE=Process %d (%s): %s; kernel %s.", (int) p->pid, p->comm ?: "", what,
            p->kernel_release ?: "unknown");
        add_process(&e, p);
        add_finding(&e, f);
        add(&e, "ORIGIN=%s", origin);
        return send_entry(&e, LOG_WARNING);
}

int journal_resolved(const JournalProcess *p, const OpenFinding *f, const char *reason) {
        char what[256];
        Entry e = {};

        describe(f, what, sizeof(what));
        add(&e, "MESSAGE_ID=%s", MESSAGE_ID_RESOLVED);
        add(&e, "MESSAGE=Process %d (%s): resolved (%s): %s.", (int) p->pid, p->comm ?: "",
            streq(reason, "exited") ? "the process exited" : "a later audit no longer finds it", what);
        add_process(&e, p);
        add_finding(&e, f);
        add(&e, "REASON=%s", reason);
        return send_entry(&e, LOG_NOTICE);
}

int journal_regression(const JournalProcess *p, const OpenFinding *f, const char *previous_release,
                       const char *signature) {
        char what[256];
        Entry e = {};

        describe(f, what, sizeof(what));
        add(&e, "MESSAGE_ID=%s", MESSAGE_ID_REGRESSION);
        add(&e, "MESSAGE=Kernel regression: %s has %s findings that %s did not have; first: process %d (%s): %s.",
            p->kernel_release ?: "unknown", signature, previous_release, (int) p->pid, p->comm ?: "", what);
        add_process(&e, p);
        add_finding(&e, f);
        add(&e, "PREVIOUS_RELEASE=%s", previous_release);
        add(&e, "SIGNATURE=%s", signature);
        return send_entry(&e, LOG_ERR);
}

int journal_ksm(const char *status, const char *previous_status, const char *kernel_release,
                const char *first) {
        bool broken = streq(status, "broken");
        Entry e = {};

        add(&e, "MESSAGE_ID=%s", broken ? MESSAGE_ID_KSM_INVARIANT : MESSAGE_ID_RESOLVED);
        if (broken)
                add(&e, "MESSAGE=KSM invariants broken on kernel %s%s%s.", kernel_release ?: "unknown",
                    first ? ": " : "", first ?: "");
        else
                add(&e, "MESSAGE=KSM invariants %s again on kernel %s (were %s).", status,
                    kernel_release ?: "unknown", previous_status);
        add(&e, "KIND=ksm-invariant");
        add(&e, "KSM_STATUS=%s", status);
        add(&e, "KSM_PREVIOUS_STATUS=%s", previous_status);
        add(&e, "KERNEL_RELEASE=%s", kernel_release ?: "");
        if (first)
                add(&e, "INVARIANT=%s", first);
        if (!broken)
                add(&e, "REASON=gone");
        return send_entry(&e, broken ? LOG_WARNING : LOG_NOTICE);
}

int journal_kernel_bug(const char *message_id, const char *bug, const char *title, const char *release,
                       const char *evidence, const char *fixed_by) {
        Entry e = {};

        add(&e, "MESSAGE_ID=%s", message_id);
        add(&e, "MESSAGE=Kernel %s has accounting bug %s: %s%s%s.", release, bug, title, evidence ? ": " : "",
            evidence ?: "");
        add(&e, "KIND=kernel-bug");
        add(&e, "BUG=%s", bug);
        add(&e, "RELEASE=%s", release);
        if (evidence)
                add(&e, "EVIDENCE=%s", evidence);
        add(&e, "FIXED_BY=%s", fixed_by);
        return send_entry(&e, LOG_ERR);
}

int journal_error(const char *what, int error, const char *format, ...) {
        char message[1024];
        int saved = errno;
        Entry e = {};
        va_list ap;

        if (error < 0)
                error = -error;
        errno = error;
        va_start(ap, format);
        vsnprintf(message, sizeof(message), format, ap);
        va_end(ap);
        errno = saved;

        add(&e, "MESSAGE_ID=%s", MESSAGE_ID_DAEMON_ERROR);
        add(&e, "MESSAGE=%s", message);
        add(&e, "KIND=daemon-error");
        add(&e, "WHAT=%s", what);
        if (error > 0)
                add(&e, "ERRNO=%d", error);
        (void) send_entry(&e, LOG_ERR);
        return -error;
}
