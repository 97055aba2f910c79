"""Change markers of the template structure, kept by the database itself.

A cache of what templates show (the GraphQL ``workflows`` list, ``schema.execution.structure_cache``)
is only correct if every change that could alter it is seen, whoever makes it: a service, the
Django admin, ``save()``, ``QuerySet.update()``, ``bulk_create`` or raw SQL. Django signals miss
queryset updates and raw SQL, so the markers are kept by triggers, installed after every
``migrate`` (``install_structure_triggers``) on SQLite and PostgreSQL:

- on workflows, pipelines and stages of templates (not of running copies: a workflow with
  ``is_hidden``, or a pipeline or stage of one), any INSERT, UPDATE or DELETE gives the row of
  the template's company (scope = the company's id) a new random token;
- on the tables of what templates name (the user model, the role model, the form model and
  the configured department model), any INSERT or DELETE, and any UPDATE (of the user model,
  of a column other than ``last_login`` and ``password``, so signing in changes nothing),
  gives the row of scope 0 a new random token.

A token is random rather than a counter so that a row rolled back, truncated or restored never
shows again a value that stood for other data. A missing row means no change since the table
was created, which is a value like any other. Attaching a workflow writes only running copies,
so it leaves the templates' markers alone.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connections
from django.db.models import Model

from backend.workflows.approval_config import form_model, role_model
from backend.workflows.engine_settings import department_model
from backend.workflows.models import Pipeline, Stage, StructureMarker, Workflow

logger = logging.getLogger("backend.workflows.structure_markers")

REFERENCES_SCOPE = 0
TRIGGER_PREFIX = "wql_sm_"
VENDORS = ("sqlite", "postgresql")
# Columns of the user model whose changes no template shows (written at every sign-in).
USER_COLUMNS_NOT_SHOWN = frozenset({"last_login", "password"})
# SQLite has one trigger per event (named <name>_<event>); PostgreSQL one for all three.
SQLITE_EVENTS = ("insert", "update", "delete")


def _marker_table() -> str:
    return StructureMarker._meta.db_table


def referenced_models() -> list[type[Model]]:
    """Return the models whose rows templates show: users, roles, forms, the department model."""
    models: list[Any] = [get_user_model(), role_model(), form_model(), department_model()]
    unique: list[type[Model]] = []
    for model in models:
        if model is not None and not model._meta.proxy and model not in unique:
            unique.append(model._meta.concrete_model)
    return unique


def _watched_columns(model: type[Model]) -> list[str] | None:
    """Columns whose UPDATE changes the marker; None: every column."""
    if model is get_user_model():
        return [
            str(field.column)
            for field in model._meta.concrete_fields
            if field.name not in USER_COLUMNS_NOT_SHOWN
        ]
    return None


def _trigger_names() -> dict[str, str]:
    """Return the trigger name of each watched table, by table."""
    tables = [Workflow._meta.db_table, Pipeline._meta.db_table, Stage._meta.db_table]
    tables += [model._meta.db_table for model in referenced_models()]
    return {table: f"{TRIGGER_PREFIX}{table}"[:60] for table in tables}


def _template_scopes(table: str, row: str, q: Any) -> str:
    """SQL giving the company id of a template row (NULL for a running copy's row)."""
    workflow = q(Workflow._meta.db_table)
    pipeline = q(Pipeline._meta.db_table)
    if table == Workflow._meta.db_table:
        return f"CASE WHEN {row}.is_hidden THEN NULL ELSE {row}.company_id END"
    if table == Pipeline._meta.db_table:
        return (
            f"(SELECT w.company_id FROM {workflow} w WHERE w.id = {row}.workflow_id "
            "AND NOT w.is_hidden)"
        )
    return (
        f"(SELECT w.company_id FROM {pipeline} p JOIN {workflow} w ON w.id = p.workflow_id "
        f"WHERE p.id = {row}.pipeline_id AND NOT w.is_hidden)"
    )


def _sqlite_statements(table: str, name: str, q: Any) -> list[str]:
    marker = q(_marker_table())

    def bump(scope: str) -> str:
        return (
            f"INSERT INTO {marker} (scope, token) SELECT s, random() FROM (SELECT {scope} AS s) "
            "WHERE s IS NOT NULL ON CONFLICT (scope) DO UPDATE SET token = excluded.token;"
        )

    statements = []
    template = table in {
        Workflow._meta.db_table,
        Pipeline._meta.db_table,
        Stage._meta.db_table,
    }
    model = next((m for m in referenced_models() if m._meta.db_table == table), None)
    columns = _watched_columns(model) if model is not None and not template else None
    for event, rows in (("INSERT", ["NEW"]), ("UPDATE", ["OLD", "NEW"]), ("DELETE", ["OLD"])):
        if template:
            body = " ".join(bump(_template_scopes(table, row, q)) for row in rows)
        else:
            body = bump(str(REFERENCES_SCOPE))
        what = event
        if event == "UPDATE" and columns is not None:
            what = f"UPDATE OF {', '.join(q(c) for c in columns)}"
        trigger = f"{name}_{event.lower()}"
        statements.append(f"DROP TRIGGER IF EXISTS {q(trigger)}")
        statements.append(
            f"CREATE TRIGGER {q(trigger)} AFTER {what} ON {q(table)} FOR EACH ROW BEGIN {body} END"
        )
    return statements


def _postgresql_statements(table: str, name: str, q: Any) -> list[str]:
    marker = q(_marker_table())
    template = table in {
        Workflow._meta.db_table,
        Pipeline._meta.db_table,
        Stage._meta.db_table,
    }
    bump_function = q(f"{TRIGGER_PREFIX}bump")
    if template:
        body = (
            f"IF TG_OP <> 'INSERT' THEN PERFORM {bump_function}({_template_scopes(table, 'OLD', q)}); END IF; "
            f"IF TG_OP <> 'DELETE' THEN PERFORM {bump_function}({_template_scopes(table, 'NEW', q)}); END IF;"
        )
    else:
        body = f"PERFORM {bump_function}({REFERENCES_SCOPE});"
    model = next((m for m in referenced_models() if m._meta.db_table == table), None)
    columns = _watched_columns(model) if model is not None and not template else None
    update = "UPDATE" if columns is None else f"UPDATE OF {', '.join(q(c) for c in columns)}"
    function = q(name)
    return [
        f"CREATE OR REPLACE FUNCTION {bump_function}(target bigint) RETURNS void LANGUAGE sql AS $$ "
        f"INSERT INTO {marker} (scope, token) "
        "SELECT target, floor(random() * 9007199254740991)::bigint WHERE target IS NOT NULL "
        "ON CONFLICT (scope) DO UPDATE SET token = excluded.token $$",
        f"CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$ "
        f"BEGIN {body} RETURN NULL; END $$",
        f"DROP TRIGGER IF EXISTS {function} ON {q(table)}",
        f"CREATE TRIGGER {function} AFTER INSERT OR {update} OR DELETE ON {q(table)} "
        f"FOR EACH ROW EXECUTE FUNCTION {function}()",
    ]


def install_structure_triggers(using: str = "default") -> bool:
    """(Re)install the triggers for the models configured now.

    False on another database, or while a table is missing (a partial or backward migrate):
    the cache stays off until the next full ``migrate``.
    """
    connection = connections[using]
    if connection.vendor not in VENDORS:
        return False
    names = _trigger_names()
    existing = set(connection.introspection.table_names())
    if _marker_table() not in existing or not set(names) <= existing:
        return False
    q = connection.ops.quote_name
    build = _sqlite_statements if connection.vendor == "sqlite" else _postgresql_statements
    with connection.cursor() as cursor:
        for table, name in names.items():
            for statement in build(table, name, q):
                cursor.execute(statement)
    triggers_installed.cache_clear()
    return True


def uninstall_structure_triggers(using: str = "default") -> None:
    """Drop every marker trigger (and PostgreSQL function), e.g. before the marker table goes."""
    connection = connections[using]
    if connection.vendor not in VENDORS:
        return
    q = connection.ops.quote_name
    existing = set(connection.introspection.table_names())
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE %s",
                [f"{TRIGGER_PREFIX}%"],
            )
            for (name,) in cursor.fetchall():
                cursor.execute(f"DROP TRIGGER IF EXISTS {q(name)}")
        else:
            for table, name in _trigger_names().items():
                if table in existing:
                    cursor.execute(f"DROP TRIGGER IF EXISTS {q(name)} ON {q(table)}")
                cursor.execute(f"DROP FUNCTION IF EXISTS {q(name)}()")
            cursor.execute(f"DROP FUNCTION IF EXISTS {q(TRIGGER_PREFIX + 'bump')}(bigint)")
    triggers_installed.cache_clear()


def install_after_migrate(using: str = "default", **kwargs: Any) -> None:
    """``post_migrate`` receiver: the triggers follow the models configured at every migrate."""
    install_structure_triggers(using)


@functools.cache
def triggers_installed(using: str, tables: tuple[str, ...]) -> bool:
    """Tell whether every table of ``tables`` has its marker trigger (checked once per process)."""
    connection = connections[using]
    if connection.vendor not in VENDORS:
        return False
    names = _trigger_names()
    sqlite = connection.vendor == "sqlite"
    with connection.cursor() as cursor:
        if sqlite:
            cursor.execute(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE %s",
                [f"{TRIGGER_PREFIX}%"],
            )
        else:
            cursor.execute(
                "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal AND tgname LIKE %s",
                [f"{TRIGGER_PREFIX}%"],
            )
        found = {row[0] for row in cursor.fetchall()}

    def expected(table: str) -> set[str]:
        name = names.get(table, "")
        return {f"{name}_{event}" for event in SQLITE_EVENTS} if sqlite else {name}

    missing = [table for table in tables if not expected(table) <= found]
    if missing:
        logger.warning(
            "No structure marker trigger on %s: the structure cache is off (run migrate).",
            ", ".join(missing),
        )
    return not missing


def markers_available(using: str = "default") -> bool:
    """Tell whether the markers see every change of the models configured now."""
    return triggers_installed(using, tuple(_trigger_names()))


def structure_markers(company_id: int, using: str = "default") -> tuple[Any, Any] | None:
    """Return the company's template marker and the references marker (one query).

    None when the database keeps no markers for the models configured now.
    """
    if not markers_available(using):
        return None
    connection = connections[using]
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT scope, token FROM {connection.ops.quote_name(_marker_table())} "
            "WHERE scope IN (%s, %s)",
            [REFERENCES_SCOPE, company_id],
        )
        tokens = dict(cursor.fetchall())
    return tokens.get(company_id), tokens.get(REFERENCES_SCOPE)
