#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A private read-only file mapping whose every page has been read: page cache, not anonymous."""

import contextlib
import os

import harness


class FileMapping(harness.AuditTestCase):
    def test_file(self):
        with contextlib.ExitStack() as stack:
            w = self.start(stack, "file")
            stack.callback(lambda: os.path.exists(w.truth["path"]) and os.unlink(w.truth["path"]))
            if w.truth["tmpfs"]:
                self.skipTest(f"{w.truth['path']} is on tmpfs: its pages are shmem, not file pages")
            (region,) = w.truth["regions"]
            for tier in ((), ("--fast",)):
                # the fast tier's scan must still ask which pages are page cache here (a file mapping)
                report = self.assertConsistent(harness.check(w.pid, *tier), w.pid)
                expect = {k: v for k, v in region["expect"].items() if not (tier and k == "Pss")}
                self.assertRegion(report, region, expect=expect, tags=("file",), not_tags=("shmem", "prot_none"),
                                  context=f"{tier or 'full'}: ")


if __name__ == "__main__":
    harness.main()
