"""A pure-Python syntax check of the LaTeX the report writes (no TeX installation needed): balanced braces,
matching \\begin/\\end, only known control words (the ones the tables use, plus those the file defines with
\\newcommand), tabular rows with the declared number of columns, and valid macro names. It catches what a
generator bug produces; a real `pdflatex` build (tests/test_report_paper.py, when TeX is installed) is the
stronger check."""

from __future__ import annotations

import re

KNOWN = {
    "begin", "end", "toprule", "midrule", "bottomrule", "cmidrule", "multicolumn", "textbf", "caption", "label",
    "centering", "small", "footnotesize", "pm", "uparrow", "downarrow", "newcommand", "ensuremath", "resizebox",
    "linewidth", "textwidth", "textbackslash", "textasciitilde", "textasciicircum", "input", "usepackage",
    "documentclass",
}
ENVIRONMENTS = {"table", "table*", "tabular", "document", "center"}
_CTRL = re.compile(r"\\([A-Za-z]+|.)")


def _strip_comments(text: str) -> str:
    out = []
    for line in text.splitlines():
        m = re.search(r"(?<!\\)%", line)
        out.append(line[: m.start()] if m else line)
    return "\n".join(out)


def check_tex(text: str, *, extra_known: set[str] | frozenset[str] = frozenset()) -> list[str]:
    """Problems found (empty when the text passes)."""
    problems: list[str] = []
    body = _strip_comments(text)
    defined = set(re.findall(r"\\newcommand\{\\([^}]*)\}", body))
    for name in defined:
        if not re.fullmatch(r"[A-Za-z]+", name):
            problems.append(f"macro name \\{name} is not letters only")
    counts: dict[str, int] = {}
    for name in re.findall(r"\\newcommand\{\\([A-Za-z]+)\}", body):
        counts[name] = counts.get(name, 0) + 1
    problems += [f"\\{n} defined {c} times" for n, c in sorted(counts.items()) if c > 1]
    depth = 0
    for lineno, line in enumerate(body.splitlines(), start=1):
        i = 0
        while i < len(line):
            ch = line[i]
            if ch == "\\":
                i += 2
                continue
            if ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
                if depth < 0:
                    problems.append(f"line {lineno}: unbalanced closing brace")
                    depth = 0
            i += 1
    if depth:
        problems.append(f"{depth} unclosed brace(s) at the end")
    known = KNOWN | defined | set(extra_known)
    for m in _CTRL.finditer(body):
        word = m.group(1)
        if word.isalpha() and word not in known:
            problems.append(f"unknown control word \\{word}")
    stack: list[str] = []
    for kind, env in re.findall(r"\\(begin|end)\{([^}]*)\}", body):
        if env not in ENVIRONMENTS:
            problems.append(f"unknown environment {env!r}")
        if kind == "begin":
            stack.append(env)
        elif not stack or stack.pop() != env:
            problems.append(f"\\end{{{env}}} without a matching \\begin")
    problems += [f"\\begin{{{e}}} never ended" for e in stack]
    problems += _check_tabulars(body)
    return problems


def _check_tabulars(body: str) -> list[str]:
    """Every row of a tabular has as many cells as the column spec declares (\\multicolumn{n} counts n)."""
    problems = []
    for m in re.finditer(r"\\begin\{tabular\}\{([^}]*)\}(.*?)\\end\{tabular\}", body, re.S):
        ncols = len(re.findall(r"[lrcp]", m.group(1)))
        for row in re.split(r"\\\\", m.group(2)):
            row = re.sub(r"\\(toprule|midrule|bottomrule)|\\cmidrule\([a-z]*\)\{[^}]*\}", "", row).strip()
            if not row:
                continue
            cells = re.split(r"(?<!\\)&", row)
            width = sum(int(mc.group(1)) if (mc := re.match(r"\s*\\multicolumn\{(\d+)\}", c)) else 1 for c in cells)
            if width != ncols:
                problems.append(f"tabular row with {width} cells, spec has {ncols}: {row[:60]!r}")
    return problems
