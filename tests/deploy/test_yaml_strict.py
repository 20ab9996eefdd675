"""Every YAML file of the project parses under a loader that rejects duplicate keys.

PyYAML (and Compose v1) keep the last of two equal keys silently; Compose v2, Kubernetes and dbt's newer parsers
reject them. Merge keys (``<<: *anchor``) stay allowed, and an explicit key may override a merged one.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
SKIPPED_DIRS = {".venv", ".git", ".chalkola", "target", "dbt_packages", "logs", "node_modules", "__pycache__"}


class DuplicateKeyError(yaml.constructor.ConstructorError):
    """A mapping declares the same key twice."""


class StrictLoader(yaml.SafeLoader):
    """SafeLoader that raises DuplicateKeyError on a repeated key in one mapping."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False):  # type: ignore[override]
        seen: dict[object, yaml.Node] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            if key in seen:
                raise DuplicateKeyError(
                    "while constructing a mapping", node.start_mark,
                    f"duplicate key {key!r} (first at line {seen[key].start_mark.line + 1})", key_node.start_mark,
                )  # fmt: skip
            seen[key] = key_node
        return super().construct_mapping(node, deep=deep)


def strict_load(text: str) -> object:
    """Parse YAML text, rejecting duplicate keys (all documents of a multi-document stream)."""
    return list(yaml.load_all(text, Loader=StrictLoader))


def project_yaml_files() -> list[Path]:
    found = []
    for path in REPO.rglob("*"):
        if path.suffix not in (".yml", ".yaml") or not path.is_file():
            continue
        if SKIPPED_DIRS.intersection(path.relative_to(REPO).parts[:-1]):
            continue
        found.append(path)
    return sorted(found)


def test_the_project_has_its_yaml_files() -> None:
    names = {p.relative_to(REPO).as_posix() for p in project_yaml_files()}
    assert {
        "docker-compose.yml",
        "deploy/dagster.yaml",
        "workspace.yaml",
        "dbt_project/dbt_project.yml",
    } <= names
    assert len(names) >= 15


@pytest.mark.parametrize("path", project_yaml_files(), ids=lambda p: p.relative_to(REPO).as_posix())
def test_yaml_file_has_no_duplicate_keys(path: Path) -> None:
    try:
        strict_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        pytest.fail(f"{path.relative_to(REPO)}: {exc}")


def test_strict_loader_rejects_a_duplicate_key_and_keeps_merge_keys() -> None:
    with pytest.raises(DuplicateKeyError, match="duplicate key 'image' \\(first at line 3\\)"):
        strict_load("services:\n  user_code:\n    image: a\n    image: a\n")
    merged = strict_load("x: &base {a: 1, b: 2}\ny:\n  <<: *base\n  b: 3\n")[0]
    assert merged["y"] == {"a": 1, "b": 3}
    with pytest.raises(DuplicateKeyError):
        strict_load("a: 1\n---\nb: 1\nb: 2\n")
