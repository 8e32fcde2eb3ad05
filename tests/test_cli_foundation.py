"""CLI foundation: fast lazy --help, version, JSON contracts, runs commands, exit codes, import contract."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.errors import ExitCode
from core.store import RunStore

ROOT = Path(__file__).resolve().parent.parent


def cli(*args: str, db: Path | None = None, check: bool = False) -> subprocess.CompletedProcess:
    env = {**os.environ}
    if db is not None:
        env["SAGE_TUI_DB"] = str(db)
    return subprocess.run([sys.executable, "-m", "sage_tui", *args], capture_output=True, text=True, env=env, check=check, cwd=ROOT)


def test_help_does_not_import_heavy_modules() -> None:
    code = (
        "import sys, sage_tui.cli, core, core.catalog, core.datasets, core.store, core.evaluation.runner;"
        "heavy = [m for m in ('torch', 'transformers', 'llama_cpp', 'sentence_transformers', 'textual') if m in sys.modules];"
        "print(','.join(heavy))"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert res.stdout.strip() == ""


def test_help_and_version() -> None:
    res = cli("--help", check=True)
    for cmd in ("data", "runs", "eval"):
        assert cmd in res.stdout
    res = cli("--version", check=True)
    assert res.stdout.strip().startswith("sage-tui ")


def test_runs_commands_and_exit_codes(db_path: Path) -> None:
    s = RunStore(db_path)
    rid = s.create_run("eval", {"name": "keyword"}, task="tool_selection", method="A")
    s.log_metrics(rid, {"acc@1": 0.25})
    s.add_sample_results(rid, [{"sample_id": "x1", "ok": False, "pred": ["a"]}])
    s.finish_run(rid)
    s.close()
    out = json.loads(cli("runs", "list", "--json", db=db_path, check=True).stdout)
    assert [r["id"] for r in out["runs"]] == [rid] and out["runs"][0]["metrics"] == {"acc@1": 0.25}
    shown = json.loads(cli("runs", "show", rid, "--json", db=db_path, check=True).stdout)
    assert shown["failures"][0]["sample_id"] == "x1" and shown["run"]["method"] == "A"
    exported = cli("runs", "export", db=db_path, check=True).stdout.splitlines()
    assert json.loads(exported[0])["samples"][0]["pred"] == ["a"]
    missing = cli("runs", "show", "nope", db=db_path)
    assert missing.returncode == ExitCode.NOT_FOUND and "no run" in missing.stderr and missing.stdout == ""


def test_validate_reports_file_line_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "task": "tool_selection", "instruction": "x", "gold": {"tools": []}}\n')
    res = cli("data", "validate", str(bad))
    assert res.returncode == ExitCode.DATA
    assert f"{bad}:1" in res.stderr and "gold.tools" in res.stderr


@pytest.mark.skipif(not (ROOT / "assets" / "catalog" / "tools.jsonl").exists(), reason="assets not generated")
def test_data_stats_json_contract() -> None:
    stats = json.loads(cli("data", "stats", "--json", check=True).stdout)
    assert stats["catalog"]["tools"] >= 1200 and stats["catalog"]["n_categories"] == 12
    splits = stats["datasets"]["splits"]
    assert splits["test"] == {"task_planning": 50, "timing_judgment": 30, "tool_selection": 75}
    ext = splits["test_extended"]
    assert ext["tool_selection"] >= 500 and ext["tool_retrieval"] >= 500
    assert ext["task_planning"] >= 200 and ext["timing_judgment"] >= 300
    assert splits["train"]["dialogs"] >= 4000 and set(splits["validation"]) >= {"tool_selection", "task_planning", "timing_judgment"}


def test_bundled_files_validate() -> None:
    files = sorted(str(p) for p in (ROOT / "assets").glob("**/*.jsonl"))
    if not files:
        pytest.skip("assets not generated")
    res = cli("data", "validate", *files, "--json")
    assert res.returncode == 0, res.stderr
    assert all(f["n"] > 0 for f in json.loads(res.stdout)["files"])


def test_import_contract_core_never_imports_ui() -> None:
    exe = Path(sys.executable).parent / "lint-imports"
    res = subprocess.run([str(exe)], capture_output=True, text=True, cwd=ROOT)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "KEPT" in res.stdout and "BROKEN" not in res.stdout


def test_code_is_ruff_clean() -> None:
    exe = Path(sys.executable).parent / "ruff"
    res = subprocess.run([str(exe), "check", "."], capture_output=True, text=True, cwd=ROOT)
    assert res.returncode == 0, res.stdout[-3000:]


def test_eval_split_help_names_every_bundled_evaluation_split() -> None:
    import typing

    from core.datasets import SPLITS
    from sage_tui.commands.eval import eval_cmd

    hints = typing.get_type_hints(eval_cmd, include_extras=True)
    help_text = " ".join(str(getattr(m, "help", "")) for m in hints["split"].__metadata__)
    missing = [s for s in SPLITS if s != "train" and s not in help_text.replace(",", " ").replace(".", " ").split()]
    assert not missing, f"--split help does not name {missing}"
