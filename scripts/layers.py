#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The driver's structure check (`make check`): prints which unit of drbd_rs/ imports which,
and fails if the units import each other in a circle other than the ones allowed, or if a
driver file grows over the line limit.

A unit is a top-level file with its folder (`device.rs` + `device/`), or one file of a
namespace folder (`net/receiver.rs`); `core/` and `sys/` count as one unit each. Imports are
the `crate::` paths a file names (comments excluded) and `super::` paths from a namespace's
children. Usage: layers.py [--allow a,b,c]... [--max-lines N] [DIR]
"""
import glob
import os
import re
import sys

NAMESPACES = {"io", "net", "sync", "control"}


def unit_of(mod):
    parts = mod.split("::")
    if parts[0] in ("core", "sys"):
        return parts[0]
    if parts[0] in NAMESPACES and len(parts) > 1:
        return "::".join(parts[:2])
    return parts[0]


def main(argv):
    allowed, max_lines, root = [], 1250, "drbd_rs"
    args = iter(argv)
    for a in args:
        if a == "--allow":
            allowed.append(sorted(next(args).split(",")))
        elif a == "--max-lines":
            max_lines = int(next(args))
        else:
            root = a
    files = glob.glob(os.path.join(root, "**", "*.rs"), recursive=True)
    mods = {}
    for f in files:
        p = os.path.relpath(f, root)[:-3]
        if p.endswith("/mod"):
            p = p[:-4]
        mods[p.replace("/", "::")] = f
    mods.pop("drbd", None)
    names = sorted(mods, key=len, reverse=True)
    graph = {}
    too_long = []
    for mod, f in mods.items():
        text = open(f).read()
        n = text.count("\n")
        if n > max_lines:
            too_long.append((f, n))
        src = re.sub(r"//.*", "", text)
        deps = set()
        for hit in re.finditer(r"crate::((?:\w+::)*\w+)", src):
            path = hit.group(1).replace("drbd_core", "core")
            for name in names:
                if path == name or path.startswith(name + "::"):
                    deps.add(name)
                    break
        parent = mod.rsplit("::", 1)[0] if "::" in mod else ""
        if parent:
            for hit in re.finditer(r"\bsuper::\{?([\w:, *]+)", src):
                for item in hit.group(1).split(","):
                    first = item.strip().split("::")[0]
                    sib = parent + "::" + first
                    deps.add(sib if sib in mods else parent)
        u = unit_of(mod)
        graph.setdefault(u, set()).update(unit_of(d) for d in deps if unit_of(d) != u)
    for u in sorted(graph):
        print(f"{u}: {' '.join(sorted(graph[u]))}")
    index, low, stack, on, cycles, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in graph:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    bad = [c for c in cycles if c not in allowed]
    for c in cycles:
        print(f"import circle: {' <-> '.join(c)}{'' if c in allowed else '  (not allowed)'}")
    for f, n in too_long:
        print(f"too long: {f} has {n} lines (limit {max_lines})")
    if not cycles:
        print("import circles: none")
    return 1 if bad or too_long else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
