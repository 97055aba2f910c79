"""The README's examples and commands are checked, so they cannot rot."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def _runnable_blocks() -> list[str]:
    blocks = re.findall(r"```python\n(.*?)```", README, flags=re.S)
    return [block for block in blocks if block.startswith("# runnable example")]


def _bash_blocks() -> list[str]:
    return re.findall(r"```bash\n(.*?)```", README, flags=re.S)


@pytest.mark.django_db
def test_python_examples_run_in_order():
    blocks = _runnable_blocks()
    assert len(blocks) >= 2
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, "README.md", "exec"), namespace)  # noqa: S102
    assert namespace["request"].workflow_status == "approved"


def test_ci_runs_exactly_the_readme_test_command():
    quick_start = _bash_blocks()[:2]
    serve_command, test_command = (block.strip() for block in quick_start)
    assert serve_command.endswith("manage.py serve")
    assert test_command.endswith("pytest")
    ci = (ROOT / ".ci" / "run").read_text()
    assert ci.count(test_command) == 2  # once on SQLite, once on PostgreSQL + Redis


def test_graphql_examples_are_valid_documents():
    """Every ```graphql block of the README parses and validates against the served schema."""
    from graphql import parse, validate

    from schema.schema import introspection_schema

    blocks = re.findall(r"```graphql\n(.*?)```", README, flags=re.S)
    assert len(blocks) >= 3
    for block in blocks:
        errors = validate(introspection_schema()._schema, parse(block))
        assert not errors, f"{errors}\n{block}"
