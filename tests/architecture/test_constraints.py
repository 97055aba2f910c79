"""constraints.txt pins every dependency exactly, in agreement with pyproject.toml."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _name(requirement: str) -> str:
    return re.split(r"[\[<>=!~; ]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def _constraints() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, pinned = line.partition("==")
            assert pinned, f"not an exact pin: {line}"
            pins[name.lower().replace("_", "-")] = pinned
    return pins


def test_every_dependency_has_an_exact_version_in_the_constraints() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = project["dependencies"] + project["optional-dependencies"]["test"]
    pins = _constraints()

    assert sorted(_name(r) for r in requirements if _name(r) not in pins) == []
    assert "workflowql" not in pins  # the project itself is installed from the checkout
    for requirement in requirements:
        if "==" in requirement:  # pinned in pyproject: the constraints agree
            name, _, pinned = requirement.partition("==")
            assert pins[_name(name)] == pinned, requirement


def test_the_execution_shortcut_libraries_are_pinned_in_pyproject() -> None:
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]

    assert {_name(r): r for r in dependencies if "==" in r} == {
        "strawberry-graphql": "strawberry-graphql==0.341.2",
        "graphql-core": "graphql-core==3.3.2",
        "strawberry-graphql-django": "strawberry-graphql-django==0.93.0",
        "graphene-django-graphiql-static": "graphene-django-graphiql-static==0.8",
    }
