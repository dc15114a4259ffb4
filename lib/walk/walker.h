/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The walker's state, shared by walk.c (the walker, PAGEMAP_SCAN and the
 * order of the walk) and walk-batch.c (pagemap read into batches of pages,
 * handed on joined). Private to walk/.
 */
#pragma once

#include "missing.h"
#include "walk.h"

#define BATCH 32768u                   /* entries; 256 KiB of pagemap, 128 MiB of address space */
#define REGIONS 1024u
#define PMD_SPAN (SA_PMD_PAGES * SA_PAGE_SIZE)

struct sa_walker {
        struct smapsaudit_ctx *ctx;
        pid_t pid;
        int pagemap_fd;
        unsigned flags;
        int scan;                      /* -1 untested, 0 no, 1 yes */
        uint64_t scan_return_mask;
        bool pfns;
        bool kpage;
        bool skip_exclusive_anon;      /* for the range being walked */
        bool pmd_folios;               /* for the range being walked */
        bool anon_only;                /* for the range being walked */
        struct sa_page *batch;
        size_t n_batch;
        size_t n_folios;               /* pmd_folio entries in the batch */
        uint64_t *pme;
        struct page_region *regions;
        /*
         * sa_walker_scan_ahead(): the regions of a window [window_start,
         * ahead_end) of small VMAs, [ahead_start, ahead_end) still to be
         * walked, and the window's pagemap, read once for all of them.
         */
        struct page_region *ahead;
        size_t n_ahead, next_ahead;
        uint64_t window_start, ahead_start, ahead_end;
        uint64_t *window_pme;
        bool window_pme_read;
        bool in_window;                /* the range being walked is the window's */
        struct sa_walk_stats stats;
};

/* walk-batch.c */
int sa_walk_flush(struct sa_walker *w, sa_walk_batch_fn fn, void *userdata);
/* pagemap entries of [start, start + n pages) into w->pme, from the window's read where it has them */
int sa_walk_read_pagemap(struct sa_walker *w, uint64_t start, size_t n);
/* Reads the pagemap of a populated piece and queues its entries. */
int sa_walk_queue_piece(struct sa_walker *w, uint64_t start, uint64_t end, uint64_t cats, bool only_populated,
                        sa_walk_batch_fn fn, void *userdata);
/* A region PAGEMAP_SCAN found: as one entry in the fast tier, else its pages. */
int sa_walk_queue_found(struct sa_walker *w, const struct page_region *rg, sa_walk_batch_fn fn, void *userdata);
