"""`sage-tui data build|validate|stats`: the bundled catalog and datasets."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sage_tui.commands._common import CatalogOption, JsonOption, err, handle_errors, out, print_json

data_app = typer.Typer(help="Build, validate and summarise the tool catalog and agent datasets.", no_args_is_help=True)


@data_app.command("build")
@handle_errors
def build(
    out_dir: Annotated[Path | None, typer.Option("--out", help="Assets folder to write (default: the bundled assets/).")] = None,
    seed: Annotated[int, typer.Option(help="Generator seed.")] = 7,
    check: Annotated[bool, typer.Option("--check", help="Regenerate into a temp dir and compare byte for byte.")] = False,
    json_out: JsonOption = False,
) -> None:
    """Regenerate the catalog and datasets from the seeded generator (byte-reproducible)."""
    import filecmp
    import tempfile

    from core.generate import build_all
    from core.paths import assets_dir

    target = out_dir or assets_dir()
    if check:
        with tempfile.TemporaryDirectory() as tmp:
            summary = build_all(Path(tmp), seed=seed)
            diffs = []
            for rel in summary["files"]:
                a, b = Path(tmp) / rel, target / rel
                if not b.exists() or not filecmp.cmp(a, b, shallow=False):
                    diffs.append(rel)
        res = {"identical": not diffs, "differing": diffs, "files": sorted(summary["files"])}
        if json_out:
            print_json(res)
        else:
            out.print("identical" if not diffs else f"[red]differs:[/] {', '.join(diffs)}")
        raise typer.Exit(0 if not diffs else 3)
    summary = build_all(target, seed=seed)
    if json_out:
        print_json(summary)
    else:
        for rel, n in sorted(summary["files"].items()):
            out.print(f"{n:>6}  {target / rel}")


def _detect_kind(path: Path) -> str:
    from core.jsonl import iter_jsonl
    from core.selection.paraphrases import is_paraphrase_line

    for _, obj in iter_jsonl(path):
        if is_paraphrase_line(obj):
            return "paraphrases"
        return "catalog" if "tool_id" in obj and "parameters" in obj else "dataset"
    return "dataset"


@data_app.command("validate")
@handle_errors
def validate(
    files: Annotated[list[Path], typer.Argument(help="Catalog, dataset or paraphrase JSONL files.")],
    catalog: CatalogOption = None,
    json_out: JsonOption = False,
) -> None:
    """Check files against the documented formats; the first error names file, line and field."""
    from core.catalog import load_catalog
    from core.datasets import check_against_catalog, load_dataset

    report = []
    cat = None
    for f in files:
        kind = _detect_kind(f)
        if kind == "catalog":
            c = load_catalog(f)
            report.append({"file": str(f), "kind": "catalog", "n": len(c), "categories": len(c.categories())})
        elif kind == "paraphrases":  # the query map's training data (core/selection/paraphrases.py)
            from core.selection.paraphrases import read_paraphrases

            if cat is None:
                cat = load_catalog(catalog)
            report.append({"file": str(f), "kind": "paraphrases", "n": len({p.tool_id for p in read_paraphrases(f, set(cat.ids))})})
        else:
            ds = load_dataset(f)
            if cat is None:
                cat = load_catalog(catalog)
            check_against_catalog(ds, cat)
            report.append({"file": str(f), "kind": "dataset", "n": len(ds), "tasks": dict(ds.tasks)})
    if json_out:
        print_json({"valid": True, "files": report})
    else:
        for r in report:
            out.print(f"[green]ok[/] {r['file']}: {r['n']} {r['kind']} lines")


def collect_stats(catalog_path: Path | None = None) -> dict:
    from core.catalog import load_catalog
    from core.datasets import bundled_files, load_dataset
    from core.paths import datasets_dir

    cat = load_catalog(catalog_path)
    splits: dict[str, dict[str, int]] = {}
    for f in bundled_files():
        ds = load_dataset(f)
        split = f.parent.name
        key = "dialogs" if split == "train" else f.stem
        splits.setdefault(split, {})[key] = len(ds)
        if split == "train":
            for t, n in sorted(ds.tasks.items()):
                splits[split][t] = n
    return {
        "catalog": {
            "path": cat.source,
            "tools": len(cat),
            "categories": dict(sorted(cat.categories().items())),
            "n_categories": len(cat.categories()),
            "sha256": cat.hash,
        },
        "datasets": {"root": str(datasets_dir()), "splits": splits},
    }


@data_app.command("stats")
@handle_errors
def stats(catalog: CatalogOption = None, json_out: JsonOption = False) -> None:
    """Tools per category and samples per split and task."""
    s = collect_stats(catalog)
    if json_out:
        print_json(s)
        return
    from rich.table import Table

    c = s["catalog"]
    t = Table(title=f"Tool catalog: {c['tools']} tools in {c['n_categories']} categories")
    t.add_column("category")
    t.add_column("tools", justify="right")
    for k, v in c["categories"].items():
        t.add_row(k, str(v))
    out.print(t)
    t2 = Table(title="Datasets")
    t2.add_column("split")
    t2.add_column("file / task")
    t2.add_column("samples", justify="right")
    for split, files in s["datasets"]["splits"].items():
        for k, v in files.items():
            t2.add_row(split, k, str(v))
    out.print(t2)
    err.print(f"catalog sha256 {c['sha256'][:16]}…  datasets under {s['datasets']['root']}")


def register(app: typer.Typer) -> None:
    app.add_typer(data_app, name="data")
