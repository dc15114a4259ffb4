/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdlib.h>
#include <string.h>

#include "sweep.h"
#include "test.h"

static struct smapsaudit_proc proc(pid_t pid, uint64_t start_time, uint64_t rss_kb) {
        return (struct smapsaudit_proc) { .pid = pid, .start_time = start_time, .rss_kb = rss_kb };
}

static void give_finding(ProcState *s, uint64_t key) {
        OpenFinding *f = calloc(1, sizeof(OpenFinding));

        CHECK(f);
        f->key = key;
        proc_state_set_findings(s, f, 1);
}

/* What the gone callback was told: PIDs and their first finding's key. */
static pid_t gone_pids[8];
static uint64_t gone_keys[8];
static size_t n_gone;

static void on_gone(const ProcState *s, void *userdata) {
        if (n_gone < ELEMENTSOF(gone_pids)) {
                gone_pids[n_gone] = s->pid;
                gone_keys[n_gone] = s->n_findings ? s->findings[0].key : 0;
        }
        n_gone++;
}

static void test_table(void) {
        struct smapsaudit_proc list1[] = { proc(30, 300, 900), proc(10, 100, 500), proc(20, 200, 100) };
        struct smapsaudit_proc list2[] = { proc(20, 999, 100), proc(10, 100, 500), proc(40, 400, 50) };
        ProcTable t = {};
        ProcState *s;

        CHECK(proc_table_sync(&t, list1, 3, false, on_gone, NULL) == 0);
        CHECK(t.n == 3 && t.states[0].pid == 10 && t.states[2].pid == 30);
        CHECK(n_gone == 0);

        s = proc_table_get(&t, 10);
        CHECK(s && s->round == 0);
        s->tags = SMAPSAUDIT_TAG_THP;
        s->round = 1;
        give_finding(s, 42);
        give_finding(proc_table_get(&t, 30), 30);
        give_finding(proc_table_get(&t, 20), 20);
        proc_table_get(&t, 20)->round = 1;

        /* 30 exited, 20 is another process now, 40 is new, 10 keeps its state: the
         * callback hears of 20 and 30 with their findings, and of nobody else. */
        CHECK(proc_table_sync(&t, list2, 3, false, on_gone, NULL) == 0);
        CHECK(t.n == 3);
        CHECK(n_gone == 2);
        CHECK(gone_pids[0] == 20 && gone_keys[0] == 20);
        CHECK(gone_pids[1] == 30 && gone_keys[1] == 30);
        CHECK(!proc_table_get(&t, 30));
        s = proc_table_get(&t, 10);
        CHECK(s && s->round == 1 && s->tags == SMAPSAUDIT_TAG_THP && proc_state_find(s, 42));
        CHECK(!proc_state_find(s, 43));
        s = proc_table_get(&t, 20);
        CHECK(s && s->round == 0 && s->start_time == 999 && s->n_findings == 0);

        /* A PID first seen through Check, placed in order. */
        CHECK(proc_table_ensure(&t, 15, &s) == 0 && s->pid == 15 && s->start_time == 0);
        CHECK(t.n == 4 && t.states[1].pid == 15 && t.states[2].pid == 20);
        CHECK(proc_table_ensure(&t, 15, &s) == 0 && t.n == 4);
        give_finding(s, 15);

        /* Replaying captures, a PID only Check has seen stays while the live list lacks it... */
        n_gone = 0;
        CHECK(proc_table_sync(&t, list2, 3, true, on_gone, NULL) == 0);
        CHECK(t.n == 4 && n_gone == 0);
        s = proc_table_get(&t, 15);
        CHECK(s && proc_state_find(s, 15));
        /* ...and on a live system it is gone, findings and all. */
        CHECK(proc_table_sync(&t, list2, 3, false, on_gone, NULL) == 0);
        CHECK(t.n == 3 && n_gone == 1 && gone_pids[0] == 15 && gone_keys[0] == 15);

        proc_table_done(&t);
}

static void test_plan(void) {
        /* Listed largest first, as smapsaudit_list_processes() does. */
        struct smapsaudit_proc list[] = { proc(1, 1, 900), proc(2, 2, 500), proc(3, 3, 300), proc(4, 4, 100) };
        ProcTable t = {};
        pid_t *plan = NULL;
        size_t n;

        CHECK(proc_table_sync(&t, list, 4, false, NULL, NULL) == 0);
        proc_table_get(&t, 3)->tags = SMAPSAUDIT_TAG_PROT_NONE;
        proc_table_get(&t, 4)->tags = SMAPSAUDIT_TAG_KSM | SMAPSAUDIT_TAG_FILE;
        proc_table_get(&t, 2)->tags = SMAPSAUDIT_TAG_FILE;   /* not heavy */

        CHECK(sweep_plan(&t, list, 4, 1, &plan, &n) == 0);
        CHECK(n == 4 && plan[0] == 3 && plan[1] == 4 && plan[2] == 1 && plan[3] == 2);
        free(plan);

        /* Audited in this round: left out until the next. */
        proc_table_get(&t, 3)->round = 1;
        proc_table_get(&t, 1)->round = 1;
        CHECK(sweep_plan(&t, list, 4, 1, &plan, &n) == 0);
        CHECK(n == 2 && plan[0] == 4 && plan[1] == 2);
        free(plan);
        CHECK(sweep_plan(&t, list, 4, 2, &plan, &n) == 0);
        CHECK(n == 4);
        free(plan);

        proc_table_done(&t);
}

static void test_budget(void) {
        uint64_t budget = sweep_budget_usec(300 * USEC, 1.0);

        CHECK(budget == 3 * USEC);
        CHECK(sweep_allowance_usec(budget, 0) == budget);
        CHECK(sweep_allowance_usec(budget, USEC) == 2 * USEC);
        CHECK(sweep_allowance_usec(budget, 5 * USEC) == 0);

        /* An audit that crossed the budget is paid back over the next sweeps. */
        CHECK(sweep_debt_usec(budget, 0, 2 * USEC) == 0);
        CHECK(sweep_debt_usec(budget, 0, 8 * USEC) == 5 * USEC);
        CHECK(sweep_debt_usec(budget, 5 * USEC, 0) == 2 * USEC);
        CHECK(sweep_debt_usec(budget, 2 * USEC, 0) == 0);
}

static void test_keys(void) {
        uint64_t a = finding_key(SMAPSAUDIT_UNDER_ACCOUNTED, "Rss", "smaps", 0x1000, 0x2000);

        CHECK(a == finding_key(SMAPSAUDIT_UNDER_ACCOUNTED, "Rss", "smaps", 0x1000, 0x2000));
        CHECK(a != finding_key(SMAPSAUDIT_OVER_ACCOUNTED, "Rss", "smaps", 0x1000, 0x2000));
        CHECK(a != finding_key(SMAPSAUDIT_UNDER_ACCOUNTED, "Pss", "smaps", 0x1000, 0x2000));
        CHECK(a != finding_key(SMAPSAUDIT_UNDER_ACCOUNTED, "Rss", "status", 0x1000, 0x2000));
        CHECK(a != finding_key(SMAPSAUDIT_UNDER_ACCOUNTED, "Rss", "smaps", 0x1000, 0x3000));
        CHECK(finding_key(SMAPSAUDIT_UNDER_ACCOUNTED, "ab", "c", 0, 0) !=
              finding_key(SMAPSAUDIT_UNDER_ACCOUNTED, "a", "bc", 0, 0));
}

int main(void) {
        test_table();
        test_plan();
        test_budget();
        test_keys();
        return test_summary("sweep");
}
