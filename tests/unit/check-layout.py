#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A source tree's files depend on each other one way (TAP): lib/, and daemon/.

1. Header names are unique across the tree's folders: files include them by bare name.
2. No #include cycle among the tree's files.
3. No cycle of calls between the tree's source files: what one file's object
   leaves undefined and another's defines is an edge (nm on the static archives
   that hold the tree's objects).

usage: check-layout.py DIR ARCHIVE...
"""

import collections
import pathlib
import re
import subprocess
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def cycles(graph):
    """The strongly connected components of more than one node, and self-loops (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1 or v in graph.get(v, ()):
                found.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def edges_within(graph, comp):
    return ['%s -> %s' % (a, b) for a in comp for b in sorted(graph.get(a, ())) if b in comp]


class Tap:
    def __init__(self):
        self.n = 0
        self.failed = 0

    def ok(self, cond, what, diag=()):
        self.n += 1
        print('%sok %d - %s' % ('' if cond else 'not ', self.n, what))
        for line in diag:
            print('# ' + line)
        self.failed += not cond


def main():
    top, archives = pathlib.Path(sys.argv[1]), sys.argv[2:]
    tree = top.name + '/'
    tap = Tap()
    files = sorted(p for p in top.rglob('*') if p.suffix in ('.c', '.h'))

    by_name = collections.defaultdict(list)
    for p in files:
        by_name[p.name].append(p.relative_to(top))
    same = ['%s: %s' % (n, ' '.join(map(str, ps))) for n, ps in by_name.items() if len(ps) > 1]
    tap.ok(not same, 'every file name in %s is unique' % tree, same)

    includes = {}
    for p in files:
        names = INCLUDE.findall(p.read_text())
        includes[str(p.relative_to(top))] = sorted(str(by_name[n][0]) for n in names if n in by_name)
    found = cycles(includes)
    diag = [line for comp in found for line in ['cycle: ' + ' '.join(comp)] + edges_within(includes, comp)]
    tap.ok(not found, 'no #include cycle among %d files' % len(files), diag)

    out = subprocess.run(['nm', '-A'] + archives, check=True, capture_output=True, text=True).stdout
    defined, undefined = {}, collections.defaultdict(set)
    for line in out.splitlines():
        m = re.match(r'[^:]*:([^:]+\.o):\s*(?:[0-9a-f]+)?\s+(\w)\s+(\S+)$', line)
        if not m:
            continue
        member, kind, sym = m.groups()
        # meson names a member after its path below lib/, '/' as '_': walk/walk.c -> walk_walk.c.o;
        # a thin archive lists it with its directory
        member = member.rsplit('/', 1)[-1][:-len('.o')]
        if kind in 'TDRB':
            defined[sym] = member
        elif kind == 'U':
            undefined[member].add(sym)
    calls = {m: sorted({defined[s] for s in syms if s in defined and defined[s] != m})
             for m, syms in undefined.items()}
    tap.ok(len(calls) >= 10, 'nm read %d objects of %s' % (len(calls), ' '.join(archives)))
    found = cycles(calls)
    diag = [line for comp in found for line in ['cycle: ' + ' '.join(comp)] + edges_within(calls, comp)]
    tap.ok(not found, 'no cycle of calls between %s\'s source files' % tree, diag)

    print('1..%d' % tap.n)
    return 1 if tap.failed else 0


if __name__ == '__main__':
    sys.exit(main())
