#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""What the top-level meson.build asks of every binary we ship, checked on the built ones
(smapsaudit, smapsauditd, libsmapsaudit.so) with readelf, as checksec would:

  b_pie=true                        executables are ELF type DYN with FLAGS_1 PIE
  -Wl,-z,relro                      a GNU_RELRO segment
  -Wl,-z,now                        BIND_NOW (FLAGS BIND_NOW or FLAGS_1 NOW)
  -fstack-protector-strong          __stack_chk_fail is called; the flag is on every compile
  -D_FORTIFY_SOURCE=3               __*_chk functions are called; the flag is on every compile
                                    (not in debug builds, -O0, or under AddressSanitizer: the
                                    meson.build leaves it out there)
and what no one asked for but must not creep in: no executable stack, no text relocations.
The compile flags come from the build's compile_commands.json."""

import json
import os
import re
import shutil
import subprocess
import sys
import unittest

import robust


def readelf(*args):
    r = subprocess.run(["readelf", "-W", *args], capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise AssertionError(f"readelf {' '.join(args)}: {r.stderr}")
    return r.stdout


def targets():
    out = {"smapsaudit": (robust.env_path("SMAPSAUDIT"), True),
           "libsmapsaudit.so": (robust.env_path("LIBSMAPSAUDIT"), False)}
    daemon = robust.env_path("SMAPSAUDITD", required=False)
    if daemon:
        out["smapsauditd"] = (daemon, True)
    return out


def fortify_expected():
    return (os.environ.get("BUILD_BUILDTYPE") != "debug" and os.environ.get("BUILD_OPTIMIZATION") not in ("0", "plain")
            and "address" not in os.environ.get("BUILD_SANITIZE", ""))


class Hardening(unittest.TestCase):
    def test_binaries(self):
        rows = []
        for name, (path, executable) in targets().items():
            with self.subTest(binary=name):
                header = readelf("-h", path)
                dynamic = readelf("-d", path)
                segments = readelf("-l", path)
                symbols = readelf("--dyn-syms", path)
                elf_type = re.search(r"Type:\s+(\w+)", header).group(1)
                flags = " ".join(re.findall(r"\((?:FLAGS|FLAGS_1)\)\s+(?:Flags: )?(.*)", dynamic))
                pie = elf_type == "DYN" and (not executable or "PIE" in flags)
                relro = "GNU_RELRO" in segments
                now = "BIND_NOW" in flags or re.search(r"\bNOW\b", flags) is not None
                canary = "__stack_chk_fail" in symbols
                chk = sorted(set(re.findall(r"\b(__\w+_chk)\b", symbols)) - {"__stack_chk_fail"})
                stack = re.search(r"GNU_STACK\s+\S+\s+\S+\s+\S+\s+\S+\s+\S+\s+(\S+)", segments)
                textrel = "TEXTREL" in dynamic
                rows.append(f"{name}: {elf_type}{' PIE' if pie and executable else ''}, RELRO {'yes' if relro else 'no'}, "
                            f"BIND_NOW {'yes' if now else 'no'}, canary {'yes' if canary else 'no'}, "
                            f"FORTIFY {len(chk)} __*_chk ({', '.join(chk[:5])}{', ...' if len(chk) > 5 else ''}), "
                            f"stack {stack.group(1) if stack else '?'}, TEXTREL {'yes' if textrel else 'no'}")
                if executable and os.environ.get("BUILD_PIE", "1") == "1":
                    self.assertTrue(pie, f"{name}: type {elf_type}, flags {flags}: not PIE")
                self.assertTrue(relro, f"{name}: no GNU_RELRO segment")
                self.assertTrue(now, f"{name}: no BIND_NOW (flags: {flags})")
                self.assertTrue(canary, f"{name}: no call to __stack_chk_fail")
                if fortify_expected():
                    self.assertTrue(chk, f"{name}: no __*_chk function: not built with _FORTIFY_SOURCE")
                self.assertTrue(stack and "E" not in stack.group(1), f"{name}: executable stack")
                self.assertFalse(textrel, f"{name}: text relocations")
        print("\n".join(rows))

    def test_compile_flags(self):
        path = os.path.join(os.environ.get("BUILD_ROOT", ""), "compile_commands.json")
        if not os.path.exists(path):
            self.skipTest(f"no {path}")
        with open(path) as f:
            commands = json.load(f)
        ours = [c for c in commands if re.search(r"(^|/)(lib|cli|daemon)/[^/]+\.c$", c["file"])]
        self.assertTrue(ours, "no lib/, cli/ or daemon/ source in compile_commands.json")
        fortify = fortify_expected()
        for c in ours:
            cmd = c.get("command") or " ".join(c.get("arguments", []))
            with self.subTest(file=c["file"]):
                self.assertIn("-fstack-protector-strong", cmd)
                self.assertRegex(cmd, r"-fPI[CE]")
                defines = re.findall(r"-D_FORTIFY_SOURCE=(\d)", cmd)
                if fortify:
                    self.assertEqual(defines[-1:], ["3"], f"{c['file']}: _FORTIFY_SOURCE {defines}")
        print(f"compile flags: {len(ours)} lib/cli/daemon compiles with -fstack-protector-strong, -fPIC/-fPIE"
              + (", -D_FORTIFY_SOURCE=3" if fortify else " (no FORTIFY: debug, -O0 or sanitizer build)"))


if __name__ == "__main__":
    if not shutil.which("readelf"):
        print("SKIP: no readelf (binutils)")
        sys.exit(77)
    robust.main()
