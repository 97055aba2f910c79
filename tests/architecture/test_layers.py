"""The layers of STYLE.md, checked on the source: who may import whom, and who may write.

- ``backend/`` never imports ``schema/``; only the composition root wires them.
- ``schema/`` never writes to the database itself: services do.
- Only ``backend/workflows/approvals.py`` talks to ``approval_workflow``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
COMPOSITION_ROOT = {"backend/urls.py", "backend/asgi.py"}
# A host application's own GraphQL module adds the host's types to the API through
# ``schema.host``, the API package's one extension point, and through nothing else of
# ``schema/``; like ``schema/`` it never writes itself (its mutations call the host's services).
# The engine (``backend/workflows``, ``backend/accounts``) never imports the API at all.
HOST_SCHEMA_MODULES = {"backend/demo/schema.py"}
HOST_API = "schema.host"
APPROVAL_ADAPTER = "backend/workflows/approvals.py"
# Calls that write or lock: ``.save()``, ``Model.objects.create()``, ``select_for_update()``...
WRITING_METHODS = {
    "save",
    "delete",
    "create",
    "bulk_create",
    "bulk_update",
    "update_or_create",
    "get_or_create",
    "select_for_update",
}


def python_files(*packages: str) -> Iterator[tuple[str, ast.Module]]:
    """Yield ``(path relative to the project, parsed module)`` for every module of ``packages``."""
    for package in packages:
        for path in sorted((ROOT / package).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            yield relative, ast.parse(path.read_text(encoding="utf-8"), filename=relative)


def imported_modules(tree: ast.Module) -> Iterator[tuple[int, str]]:
    """Yield ``(line, dotted module name)`` for every import, including ``import_module("...")``."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module
        elif (
            isinstance(node, ast.Call)
            and _called_name(node) in {"import_module", "__import__"}
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            yield node.lineno, node.args[0].value


def _called_name(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Name):
        return call.func.id
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    return None


def _is_within(module: str, package: str) -> bool:
    return module == package or module.startswith(f"{package}.")


def test_backend_never_imports_the_schema_outside_the_composition_root():
    offences = [
        f"{path}:{line} imports {module}"
        for path, tree in python_files("backend")
        if path not in COMPOSITION_ROOT
        for line, module in imported_modules(tree)
        if _is_within(module, "schema") and not (path in HOST_SCHEMA_MODULES and module == HOST_API)
    ]

    assert offences == []


def test_host_schema_modules_use_the_extension_point_and_never_write():
    modules = {path: tree for path, tree in python_files("backend") if path in HOST_SCHEMA_MODULES}
    imported = {
        path: {module for _, module in imported_modules(tree) if _is_within(module, "schema")}
        for path, tree in modules.items()
    }
    writes = [
        f"{path}:{line} {what}"
        for path, tree in modules.items()
        for line, what in database_writes(tree)
    ]

    assert imported == {path: {HOST_API} for path in HOST_SCHEMA_MODULES}
    assert writes == []


def test_the_composition_root_is_where_backend_meets_schema():
    # The exemption above is not vacuous: these two modules do wire the schema in.
    wiring = {
        path
        for path, tree in python_files("backend")
        for _, module in imported_modules(tree)
        if _is_within(module, "schema")
    }

    assert wiring == COMPOSITION_ROOT | HOST_SCHEMA_MODULES


def database_writes(tree: ast.Module) -> Iterator[tuple[int, str]]:
    """Yield ``(line, what)`` for every write, lock or transaction a module starts itself."""
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in WRITING_METHODS
        ):
            yield node.lineno, f".{node.func.attr}("
        if (
            isinstance(node, ast.Attribute)
            and node.attr == "atomic"
            and isinstance(node.value, ast.Name)
            and node.value.id == "transaction"
        ):
            yield node.lineno, "transaction.atomic"
        if isinstance(node, ast.ImportFrom) and node.module == "django.db.transaction":
            for alias in node.names:
                if alias.name == "atomic":
                    yield node.lineno, "from django.db.transaction import atomic"


def test_the_schema_never_writes_to_the_database_itself():
    offences = [
        f"{path}:{line} {what}"
        for path, tree in python_files("schema")
        for line, what in database_writes(tree)
    ]

    assert offences == []


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("workflow.save()", [(1, ".save(")]),
        ("Stage.objects.create(name_en='x')", [(1, ".create(")]),
        ("qs.select_for_update().get(pk=1)", [(1, ".select_for_update(")]),
        ("@transaction.atomic\ndef f(): pass", [(1, "transaction.atomic")]),
        ("with transaction.atomic():\n    pass", [(1, "transaction.atomic")]),
        (
            "from django.db.transaction import atomic",
            [(1, "from django.db.transaction import atomic")],
        ),
        ("Workflow.objects.filter(pk=1).first()", []),
    ],
)
def test_the_write_detector_recognises_writes(source, expected):
    assert sorted(database_writes(ast.parse(source))) == expected


def test_only_the_adapter_imports_approval_workflow():
    offences = [
        f"{path}:{line} imports {module}"
        for path, tree in python_files("backend", "schema")
        if path != APPROVAL_ADAPTER
        for line, module in imported_modules(tree)
        if _is_within(module, "approval_workflow")
    ]

    assert offences == []


def test_the_adapter_does_import_approval_workflow():
    (tree,) = [tree for path, tree in python_files("backend") if path == APPROVAL_ADAPTER]

    assert any(_is_within(module, "approval_workflow") for _, module in imported_modules(tree))


# Modules below the services: reads (selectors), the policy and the adapter never reach up
# into a service, even through an import inside a function (that would be an import cycle:
# the services import them).
BELOW_THE_SERVICES = (
    "backend/workflows/selectors.py",
    "backend/workflows/transitions.py",
    "backend/workflows/approvals.py",
    "backend/workflows/companies.py",
)


def test_selectors_the_policy_and_the_adapter_never_import_the_services():
    offences = [
        f"{path}:{line} imports {module}"
        for path, tree in python_files("backend/workflows")
        if path in BELOW_THE_SERVICES
        for line, module in imported_modules(tree)
        if _is_within(module, "backend.workflows.services")
    ]

    assert offences == []


def test_the_transition_policy_runs_no_query():
    # It decides from facts its callers gathered: it imports neither models nor the adapter.
    tree = ast.parse((ROOT / "backend/workflows/transitions.py").read_text(encoding="utf-8"))
    imported = {module for _, module in imported_modules(tree)}

    assert imported & {"backend.workflows.models", "backend.workflows.approvals"} == set()


def test_the_models_import_neither_the_action_runner_nor_the_services():
    # models -> actions -> notifications -> ... -> models was an import cycle: the models
    # check a stored action's path with action_registry, which imports no model.
    tree = ast.parse((ROOT / "backend/workflows/models.py").read_text(encoding="utf-8"))
    imported = {module for _, module in imported_modules(tree)}

    assert (
        imported
        & {
            "backend.workflows.actions",
            "backend.workflows.notifications",
            "backend.workflows.services",
        }
        == set()
    )
    registry = ast.parse(
        (ROOT / "backend/workflows/action_registry.py").read_text(encoding="utf-8")
    )
    assert not any(
        _is_within(module, "backend.workflows.models") for _, module in imported_modules(registry)
    )
