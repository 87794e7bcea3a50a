"""The house stays walkable: no import cycle anywhere in the package, and the layers
(cli | ui > report > analysis > engine; the engine's flow one way) hold: the contracts
in pyproject.toml, checked by ``lint-imports``."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph("optimizer")


def test_no_module_imports_one_that_imports_it_back(graph: grimp.ImportGraph) -> None:
    cycles = []
    for module in sorted(graph.modules):
        for imported in sorted(graph.find_modules_directly_imported_by(module)):
            chain = graph.find_shortest_chain(importer=imported, imported=module)
            if imported != module and chain:
                cycles.append(" -> ".join((module, *chain)))
    assert not cycles, "\n".join(cycles)


def test_the_layer_contracts_hold() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run([str(lint)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-3000:]
    assert "BROKEN" not in done.stdout and done.stdout.count("KEPT") >= 2


DOC = ROOT / "docs" / "architecture.md"


def _module_exists(path: str) -> bool:
    """``engine/model``, ``engine/model.py`` or ``analysis/consensus`` (a package) under
    optimizer/; a path with a suffix may also sit at the repository's root."""
    if "." in Path(path).name:
        return (ROOT / "optimizer" / path).exists() or (ROOT / path).exists()
    base = ROOT / "optimizer" / path
    return base.with_suffix(".py").exists() or (base / "__init__.py").exists()


def _table_modules(section: str) -> list[str]:
    """The modules in the first column of a section's table: ``engine/`` for the engine's
    table; elsewhere a name without a folder is in the folder named before it."""
    text = DOC.read_text().split(f"## {section}\n", 1)[1].split("\n## ", 1)[0]
    modules, folder = [], "engine" if section.startswith("The engine") else ""
    for line in text.splitlines():
        if not line.startswith("| `"):
            continue
        for name in re.findall(r"`([^`]+)`", line.split("|")[1]):
            if "/" in name:
                folder = name.rsplit("/", 1)[0]
                modules.append(name)
            else:
                modules.append(f"{folder}/{name}")
    return modules


def test_the_architecture_doc_names_modules_as_they_are() -> None:
    """Every module docs/architecture.md names exists, and every module of the package is
    named (no table row for a module that is gone, none missing for one that came)."""
    named = _table_modules("The engine, step by step") + _table_modules("Above the engine")
    paths = re.findall(r"`((?:engine|analysis|report|ui|cli|optimizer)/[\w/]+(?:\.\w+)?)`",
                       DOC.read_text())
    missing = [p for p in [*named, *paths] if not _module_exists(p)]
    assert not missing, f"docs/architecture.md names modules that do not exist: {missing}"
    package = ROOT / "optimizer"
    actual = {str(f.relative_to(package).with_suffix("")) for f in package.glob("*/**/*.py")
              if not f.name.startswith("_")}
    covered = set(named)
    unnamed = sorted(m for m in actual if m not in covered
                     and not any(m.startswith(f"{c}/") or c.startswith(f"{m}/") for c in covered))
    assert not unnamed, f"modules docs/architecture.md does not place: {unnamed}"


def test_a_new_rule_touches_one_declaration_and_nothing_twice() -> None:
    """'Where a new thing goes' sends a new rule to its inputs, its declaration and
    numbers, its check and its diagnosis entry, and to no second formulation; the names
    it gives exist."""
    from optimizer.analysis import diagnose
    from optimizer.engine import check, model

    rule = DOC.read_text().split("**A new rule.**", 1)[1].split("**A new analysis.**", 1)[0]
    files = set(re.findall(r"`([\w/]+\.(?:py|yaml))`", rule))
    assert files == {"engine/scenario.py", "optimizer/defaults/scenario.yaml",
                     "engine/inputs.py", "engine/model.py", "engine/check.py",
                     "analysis/diagnose.py"}, files
    assert callable(model.declare) and callable(model.numbers) and callable(check.check)
    assert isinstance(diagnose._ROW_RULES, dict) and diagnose.RULES
    assert "model.numbers" in rule and "_ROW_RULES" in rule and "`RULES`" in rule
