/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The JSON conventions of every document the library writes
 * (smapsaudit.report/1 and smapsaudit.ksm/1) and reads back.
 */
#include <inttypes.h>
#include <json-c/json.h>

#include "account.h"
#include "json-util.h"
#include "macro.h"

/* Addresses as "0x..." strings: JSON numbers lose precision past 2^53. */
json_object *sa_json_hex(uint64_t v) {
        char buf[32];

        snprintf(buf, sizeof(buf), "0x%" PRIx64, v);
        return json_object_new_string(buf);
}

json_object *sa_json_tags(unsigned tags) {
        json_object *a = json_object_new_array();

        for (unsigned b = 0; b < 32; b++)
                if ((tags & (1u << b)) && sa_tag_name(b))
                        json_object_array_add(a, json_object_new_string(sa_tag_name(b)));
        return a;
}

/* json-c's integers are signed: clamp rather than wrap. */
json_object *sa_json_u64(uint64_t v) {
        return json_object_new_int64((int64_t) MIN(v, (uint64_t) INT64_MAX));
}

void sa_json_add_u64(json_object *o, const char *k, uint64_t v) {
        json_object_object_add(o, k, sa_json_u64(v));
}

/* Neither copied nor looked up: for the report's many small objects, built once each. */
void sa_json_put(json_object *o, const char *static_key, json_object *v) {
        json_object_object_add_ex(o, static_key, v, JSON_C_OBJECT_ADD_KEY_IS_NEW | JSON_C_OBJECT_KEY_IS_CONSTANT);
}

/* ksm_stat as the kernel printed it: the lines it had, under the kernel's names. */
static const struct {
        const char *key;
        size_t offset;
        uint64_t bit;
        bool boolean;            /* "yes"/"no" in the file */
} stat_fields[] = {
#define S(key, field, bit, b) { key, offsetof(struct sa_ksm_stat, field), bit, b }
        S("ksm_rmap_items", rmap_items, SA_KSM_STAT_RMAP_ITEMS, false),
        S("ksm_zero_pages", zero_pages, SA_KSM_STAT_ZERO_PAGES, false),
        S("ksm_merging_pages", merging_pages, SA_KSM_STAT_MERGING, false),
        S("ksm_process_profit", process_profit, SA_KSM_STAT_PROFIT, false),
        S("ksm_merge_any", merge_any, SA_KSM_STAT_MERGE_ANY, true),
        S("ksm_mergeable", mergeable, SA_KSM_STAT_MERGEABLE, true),
#undef S
};

json_object *sa_ksm_stat_json(const struct sa_ksm_stat *s) {
        json_object *o = json_object_new_object();

        for (size_t i = 0; i < ELEMENTSOF(stat_fields); i++) {
                int64_t v = *(const int64_t *) ((const char *) s + stat_fields[i].offset);

                if (!(s->have & stat_fields[i].bit))
                        continue;
                json_object_object_add(o, stat_fields[i].key, stat_fields[i].boolean ? json_object_new_boolean(v > 0)
                                                                                      : json_object_new_int64(v));
        }
        return o;
}

void sa_ksm_stat_from_json(json_object *o, struct sa_ksm_stat *ret) {
        struct sa_ksm_stat s = {};

        for (size_t i = 0; i < ELEMENTSOF(stat_fields); i++) {
                json_object *v;

                if (!json_object_object_get_ex(o, stat_fields[i].key, &v) || !v)
                        continue;
                *(int64_t *) ((char *) &s + stat_fields[i].offset) =
                        stat_fields[i].boolean ? json_object_get_boolean(v) : json_object_get_int64(v);
                s.have |= stat_fields[i].bit;
        }
        *ret = s;
}
