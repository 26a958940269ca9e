#!/usr/bin/env python3
"""Checks that every module under Sources/ imports only from the tiers it may use.

Tiers (Sources/<Tier>/<Module>/...):
  Shims           C shims; each is imported by exactly one foundation module (SHIM_OWNERS)
  Foundations     may import foundations and their own shim
  Steps           one library per tool; may import foundations only (never another step)
  Tools           thin executables; may import steps and foundations
  BenchmarkTools  may import steps and foundations
  Fuzz            libFuzzer targets (scripts/fuzz.sh); may import steps (readers of their own files, such as
                  Scoring's score.json) and foundations
Modules that are not Facet's own (Foundation, Glibc, GRDB, ArgumentParser, ...) are not checked here;
Also checks that Package.swift declares, for each target, exactly the Facet modules (and GRDB/ArgumentParser)
its sources import (SwiftPM's `--explicit-target-dependency-import-check error`, used by `make build`, only
catches imports of modules outside a target's dependency closure).
Exits 1 and names each offending file and import.
"""
import os
import re
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Sources")
SHIM_OWNERS = {"CFFmpeg": "Media", "COpenBLAS": "Tensor", "CKernels": "Tensor"}
MAY_IMPORT = {
    "Shims": set(),
    "Foundations": {"Foundations"},
    "Steps": {"Foundations"},
    "Tools": {"Steps", "Foundations"},
    "BenchmarkTools": {"Steps", "Foundations"},
    "Fuzz": {"Steps", "Foundations"},
}
IMPORT = re.compile(r"^\s*(?:@[\w()]+\s+)*(?:public\s+|internal\s+|private\s+|fileprivate\s+)?import\s+(?:class\s+|struct\s+|enum\s+|func\s+|var\s+|let\s+|protocol\s+|typealias\s+)?([A-Za-z_][\w]*)", re.M)


def main() -> int:
    tier_of = {}
    for tier in os.listdir(ROOT):
        path = os.path.join(ROOT, tier)
        if not os.path.isdir(path):
            continue
        if tier not in MAY_IMPORT:
            print(f"check-imports: Sources/{tier}: not a known tier ({', '.join(MAY_IMPORT)})")
            return 1
        for module in os.listdir(path):
            if os.path.isdir(os.path.join(path, module)):
                tier_of[module.replace("-", "_")] = tier
    problems = []
    for module_dir_tier, allowed in MAY_IMPORT.items():
        tier_path = os.path.join(ROOT, module_dir_tier)
        if not os.path.isdir(tier_path):
            continue
        for module in sorted(os.listdir(tier_path)):
            for dirpath, _, files in os.walk(os.path.join(tier_path, module)):
                for name in sorted(files):
                    if not name.endswith(".swift"):
                        continue
                    file = os.path.join(dirpath, name)
                    with open(file, encoding="utf-8") as f:
                        text = f.read()
                    for imported in IMPORT.findall(text):
                        tier = tier_of.get(imported)
                        if tier is None or imported == module.replace("-", "_"):
                            continue
                        rel = os.path.relpath(file, os.path.join(ROOT, ".."))
                        if tier == "Shims":
                            if SHIM_OWNERS.get(imported) != module:
                                problems.append(f"{rel}: imports shim {imported}, which only {SHIM_OWNERS.get(imported, '?')} may import")
                        elif tier not in allowed:
                            problems.append(f"{rel}: {module_dir_tier[:-1] if module_dir_tier.endswith('s') else module_dir_tier} "
                                            f"module {module} imports {tier[:-1]} module {imported} (allowed: {', '.join(sorted(allowed)) or 'none'})")
    problems += declaration_problems(tier_of)
    for p in problems:
        print(f"check-imports: {p}")
    if problems:
        print(f"check-imports: {len(problems)} problem(s): imports against the tiers or Package.swift (see its header)")
        return 1
    print(f"check-imports: {len(tier_of)} modules, every import points down a tier")
    return 0


# Package.swift's helper calls: foundation("Name", [deps]...), step(...), tool(...), benchmarkTool(...).
DECLARATION = re.compile(r'\b(foundation|step|tool|benchmarkTool)\(\s*"([^"]+)"\s*,\s*\[([^\]]*)\]')
# Package.swift's names for products of other packages, and what tool()/benchmarkTool() add to every target.
EXTERNAL = {"argumentParser": "ArgumentParser", "grdb": "GRDB", "crypto": "Crypto"}
IMPLICIT = {"tool": {"ArgumentParser"}, "benchmarkTool": {"ArgumentParser"}, "foundation": set(), "step": set()}


def declaration_problems(tier_of):
    """Each target's direct dependencies in Package.swift must be exactly the Facet modules (and GRDB /
    ArgumentParser) its sources import: nothing used through another target, nothing declared and unused."""
    with open(os.path.join(ROOT, "..", "Package.swift"), encoding="utf-8") as f:
        manifest = f.read()
    problems = []
    checked = set(tier_of) | set(EXTERNAL.values())
    for kind, name, deps in DECLARATION.findall(manifest):
        declared = set()
        for dep in (d.strip() for d in deps.split(",") if d.strip()):
            declared.add(dep.strip('"') if dep.startswith('"') else EXTERNAL.get(dep, dep))
        declared = {d.replace("-", "_") for d in declared}
        module = name.replace("-", "_")
        tier = tier_of.get(module)
        if tier is None:
            problems.append(f"Package.swift: {kind}(\"{name}\") has no folder under Sources/")
            continue
        imported = set()
        for dirpath, _, files in os.walk(os.path.join(ROOT, tier, name)):
            for file in files:
                if file.endswith(".swift"):
                    with open(os.path.join(dirpath, file), encoding="utf-8") as f:
                        imported |= {m for m in IMPORT.findall(f.read()) if m in checked and m != module}
        for missing in sorted(imported - declared - IMPLICIT[kind]):
            problems.append(f"Package.swift: {name} imports {missing} without declaring it")
        for unused in sorted(declared - imported):
            problems.append(f"Package.swift: {name} declares {unused} but imports it nowhere")
    return problems


if __name__ == "__main__":
    sys.exit(main())
