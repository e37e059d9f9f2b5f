#!/usr/bin/env python3
"""Finds import circles between the modules inside each crate of the workspace.

A module is a source file (`lib.rs`/`main.rs` is the crate root, `x/mod.rs` is `x`). Module A
imports B when A names a path into B: `use crate::b::…`, `super::…`, `self::…`, or a path that
starts with one of A's own child modules. A path to an item the crate root only re-exports
(`pub use b::Item;`) counts as a path into `b`, so a root that holds nothing but `mod` and
`pub use` lines is no part of any circle. Declaring a child (`mod b;`) is not an import, and a
test module at the end of a file (`#[cfg(test)] mod …`) is left out.

Prints every circle with its edges and exits 1 when there is one. Usage:
`.ci/import_circles.py [workspace-root]`.
"""
import os
import re
import sys
from glob import glob

TEST_MODULE = re.compile(r"#\[cfg\(test\)\]\s*mod\s+\w+\s*\{")
USE = re.compile(r"\buse\s+([^;]+);")
PUB_USE = re.compile(r"\bpub(?:\([^)]*\))?\s+use\s+([^;]+);")
QUALIFIED = re.compile(r"\b((?:crate|super|self)(?:::\w+)+)")
RELATIVE = re.compile(r"(?<![:\w])(\w+(?:::\w+)+)")


def crate_sources(root):
    """Every folder under `crates/`: its `src/`, or the folder itself for the root package's
    sources (`crates/caseledger`, named from the workspace's own Cargo.toml)."""
    for folder in sorted(glob(os.path.join(root, "crates/*/"))):
        folder = folder.rstrip("/")
        src = os.path.join(folder, "src")
        yield os.path.basename(folder), src if os.path.isdir(src) else folder


def modules_of(src):
    modules = {}
    for folder, _, files in os.walk(src):
        for name in files:
            if not name.endswith(".rs"):
                continue
            path = os.path.join(folder, name)
            parts = os.path.relpath(path, src)[:-3].split(os.sep)
            if parts[-1] in ("lib", "main", "mod"):
                parts = parts[:-1]
            if os.path.basename(folder) == "tests" and "tests" in parts[:-1]:
                continue
            modules[tuple(parts)] = path
    return modules


def code_of(path):
    text = re.sub(r"//[^\n]*", "", open(path, encoding="utf-8").read())
    test_module = TEST_MODULE.search(text)
    return text[: test_module.start()] if test_module else text


def expand(path):
    """`a::{b, c::{d as e}}` → [`a::b`, `a::c::d@e`] (`@` marks a renaming)."""
    path = re.sub(r"\s+", "", re.sub(r"\s+as\s+", " as ", path).replace(" as ", "@"))
    match = re.match(r"^(.*?)::\{(.*)\}$", path)
    if not match:
        return [path]
    prefix, inner = match.groups()
    parts, depth, current = [], 0, ""
    for char in inner:
        depth += (char == "{") - (char == "}")
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return [p for part in parts if part for p in expand(prefix + "::" + part)]


def longest_module(modules, segments):
    for end in range(len(segments), -1, -1):
        if tuple(segments[:end]) in modules:
            return tuple(segments[:end])
    return None


def root_reexports(modules):
    """Item name → the module a `pub use` in the crate root takes it from."""
    if () not in modules:
        return {}
    found = {}
    for statement in PUB_USE.finditer(code_of(modules[()])):
        for path in expand(statement.group(1)):
            path, _, alias = path.partition("@")
            segments = re.sub(r"^(crate|self)::", "", path).split("::")
            target = longest_module(modules, segments)
            if target:
                found[alias or segments[-1]] = target
    return found


def imports_of(module, path, modules, reexports):
    code = code_of(path)
    paths = {p for statement in USE.finditer(code) for p in expand(statement.group(1))}
    paths |= {m.group(1) for m in QUALIFIED.finditer(code)}
    paths |= {m.group(1) for m in RELATIVE.finditer(code)}
    targets = set()
    for text in paths:
        segments = text.split("@")[0].split("::")
        head, rest = segments[0], segments[1:]
        if head == "crate":
            base = []
        elif head == "super":
            base = list(module[:-1])
            while rest and rest[0] == "super":
                base, rest = base[:-1], rest[1:]
        elif head == "self":
            base = list(module)
        elif module + (head,) in modules:
            base, rest = list(module), segments
        else:
            continue
        full = base + rest
        target = longest_module(modules, full)
        if target == () and full and full[0] in reexports:
            target = reexports[full[0]]
        if target is not None and target != module:
            targets.add(target)
    return targets


def circles(edges):
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []
    counter = [0]

    def visit(node):
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for target in sorted(edges[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(10_000)
    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def name(module):
    return "::".join(module) or "(crate root)"


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else "."
    count = 0
    for crate, src in crate_sources(root):
        modules = modules_of(src)
        reexports = root_reexports(modules)
        edges = {m: imports_of(m, p, modules, reexports) for m, p in modules.items()}
        for component in circles(edges):
            count += 1
            print(f"{crate}: an import circle of {len(component)} modules")
            for module in component:
                for target in sorted(edges[module]):
                    if target in component:
                        print(f"    {name(module)} -> {name(target)}")
    if count:
        print(f"{count} import circle(s)")
        return 1
    print("no import circle inside any crate")
    return 0


if __name__ == "__main__":
    sys.exit(main())
