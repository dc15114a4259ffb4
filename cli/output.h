/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * How output reaches a person or a script: colours only on a terminal,
 * long output through a pager as systemctl does, JSON in the form --json
 * asked for.
 */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>
#include <sys/types.h>

/* Decided once, before a pager takes standard output over. */
bool output_color(void);

/* Starts the pager when standard output is a terminal and --no-pager was not
 * given: $SYSTEMD_PAGER, else $PAGER, else less (LESS=$SYSTEMD_LESS or
 * "FRSXMK"), else more; "" or "cat" means none. Idempotent; the pager is
 * waited for at exit. */
void pager_open(void);
bool pager_active(void);

/* Prints o as --json says (short: one line, pretty: indented) and a newline. */
int output_json(struct json_object *o);
/* The same for JSON text from the daemon or the library: parsed, so that it
 * comes out in the form asked for whatever form it came in. */
int output_json_text(const char *text);
/*
 * With --json, every outcome is a JSON document on stdout, a failure too: the
 * schema's object with what is known (pid > 0 and verdict only when given) and
 * an "error", as the library's own report of a process that exited says it.
 */
void output_json_failure(const char *schema, pid_t pid, const char *verdict, const char *msg);
