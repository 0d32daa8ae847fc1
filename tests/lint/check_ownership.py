#!/usr/bin/env python3
"""Check that every public declaration says who owns what.

Every PS_API declaration in include/proxystore/ must have a doc comment (the
comment right above it, or above a run of PS_API declarations it shares) that
holds an "Ownership:" line, using the words of the rules at the top of
include/proxystore/proxystore.h (new, borrowed, takes, copied, static).

    check_ownership.py [ROOT]    exit 0 when every declaration has one,
                                 1 with the list of those that do not
"""
import os
import re
import sys


def items(text):
    """The header as a list of (kind, text, line): comment, decl, other."""
    out = []
    pos, n = 0, len(text)
    while pos < n:
        if text[pos].isspace():
            pos += 1
            continue
        line = text.count("\n", 0, pos) + 1
        if text.startswith("/*", pos):
            end = text.find("*/", pos + 2)
            end = n if end < 0 else end + 2
            out.append(("comment", text[pos:end], line))
        elif text.startswith("//", pos):
            end = text.find("\n", pos)
            end = n if end < 0 else end
            out.append(("comment", text[pos:end], line))
        elif text[pos] == "#":  # a preprocessor line, with its continuations
            end = pos
            while True:
                nl = text.find("\n", end)
                if nl < 0:
                    end = n
                    break
                if text[nl - 1] != "\\":
                    end = nl
                    break
                end = nl + 1
            out.append(("other", text[pos:end], line))
        elif re.match(r"PS_API\b", text[pos:pos + 7]):
            end = text.find(";", pos)
            end = n if end < 0 else end + 1
            out.append(("decl", text[pos:end], line))
        else:  # anything else ends a run of declarations: consume one line
            end = text.find("\n", pos)
            end = n if end < 0 else end
            out.append(("other", text[pos:end], line))
        pos = end
    return out


def name_of(decl):
    m = re.search(r"(\w+)\s*\(", decl)
    return m.group(1) if m else decl.split()[-1].rstrip(";")


def check_file(path, rel):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    problems = []
    its = items(text)
    for i, (kind, body, line) in enumerate(its):
        if kind != "decl":
            continue
        j = i - 1
        while j >= 0 and its[j][0] == "decl":
            j -= 1
        doc = its[j][1] if j >= 0 and its[j][0] == "comment" else None
        if doc is None:
            problems.append(f"{rel}:{line}: {name_of(body)}: no doc comment")
        elif "Ownership:" not in doc:
            problems.append(f"{rel}:{line}: {name_of(body)}: doc comment has no \"Ownership:\" line")
    return problems


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..")
    inc = os.path.join(root, "include", "proxystore")
    problems, count = [], 0
    for d, _, names in sorted(os.walk(inc)):
        for name in sorted(names):
            if not name.endswith(".h"):
                continue
            path = os.path.join(d, name)
            rel = os.path.relpath(path, root)
            with open(path, encoding="utf-8") as f:
                count += sum(1 for k, _, _ in items(f.read()) if k == "decl")
            problems += check_file(path, rel)
    if problems:
        print("\n".join(problems))
        print(f"{len(problems)} of {count} PS_API declaration(s) do not say who owns what "
              "(add an \"Ownership:\" line to the doc comment; the words are in proxystore.h)")
        return 1
    print(f"ownership: all {count} PS_API declarations have an Ownership line")
    return 0


if __name__ == "__main__":
    sys.exit(main())
