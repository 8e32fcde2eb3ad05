"""Paper-ready prose inputs: `results.tex` (one `\\newcommand` per number the text uses, each with the run
ids behind it in a comment) and `results.md` (one paragraph per finding, with numbers, CIs and an honest
reading, nulls included).

Macro names are letters only (LaTeX control words): digits become words (`B3` -> `Bthree`, a 40 % budget
-> `Budgetforty`, 0.2 -> `zeropointtwo`). Per Table 1 row and metric: `\\<Metric><Row>` (the mean over
runs), `...Std` (std over seeds, two runs or more) or `...Ci` (one run: the 95 % CI half-width over its
evaluation samples). Per paired difference: `\\Delta<Row>Vs<Ref><Metric>` (mean difference, row minus
reference, on the same evaluation samples), `...Lo` / `...Hi` (two-level bootstrap 95 % CI over seeds x
samples), and `\\Delta<Row>Vs<Ref>` for the headline metric (tool-selection acc@1). Ablation sections (eval
runs of selector / planner / timing variants): `\\Abl<Component><Variant><Metric>`; a planning section also
`\\Abl<Component><Variant>VsGreedy<Metric>` (+ Lo / Hi): an LLM planner minus greedy on the same selector, paired.

A method shown in several configurations (an ablation stage in the report) gets one row per configuration, and
so long names (`\\AccSelBthreeBudgetfortyLossRatiozeropointsix`); its main configuration (the row with the most
runs) is also defined under the method's short name (`\\AccSelBthree`, `\\DeltaBthreeVsR`), so prose written
against the main comparison keeps its macro names when ablations are added.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from core.report.aggregate import AblationSection, Cell, Row, main_rows
from core.report.paired import PAIRED_METRICS, Diff, PairedSection, PairedSpec
from core.report.specs import ABLATION_PRIMARY, ABLATION_TASKS, TABLE1_METRICS, MetricSpec
from core.report.tables import HEADER, fmt

METRIC_MACRO = {
    "acc@1": "AccSel", "acc@3": "AccSelThree", "acc@5": "AccSelFive", "mrr": "Mrr", "ndcg@5": "Ndcg",
    "recall@5": "RecallFive", "precision@5": "PrecFive", "all_gold@5": "AllGold",
    "step_validity": "PlanStepVal", "dependency_correctness": "PlanDep", "executability": "PlanExec",
    "plan_token_acc": "PlanTokAcc", "plan_nll": "PlanNll", "node_f1": "PlanNodeF", "edge_f1": "PlanEdgeF",
    "exact_match": "PlanExact", "fallback": "PlanFallback",
    "accuracy": "TimAcc", "precision": "TimPrec", "recall": "TimRecall", "f1": "TimF", "fpr": "TimFpr",
    "timing_margin": "TimMargin", "latency_p50_ms": "LatencyMs",
    "train_seconds": "TrainSec", "samples_used": "Samples", "steps": "TrainSteps",
    "peak_memory_mb": "PeakMem",
    "forgetting": "Forget", "backward_transfer": "Bwt",
}
HEADLINE = "acc@1"
_ONES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
         "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"]
_TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]


def number_words(n: int) -> str:
    """0..999 999 as letters only: 40 -> forty, 125 -> onehundredtwentyfive."""
    if n < 20:
        return _ONES[n]
    if n < 100:
        return _TENS[n // 10] + (_ONES[n % 10] if n % 10 else "")
    if n < 1000:
        return _ONES[n // 100] + "hundred" + (number_words(n % 100) if n % 100 else "")
    return number_words(n // 1000) + "thousand" + (number_words(n % 1000) if n % 1000 else "")


def letters(text: str) -> str:
    """A fragment of a macro name: digit runs become words (a decimal point `point`), everything else that is
    not a letter is dropped; the first letter of each word is capitalised when it followed a separator."""
    out: list[str] = []
    up = True
    for tok in re.findall(r"\d+\.\d+|\d+|[A-Za-z]+|.", text):
        if tok[0].isdigit():
            whole, _, frac = tok.partition(".")
            w = number_words(int(whole)) if len(whole) <= 6 else "".join(_ONES[int(c)] for c in whole)
            if frac:
                w += "point" + "".join(_ONES[int(c)] for c in frac)
            out.append(w)
            up = False
        elif tok.isalpha():
            out.append(tok[0].upper() + tok[1:] if up else tok)
            up = False
        else:
            up = True
    return "".join(out)


def row_macro(key: str) -> str:
    """`A` -> `A`, `B3` -> `Bthree`, `B3@40%` -> `BthreeBudgetforty`, `C@replay_ratio=0.1` ->
    `CReplayRatiozeropointone`."""
    method, _, rest = key.partition("@")
    out = letters(method)
    for part in filter(None, rest.split(",")):
        if "=" in part:
            name, _, val = part.partition("=")
            out += letters(name.replace("_", " ")) + letters(val)
        else:
            out += "Budget" + (letters(part.rstrip("%")) if part != "all" else "All")
    return out


def metric_macro(name: str) -> str:
    if name in METRIC_MACRO:
        return METRIC_MACRO[name]
    if name.startswith("ext/"):
        _, ext, metric = name.split("/", 2)
        return METRIC_MACRO.get(metric, letters(metric)) + "Ext" + letters(ext)
    return letters(name.replace("_", " ").replace("@", " at "))


def tex_number(x: float, decimals: int, *, sign: bool = False) -> str:
    s = fmt(x, decimals)
    if s.startswith("-"):
        return rf"\ensuremath{{-{s[1:]}}}"
    return rf"\ensuremath{{+{s}}}" if sign else s


@dataclass
class Macro:
    name: str
    value: str
    comment: str


class MacroSet:
    """Ordered, unique macro definitions; a name defined twice keeps the first (a comment marks the clash)."""

    def __init__(self) -> None:
        self.items: list[Macro] = []
        self.names: set[str] = set()
        self.clashes: list[str] = []

    def add(self, name: str, value: str, comment: str) -> None:
        assert re.fullmatch(r"[A-Za-z]+", name), name
        if name in self.names:
            self.clashes.append(name)
            return
        self.names.add(name)
        self.items.append(Macro(name, value, comment))

    def render(self) -> list[str]:
        lines = [rf"\newcommand{{\{m.name}}}{{{m.value}}} % {m.comment}" for m in self.items]
        if self.clashes:
            lines.append("% not defined again (same name as an earlier macro): " + " ".join(sorted(set(self.clashes))))
        return lines


def _runs(ids: Sequence[str]) -> str:
    return "runs: " + (" ".join(sorted(set(ids))) if ids else "none")


def _spec_of(metric: str) -> MetricSpec:
    for s in TABLE1_METRICS:
        if s.name == metric:
            return s
    return MetricSpec(metric, metric, "", metric not in ("plan_nll", "fpr", "forgetting"), 3)


def _cell_macros(ms: MacroSet, prefix: str, cell: Cell, spec: MetricSpec, what: str) -> None:
    if cell.mean is None:
        return
    seeds = sorted({s for s in cell.seeds if s is not None})
    ms.add(prefix, tex_number(cell.mean, spec.decimals),
           f"{what}: mean of {cell.n} run(s), seeds {seeds or '?'}; {_runs(cell.run_ids)}")
    if cell.std is not None:
        ms.add(prefix + "Std", tex_number(cell.std, spec.decimals), f"{what}: std over {cell.n} seeds; {_runs(cell.run_ids)}")
    elif cell.n == 1 and cell.ci95[0] is not None:
        ms.add(prefix + "Ci", tex_number(cell.ci95[0], spec.decimals),
               f"{what}: 95 % CI half-width over evaluation samples (one run); {_runs(cell.run_ids)}")


def _diff_macros(ms: MacroSet, prefix: str, d: Diff, spec: PairedSpec, what: str) -> None:
    ids = [r for p in d.run_pairs for r in p]
    ms.add(prefix, tex_number(d.mean, spec.decimals, sign=True),
           f"{what}: mean paired difference over {d.n} samples x {d.seeds} seed(s); {_runs(ids)}")
    if d.boot is not None:
        ms.add(prefix + "Lo", tex_number(d.boot[0], spec.decimals, sign=True), f"{what}: bootstrap 95 % CI low; {_runs(ids)}")
        ms.add(prefix + "Hi", tex_number(d.boot[1], spec.decimals, sign=True), f"{what}: bootstrap 95 % CI high; {_runs(ids)}")




def _names(key: str, aliases: dict[str, str]) -> list[tuple[str, str]]:
    """(macro fragment, comment suffix) for a row: its full name, and its method's letters when it is the
    method's main configuration (a stable name that an ablation added to the report does not rename)."""
    full = row_macro(key)
    if key not in aliases:
        return [(full, "")]
    return [(full, ""), (letters(aliases[key]), f" [alias: {key} is {aliases[key]}'s main configuration, "
                                                f"from the widest comparison]")]


def results_tex(rows: Sequence[Row], pairs: Sequence[PairedSection], sections: Sequence[AblationSection]) -> str:
    ms = MacroSet()
    aliases = main_rows(rows)
    seeds = sorted({s for r in rows for c in r.cells.values() for s in c.seeds if s is not None})
    all_ids = sorted({rid for r in rows for rid in r.run_ids})
    ms.add("NumSeeds", str(len(seeds)), f"distinct training seeds among the Table 1 runs {seeds}; {_runs(all_ids)}")
    ms.add("NumTrainRuns", str(len(all_ids)), f"training runs behind Table 1; {_runs(all_ids)}")
    for r in rows:
        if not r.run_ids:
            continue
        for name, note in _names(r.key, aliases):
            for metric in sorted(r.cells, key=lambda m: (m not in METRIC_MACRO, m)):
                _cell_macros(ms, metric_macro(metric) + name, r.cells[metric], _spec_of(metric),
                             f"{r.label}, {metric}{note}")
    for sec in pairs:
        for pr in sec.rows:
            short = [(row, ref, f"{n1}{n2}") for row, n1 in _names(pr.key, aliases)
                     for ref, n2 in _names(sec.reference, aliases)]
            for row, ref, note in short:
                base = f"Delta{row}Vs{ref}"
                for spec in PAIRED_METRICS:
                    d = pr.diffs.get(spec.key)
                    if d is None:
                        continue
                    what = f"{pr.label} minus {sec.label}, {spec.key}{note}"
                    _diff_macros(ms, base + metric_macro(spec.key), d, spec, what)
                    if spec.key == HEADLINE:
                        _diff_macros(ms, base, d, spec, what + " (headline)")
    for sec in sections:
        comp = letters(sec.component)
        specs = {s.name: s for s in ABLATION_TASKS[sec.task][1]}
        for r in sec.rows:
            for metric, cell in sorted(r.cells.items()):
                spec = specs.get(metric) or _spec_of(metric)
                _cell_macros(ms, f"Abl{comp}{letters(r.key)}{metric_macro(metric)}", cell, spec,
                             f"ablation {sec.task} ({sec.dataset}), {r.key}, {metric}")
        if sec.task == "task_planning":
            metric = ABLATION_PRIMARY["task_planning"]
            cells = {r.key: r.cells[metric] for r in sec.rows if metric in r.cells}
            for key, gkey, pair in greedy_pairs(sec, metric):
                prefix = f"Abl{comp}{letters(key)}VsGreedy{metric_macro(metric)}"
                what = f"ablation {sec.task} ({sec.dataset}), {key} minus {gkey}, {metric}, paired over {pair['n']} samples"
                ids = [*cells[key].run_ids, *cells[gkey].run_ids]
                for suffix, name, v in (("", "mean", "diff"), ("Lo", "95 % CI low", "low"), ("Hi", "95 % CI high", "high")):
                    ms.add(prefix + suffix, tex_number(float(pair[v]), 3, sign=True), f"{what}: {name}; {_runs(ids)}")
    head = [f"% {HEADER}", "% \\input{results.tex} in the preamble or before the prose; every macro names the runs behind it.",
            "% Names: <Metric><Row> mean, ...Std std over seeds, ...Ci one run's 95 % CI half-width;",
            "% Delta<Row>Vs<Ref><Metric> paired difference, ...Lo/...Hi its bootstrap 95 % CI over seeds x samples."]
    return "\n".join([*head, *ms.render()]) + "\n"


# ---- results.md ---------------------------------------------------------------------------------
FINDING_METRICS = ("acc@1", "accuracy", "timing_margin", "executability", "node_f1", "exact_match", "plan_nll")


def _ci_text(d: Diff, spec: PairedSpec) -> str:
    s = f"{fmt_signed(d.mean, spec.decimals)}"
    if d.boot is not None:
        s += f" (95 % CI [{fmt_signed(d.boot[0], spec.decimals)}, {fmt_signed(d.boot[1], spec.decimals)}]"
        s += f", {d.n} samples x {d.seeds} seed{'s' if d.seeds != 1 else ''})"
    return s


def fmt_signed(x: float, decimals: int) -> str:
    s = fmt(x, decimals)
    return s if s.startswith("-") else "+" + s


def _pair_paragraph(sec: PairedSection, pr: object) -> str | None:
    diffs: dict[str, Diff] = pr.diffs  # type: ignore[attr-defined]
    specs = [s for s in PAIRED_METRICS if s.key in FINDING_METRICS and s.key in diffs]
    if not specs:
        return None
    better, worse, null, same = [], [], [], []
    for s in specs:
        d = diffs[s.key]
        text = f"{s.label} {_ci_text(d, s)}"
        if d.boot is not None and d.boot[0] == d.boot[1] == 0.0:
            same.append(s.label)
        elif d.boot is None:
            null.append(text + " (no interval: fewer than two samples)")
        elif d.boot_excludes_zero:
            (better if (d.mean > 0) == s.higher_is_better else worse).append(text)
        else:
            null.append(text)
    label = pr.label  # type: ignore[attr-defined]
    parts = [f"**{label} vs {sec.label}.**"]
    if better:
        parts.append(f"Better beyond noise on {'; '.join(better)}.")
    if worse:
        parts.append(f"Worse beyond noise on {'; '.join(worse)}.")
    if null:
        parts.append(f"No detectable difference (the 95 % CI spans 0: a null result at this sample size, not "
                     f"evidence of equality) on {'; '.join(null)}.")
    if same:
        parts.append(f"Identical on every paired sample (difference exactly 0, e.g. both models give the same "
                     f"answer everywhere): {', '.join(same)}.")
    seeds = max(d.seeds for d in diffs.values())
    if seeds < 2:
        parts.append("One seed: the interval covers evaluation-sample noise only, not training-seed variance.")
    return " ".join(parts)


def _cell_text(cell: Cell | None, decimals: int = 3) -> str:
    if cell is None or cell.mean is None:
        return "n/a"
    sp = cell.spread
    return fmt(cell.mean, decimals) + (f" ± {fmt(sp[0], decimals)} ({sp[1]})" if sp else "")


def results_md(rows: Sequence[Row], pairs: Sequence[PairedSection], sections: Sequence[AblationSection]) -> str:
    live = [r for r in rows if r.run_ids]
    lines = ["# Results", "", f"_{HEADER}_", ""]
    if not live and not sections:
        return "\n".join([*lines, "No completed runs were selected: nothing to report."]) + "\n"
    seeds = sorted({s for r in live for c in r.cells.values() for s in c.seeds if s is not None})
    lines.append(
        f"**Setup.** {len(live)} Table 1 rows from {len({i for r in live for i in r.run_ids})} training runs "
        f"({len(seeds)} seed{'s' if len(seeds) != 1 else ''}: {seeds}). Differences are paired: the same evaluation "
        "samples scored for both models of a seed; the 95 % intervals are percentile bootstraps that resample seeds "
        "and, within each, evaluation samples. Values in results.tex; run ids and configs in runs.json.")
    target = _target_paragraph(live, sections)
    if target:
        lines += ["", target]
    for sec in pairs:
        for pr in sec.rows:
            p = _pair_paragraph(sec, pr)
            if p:
                lines += ["", p]
    cont = [r for r in live if r.key.partition("@")[0] in ("C", "D") and "forgetting" in r.cells]
    if cont:
        parts = [f"{r.label}: forgetting {_cell_text(r.cells.get('forgetting'))}, backward transfer "
                 f"{_cell_text(r.cells.get('backward_transfer'))}" for r in cont]
        lines += ["", "**Continual learning.** " + "; ".join(parts) + ". Forgetting > 0 means accuracy on earlier "
                  "task chunks dropped after later chunks; a spread as large as the mean means the sign is not settled."]
    cost = [r for r in live if "train_seconds" in r.cells and "samples_used" in r.cells]
    a = next((r for r in cost if r.key == "A"), None)
    if cost:
        parts = []
        for r in cost:
            t, n = r.cells["train_seconds"].mean or 0.0, r.cells["samples_used"].mean or 0.0
            rel = f", {t / a.cells['train_seconds'].mean:.0%} of A's time" if a and a.cells["train_seconds"].mean else ""
            mem, steps = r.cells.get("peak_memory_mb"), r.cells.get("steps")
            parts.append(f"{r.key} {n:.0f} samples" + (f" ({steps.mean:.0f} steps)" if steps and steps.mean else "")
                         + f" in {t:.0f} s{rel}" + (f", peak {mem.mean:.0f} MB" if mem and mem.mean else ""))
        lines += ["", "**Cost.** " + "; ".join(parts) + ". Training time only (evaluation and coreset scoring are "
                  "separate); wall-clock times depend on the machine's load."]
    curve = _budget_curve(live)
    if curve:
        lines += ["", curve]
    for sec in sections:
        lines += ["", _ablation_paragraph(sec)]
    return "\n".join(lines) + "\n"


SELECTION_TARGET = 0.95  # the paper's training target: top-1 tool selection accuracy of the trained agent


def _target_paragraph(rows: Sequence[Row], sections: Sequence[AblationSection] = ()) -> str | None:
    """Each row's tool-selection acc@1 against the paper's 95 % target, the gap stated in points."""
    have = [r for r in rows if (c := r.cells.get(HEADLINE)) is not None and c.mean is not None]
    if not have:
        return None
    parts = [f"{r.key} {_cell_text(r.cells[HEADLINE])}: "
             + (f"{(SELECTION_TARGET - (r.cells[HEADLINE].mean or 0)) * 100:.0f} points short"
                if (r.cells[HEADLINE].mean or 0) < SELECTION_TARGET else "meets it") for r in have]
    met = sum((r.cells[HEADLINE].mean or 0) >= SELECTION_TARGET for r in have)
    text = (f"**Against the {SELECTION_TARGET:.0%} tool-selection target** (top-1 accuracy of the trained model over "
            f"the candidates): " + "; ".join(parts) + f". {met} of {len(have)} rows meet it.")
    return text + _retrieval_reference(have, sections)


def _retrieval_reference(have: Sequence[Row], sections: Sequence[AblationSection]) -> str:
    """The same top-1 accuracy of retrieval alone (selector evaluation runs, no trained model), when selected: what
    a trained model has to beat to be worth its training."""
    refs = [(sec, r) for sec in sections if sec.task == "tool_selection" for r in sec.rows
            if (c := r.cells.get(HEADLINE)) is not None and c.mean is not None]
    if not refs:
        return ""
    best_sec, best = max(refs, key=lambda x: x[1].cells[HEADLINE].mean or 0.0)
    top = best.cells[HEADLINE].mean or 0.0
    below = sum((r.cells[HEADLINE].mean or 0) < top for r in have)
    parts = "; ".join(f"{r.key} {_cell_text(r.cells[HEADLINE])} ({sec.dataset}, {sec.n_samples} samples)" for sec, r in refs)
    return (f" For reference, retrieval alone ranks the same kind of candidate lists with no trained model: {parts}. "
            f"{below} of {len(have)} trained rows score below the best of these ({best.key}, {top:.3f}); check that the "
            "split and sample count match the training runs' evaluation before comparing.")


def _budget_curve(rows: Sequence[Row]) -> str | None:
    """The sample-efficiency curve in words: per coreset method, acc@1 and plan NLL by budget."""
    by: dict[str, list[Row]] = {}
    for r in rows:
        m, _, rest = r.key.partition("@")
        if rest and any(p and "=" not in p for p in rest.split(",")):
            by.setdefault(m, []).append(r)
    if not by:
        return None
    parts = []
    for m, rs in sorted(by.items()):
        pts = []
        for r in rs:
            tag = next(p for p in r.key.partition("@")[2].split(",") if "=" not in p)
            pts.append(f"{tag}: acc@1 {_cell_text(r.cells.get('acc@1'))}, plan NLL {_cell_text(r.cells.get('plan_nll'))}")
        parts.append(f"{m} — " + "; ".join(pts))
    return ("**Sample efficiency (coreset budget).** " + " | ".join(parts) + ". Method A is the 100 % point. Budgets "
            "whose ± ranges overlap are not separated by these runs.")


def _planner_and_selector(key: str) -> tuple[str, str | None]:
    """("grounded", "two_stage") from a planning variant key such as `grounded:sage-gemma3-270m [two_stage]`."""
    head, _, sel = key.partition(" [")
    return head.split(":")[0], sel.rstrip("]") or None


def greedy_pairs(sec: AblationSection, metric: str) -> list[tuple[str, str, dict[str, float | int]]]:
    """(LLM planner row, greedy row on the same selector, their paired difference on `metric`) for each LLM planner
    of a planning section that has such a greedy row: the planner's own contribution, retrieval held fixed."""
    rows = {r.key for r in sec.rows if metric in r.cells}
    greedy = {sel: k for k in rows if (pl := _planner_and_selector(k))[0] == "greedy" and (sel := pl[1])}
    out = []
    for key in sorted(rows):
        planner, sel = _planner_and_selector(key)
        if planner != "greedy" and sel in greedy and (pair := sec.paired(key, greedy[sel], metric)) is not None:
            out.append((key, greedy[sel], pair))
    return out


def _versus_greedy(sec: AblationSection, metric: str) -> str:
    parts = []
    for key, _, pair in greedy_pairs(sec, metric):
        planner, sel = _planner_and_selector(key)
        lo, hi = float(pair["low"]), float(pair["high"])
        parts.append(f"{planner} [{sel}] {fmt_signed(float(pair['diff']), 3)} [{fmt_signed(lo, 3)}, {fmt_signed(hi, 3)}]"
                     f" ({'beyond noise' if lo > 0 or hi < 0 else 'inside the noise'})")
    if not parts:
        return ""
    return (" Each LLM planner minus the no-LLM greedy planner on the same selector (paired 95 % CI): "
            + "; ".join(parts) + ".")


def _ablation_paragraph(sec: AblationSection) -> str:
    text = _ablation_ranking(sec)
    if sec.task == "task_planning":
        text += _versus_greedy(sec, ABLATION_PRIMARY["task_planning"])
    return text


def _ablation_ranking(sec: AblationSection) -> str:
    specs = ABLATION_TASKS[sec.task][1]
    present = [sp for sp in specs if sp.name != "latency_p50_ms" and any(sp.name in r.cells for r in sec.rows)]
    present.sort(key=lambda sp: sp.name != ABLATION_PRIMARY.get(sec.task))
    main = present[0] if present else specs[0]
    ranked = sorted((r for r in sec.rows if main.name in r.cells and r.cells[main.name].mean is not None),
                    key=lambda r: r.cells[main.name].mean or 0.0, reverse=main.higher_is_better)
    if not ranked:
        return f"**{sec.component} ablation ({sec.task}, {sec.dataset}).** No variant has {main.name}."
    vals = "; ".join(f"{r.key} {_cell_text(r.cells[main.name])}" for r in ranked)
    best, rest = ranked[0], ranked[1:]
    text = (f"**{sec.component} ablation ({sec.task}, {sec.dataset}, {sec.n_samples} samples).** {main.label}: {vals}. ")
    if rest:
        b, r2 = best.cells[main.name], rest[0].cells[main.name]
        pair = sec.paired(best.key, rest[0].key, main.name)
        if pair is not None:
            lo, hi = float(pair["low"]), float(pair["high"])
            verdict = ("beyond noise" if lo > 0 or hi < 0 else "inside the noise (the 95 % CI spans 0: a null result at "
                       "this sample size, not evidence of equality)")
            return text + (f"{best.key} minus {rest[0].key}, paired over the {pair['n']} samples both scored: "
                           f"{fmt_signed(float(pair['diff']), 3)} [{fmt_signed(lo, 3)}, {fmt_signed(hi, 3)}], "
                           f"{pair['better']} better, {pair['worse']} worse: {verdict}.")
        gap = abs((b.mean or 0) - (r2.mean or 0))
        spread = max((c.spread[0] for c in (b, r2) if c.spread), default=None)
        if spread is None:
            text += (f"{best.key} ranks first by {gap:.3f}; these runs store no spread, so whether the gap exceeds noise "
                     "is not known from this table.")
        elif gap > spread:
            text += f"{best.key} leads by {gap:.3f}, more than the larger spread ({spread:.3f})."
        else:
            text += (f"{best.key} ranks first but by {gap:.3f}, within the spread ({spread:.3f}): no detectable "
                     "difference between the top two.")
    return text
