/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The report's JSON conventions, for every document the library writes and reads (json-util.c). */
#pragma once

#include <stdint.h>

#include "sources.h"

struct json_object;
struct json_object *sa_json_hex(uint64_t v);
struct json_object *sa_json_tags(unsigned tags);
struct json_object *sa_json_u64(uint64_t v);
void sa_json_add_u64(struct json_object *o, const char *k, uint64_t v);
/* Adds v under a key o does not have yet, one that lives as long as o (a literal, a field's name). */
void sa_json_put(struct json_object *o, const char *static_key, struct json_object *v);
/* ksm_stat under the kernel's names, with the lines it had, and back. */
struct json_object *sa_ksm_stat_json(const struct sa_ksm_stat *s);
void sa_ksm_stat_from_json(struct json_object *o, struct sa_ksm_stat *ret);
