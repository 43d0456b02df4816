"""Cuts greedy completions of function headers at the end of the function and parses them:
python3 parse_completions.py COMPLETIONS.json [--show]

COMPLETIONS.json: [{"header": "def f(x):", "completion": "...", "hit_limit": bool}]. The function
is the header plus the completion up to (not including) the first non-blank line that starts at
column 0, i.e. returns to module level. When generation stopped at its token limit before any
such line, the last, unfinished line is dropped. Prints one line per function with --show, and
the number that Python's ast module parses as the last line."""
import ast
import json
import sys


def cut(header, completion, hit_limit):
    lines = completion.split("\n")
    body = []
    for i, line in enumerate(lines):
        # The first line continues the header's line (normally empty: the prompt ends in "\n").
        if i > 0 and line.strip() and not line[0].isspace():
            return header + "\n" + "\n".join(body) + "\n"
        body.append(line)
    if hit_limit and len(body) > 1:
        body = body[:-1]
    return header + "\n" + "\n".join(body) + "\n"


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        items = json.load(f)
    show = "--show" in sys.argv
    n_ok = 0
    for it in items:
        src = cut(it["header"], it["completion"], it.get("hit_limit", False))
        try:
            ast.parse(src)
            ok = True
        except SyntaxError:
            ok = False
        n_ok += ok
        if show:
            print(("OK  " if ok else "BAD ") + "-" * 60)
            print(src)
    print(n_ok)


main()
