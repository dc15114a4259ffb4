/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* 64-bit FNV-1a: a cheap hash for telling values apart, not against an adversary. Start with
 * FNV1A_64_INIT and feed each piece in turn. */
#define FNV1A_64_INIT UINT64_C(0xcbf29ce484222325)

uint64_t fnv1a_64(uint64_t h, const void *data, size_t size);
