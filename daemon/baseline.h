/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What each kernel release looked like, kept in baseline.json under the
 * state directory: per release, how many audits ran (conclusive and
 * inconclusive) and which kinds of findings appeared, by signature
 * (finding_signature(): "under-accounted/AnonHugePages/prot_none,thp").
 *
 * When the daemon starts on another release than the one it last ran on,
 * that one becomes the new release's "previous", and from then on every
 * finding signature the new release shows that the previous release's
 * baseline does not have is a regression, remembered (so the metric stays
 * and it is announced once) until the release changes again. A previous
 * release that never completed an audit is no baseline: nothing is a
 * regression against it.
 *
 * The file is rewritten atomically; at most BASELINE_RELEASES_MAX releases
 * (the least recently seen go first) and BASELINE_SIGNATURES_MAX signatures
 * per release are kept, so it stays small.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "smapsaudit.h"

#define BASELINE_FILE "baseline.json"
#define BASELINE_RELEASES_MAX 16u
#define BASELINE_SIGNATURES_MAX 256u
#define SIGNATURE_MAX 160u

typedef struct Baseline Baseline;

/* Loads dir/baseline.json (missing or unreadable: empty, and said so) and
 * records release as the running one; saves when that changed. */
int baseline_open(const char *dir, const char *release, uint64_t now_usec, Baseline **ret);
Baseline *baseline_free(Baseline *b);

const char *baseline_release(const Baseline *b);
/* The release this one is compared with, or NULL. */
const char *baseline_previous(const Baseline *b);
/* The previous release has a baseline worth comparing with (audits ran). */
bool baseline_comparable(const Baseline *b);

void baseline_count_audit(Baseline *b, bool inconclusive, uint64_t now_usec);
/* Counts a new finding of the running release. Returns 1 when its
 * signature is a regression not seen before, else 0; -ENOMEM. */
int baseline_note_finding(Baseline *b, const char *signature, uint64_t now_usec);
size_t baseline_n_regressions(const Baseline *b);
const char *baseline_regression(const Baseline *b, size_t i);

uint64_t baseline_audits(const Baseline *b, const char *release);
/* Whether release's baseline has signature. */
bool baseline_has(const Baseline *b, const char *release, const char *signature);

/* Something that must reach the disk now changed (a release, a new
 * signature, a regression, the first audit). */
bool baseline_dirty(const Baseline *b);
/* Only counts changed since the last save: they go at the end of a sweep. */
bool baseline_changed(const Baseline *b);
int baseline_save(Baseline *b);
