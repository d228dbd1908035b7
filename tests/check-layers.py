#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Who may include whom (docs/architecture.md, "Layers"):

- nothing in daemon/ or storage/ includes a header of dbus/, without
  exception (the model knows kinds and names, not the bus; dbus/main.c
  assembles bus, model and hypervisor);
- the daemon/*.c files include each other's headers without a cycle: a
  controller asks another through services.h or the kind's read-only
  accessors (<kind>-status.h), never by including its header.  Any cycle
  fails here.

usage: check-layers.py SOURCE_ROOT"""
import os
import re
import sys

INCLUDE = re.compile(r'^#include\s+"([\w./-]+)"', re.M)


def includes(path):
    with open(path) as f:
        return INCLUDE.findall(f.read())


def main(top):
    failures = []
    dbus_headers = {f for f in os.listdir(os.path.join(top, "dbus")) if f.endswith(".h")}
    daemon = os.path.join(top, "daemon")
    for d in ("daemon", "storage", "storage/importer"):
        for f in sorted(os.listdir(os.path.join(top, d))):
            if f.endswith((".c", ".h")):
                bad = sorted(set(includes(os.path.join(top, d, f))) & dbus_headers)
                if bad:
                    failures.append(f"{d}/{f} includes {', '.join(bad)} of dbus/")

    units = {f[:-2] for f in os.listdir(daemon) if f.endswith(".c")}

    # X.c depends on Y.c when it includes Y.h (as tools/structure.py counts)
    graph = {u: {h[:-2] for h in includes(os.path.join(daemon, u + ".c"))} & units - {u} for u in units}

    index, low, stack, on, comps, counter = {}, {}, [], set(), [], [0]

    def strong(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = set()
            while True:
                w = stack.pop()
                on.discard(w)
                comp.add(w)
                if w == v:
                    break
            if len(comp) > 1:
                comps.append(comp)

    sys.setrecursionlimit(10000)
    for v in sorted(units):
        if v not in index:
            strong(v)
    for comp in comps:
        failures.append("include cycle among daemon/ files: " + ", ".join(sorted(comp)) +
                        " (ask through services.h or a kind's accessors)")
    print("1..1")
    if failures:
        print("not ok 1 - layers")
        for f in failures:
            print("# " + f)
        return 1
    print("ok 1 - layers")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
