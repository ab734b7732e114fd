#!/usr/bin/env python3
"""Fails when a file includes a layer its folder does not build on.

usage: check_layering.py SOURCE_DIR LAYERING_FILE

LAYERING_FILE (written by CMakeLists.txt's sluice_concern()) has one line per agent/ concern:
"proxy: audit common config ...". A file in agent/<concern>/ may include its own concern, the
concerns listed for it, and policy/; policy/ may include nothing from agent/.
"""
import pathlib
import re
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s+"(agent|policy)/([A-Za-z0-9_]+)/?', re.MULTILINE)


def main() -> int:
    source = pathlib.Path(sys.argv[1])
    allowed = {}
    for line in pathlib.Path(sys.argv[2]).read_text().splitlines():
        concern, _, deps = line.partition(":")
        allowed[concern.strip()] = set(deps.split())
    problems = []
    for path in sorted(source.glob("agent/*/*")) + sorted(source.glob("policy/**/*")):
        if path.suffix not in (".h", ".cpp"):
            continue
        relative = path.relative_to(source)
        layer, concern = relative.parts[0], relative.parts[1]
        for kind, target in INCLUDE.findall(path.read_text()):
            if kind == "policy":
                continue
            if layer == "policy":
                problems.append(f"{relative}: policy/ includes agent/{target}/ (policy/ has no I/O and no agent code)")
            elif concern not in allowed:
                problems.append(f"{relative}: agent/{concern}/ is not declared with sluice_concern()")
            elif target != concern and target not in allowed[concern]:
                problems.append(f"{relative}: includes agent/{target}/, which agent/{concern}/ does not list "
                                f"(sluice_concern({concern} DEPENDS {' '.join(sorted(allowed[concern]))}))")
    for problem in problems:
        print(problem)
    print(f"layering: {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
