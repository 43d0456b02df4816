"""Rewrites every multi-line docstring of a Python source as a one-line docstring holding its
summary line, leaving all other text as it is: used by prepare_data.py --short-docstrings.

Why: greedy completions of a function header by a model this small open a docstring and then
loop inside it (the standard library's docstrings run for many lines), so the completion never
gets to code or closes the string. Trained on summary lines only, it closes the docstring and
goes on to the body."""
import ast


def _summary(lines, first, col):
    # The docstring's opening line from its quotes on, and the line after (summary on line 2).
    head = lines[first][col:]
    q = 0
    while q < len(head) and head[q] in "rRuUbB":
        q += 1
    quote = head[q:q + 3]
    if quote not in ('"""', "'''"):
        return None
    text = head[q + 3:].strip()
    if not text and first + 1 < len(lines):
        text = lines[first + 1].strip()
    if not text or quote in text or "\\" in text or text.endswith(quote[0]):
        return None
    return head[:q] + quote + text + quote


def shorten(src):
    try:
        tree = ast.parse(src)
    except SyntaxError:
        return src
    lines = src.splitlines(keepends=True)
    edits = []  # (first line, last line, replacement line), 0-based, inclusive
    for node in ast.walk(tree):
        if not isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        if not node.body or not isinstance(node.body[0], ast.Expr):
            continue
        doc = node.body[0]
        if not (isinstance(doc.value, ast.Constant) and isinstance(doc.value.value, str)):
            continue
        first, last = doc.lineno - 1, doc.end_lineno - 1
        if first == last or lines[first][:doc.col_offset].strip() or lines[last][doc.end_col_offset:].strip():
            continue  # one line already, or shares its lines with other code
        one = _summary(lines, first, doc.col_offset)
        if one is None:
            continue
        edits.append((first, last, lines[first][:doc.col_offset] + one + "\n"))
    for first, last, rep in sorted(edits, reverse=True):
        lines[first:last + 1] = [rep]
    out = "".join(lines)
    try:
        ast.parse(out)
    except SyntaxError:
        return src
    return out
