"""Packaging invariants: plugins install inside the recframe namespace, the core never imports them."""

from __future__ import annotations

import ast
import configparser
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MAPPING = {"recframe": "recframe", "recframe.environments": "environments", "recframe.agents": "agents"}
OPTIONAL = {"tqdm", "matplotlib", "yaml", "faiss", "tensorboard", "nbclient", "nbformat", "scipy", "pandas"}


def _setup_cfg() -> configparser.ConfigParser:
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    return config


def _packages_in_tree() -> set[str]:
    found = set()
    for package, directory in MAPPING.items():
        for init in (ROOT / directory).rglob("__init__.py"):
            relative = init.parent.relative_to(ROOT / directory)
            found.add(".".join([package, *relative.parts]))
    return found


def test_every_package_in_the_tree_is_listed_in_setup_cfg():
    listed = set(_setup_cfg()["options"]["packages"].split())
    assert listed == _packages_in_tree()


def test_plugins_are_mapped_into_the_recframe_namespace():
    package_dir = _setup_cfg()["options"]["package_dir"]
    mapping = dict(line.split(" = ") for line in package_dir.strip().splitlines())
    assert mapping == MAPPING


@pytest.mark.slow
def test_the_wheel_installs_only_inside_the_recframe_namespace(tmp_path):
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            str(ROOT),
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
        ],
        check=True,
        cwd=tmp_path,
    )
    (wheel,) = tmp_path.glob("recframe-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    tops = {name.split("/")[0] for name in names}
    assert {top for top in tops if not top.endswith(".dist-info")} == {"recframe"}
    for module in (
        "recframe/environments/__init__.py",
        "recframe/agents/__init__.py",
        "recframe/environments/tutorial.py",
    ):
        assert module in names


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _top_level_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_core_never_imports_the_plugins():
    for path in (ROOT / "recframe").rglob("*.py"):
        bad = {
            name for name in _imports(path) if name.startswith(("recframe.environments", "recframe.agents"))
        }
        assert not bad, f"{path} imports {bad}"


def test_optional_dependencies_are_imported_lazily():
    for directory in MAPPING.values():
        for path in (ROOT / directory).rglob("*.py"):
            eager = _top_level_imports(path) & OPTIONAL
            assert not eager, f"{path} imports optional {eager} at module level"


def test_no_code_touches_the_global_numpy_rng():
    global_calls = re.compile(
        r"\b(np|numpy)\.random\.(seed|rand|randn|randint|choice|uniform|normal|random|shuffle|permutation)\("
        r"|\btorch\.(manual_seed|rand|randn|randint|randperm|normal|bernoulli|multinomial)\((?![^)]*generator=)"
    )
    for directory in MAPPING.values():
        for path in (ROOT / directory).rglob("*.py"):
            used = global_calls.findall(path.read_text())
            assert not used, f"{path} uses a global RNG: {used}"
