"""``schema.execution.structure_cache``: the ``workflows`` list served again until it changes.

Every kind of change that alters the answer makes the very next request answer fresh: template
rows written by services, GraphQL mutations, the admin, ``save()``/``delete()``, queryset
``update()``/``bulk_create``/``delete()`` and raw SQL, and the users, roles, forms and
departments the templates show. Attaching a workflow (a running copy) keeps the entry. No
entry is served to another company or to a viewer the resolver would refuse; a result with
errors is never kept; the setting turns it off; the entries stay under their byte bound.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from unittest.mock import patch

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from graphql import parse

from backend.demo.models import Department
from backend.workflows.models import DynamicForm, Pipeline, Stage, StructureMarker, Workflow
from backend.workflows.services import (
    add_pipeline,
    create_workflow,
    delete_workflow,
    remove_stage,
    reorder_stages,
    update_stage,
    update_workflow,
)
from backend.workflows.structure_markers import install_structure_triggers
from schema.execution.structure_cache import (
    DEFAULT_MAX_BYTES,
    results,
    root_field_cacheable,
)
from schema.schema import schema as served
from tests.support.helpers import api_token_for, global_id, graphql
from tests.support.purchase_steps import start_purchase_request

pytestmark = pytest.mark.django_db

WORKFLOWS = """
query Workflows($after: String) {
  workflows(first: 100, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { cursor node {
      id nameEn nameAr slug status isActive pipelinesCount totalStagesCount
      summary { totalPipelines totalStages totalApprovals
        pipelineBreakdown { pipelineName stagesCount approvalsCount } }
      pipelines { id nameEn order department { id name }
        stages { id nameEn order color condition
          approvals { approvalType roleSelectionStrategy
            user { id username displayName email } role { id name }
            requiredForm { id name schema }
            onTimeout { action user { username } role { name } } } } }
    } }
  }
}
"""


@pytest.fixture(autouse=True)
def _empty_cache():
    results.clear()
    yield
    results.clear()


def _ask(client: Any, token: str, document: str = WORKFLOWS, **variables: Any) -> Any:
    return graphql(client, document, variables, token=token)


def _fresh(client: Any, token: str, document: str = WORKFLOWS, **variables: Any) -> Any:
    """The answer built without the cache."""
    with override_settings(GRAPHQL_STRUCTURE_CACHE=False):
        return _ask(client, token, document, **variables)


def _warm(client: Any, token: str) -> Any:
    """Fill the cache and check the next request is served from it."""
    first = _ask(client, token)
    hits = results.hits
    second = _ask(client, token)
    assert results.hits == hits + 1
    assert second == first
    return second


def _user_approval(scenario: Any) -> Stage:
    """The first stage of the template, with a user approval naming the CFO."""
    stage = Stage.objects.filter(pipeline__workflow=scenario.workflow).order_by("id").first()
    assert stage is not None
    Stage.objects.filter(pk=stage.pk).update(
        approvals=[
            *stage.approvals,
            {
                "approval_type": "user",
                "approval_user": scenario.user("cfo").pk,
                "on_timeout": {"action": "escalate", "user": scenario.user("cfo").pk},
            },
        ]
    )
    return stage


def _first_stage(scenario: Any) -> Stage:
    return Stage.objects.filter(pipeline__workflow=scenario.workflow).order_by("id").first()


def _first_pipeline(scenario: Any) -> Pipeline:
    return Pipeline.objects.filter(workflow=scenario.workflow).order_by("id").first()


def _mutation(document: str, variables: dict[str, Any]) -> Callable[[Any, Any], None]:
    def run(scenario: Any, client: Any) -> None:
        body = graphql(client, document, variables(scenario), user=scenario.company)  # type: ignore[operator]
        assert "errors" not in body, body
        payload = next(iter(body["data"].values()))
        assert payload.get("error") is None, payload

    return run


UPDATE_WORKFLOW = """
mutation($input: UpdateWorkflowInput!) { updateWorkflow(input: $input) { error { code } } }
"""
UPDATE_STAGE = """
mutation($input: UpdateStageInput!) { updateStage(input: $input) { error { code } } }
"""


def _raw_sql(scenario: Any, client: Any) -> None:
    pipeline = _first_pipeline(scenario)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {Pipeline._meta.db_table} SET name_en = %s WHERE id = %s",
            ["Renamed in SQL", pipeline.pk],
        )


def _admin_delete(scenario: Any, client: Any) -> None:
    admin = get_user_model().objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(admin)
    stage = _first_stage(scenario)
    response = client.post(
        "/admin/workflows/stage/",
        {"action": "delete_selected", "_selected_action": [stage.pk], "post": "yes"},
    )
    assert response.status_code == 302
    client.logout()
    assert not Stage.objects.filter(pk=stage.pk).exists()


def _model_save(scenario: Any, client: Any) -> None:
    stage = _first_stage(scenario)
    stage.color = "#000000"
    stage.save()


def _bulk_create(scenario: Any, client: Any) -> None:
    Stage.objects.bulk_create(
        [Stage(pipeline=_first_pipeline(scenario), name_en="Bulk", order=99, approvals=[])]
    )


def _user_renamed_by_update(scenario: Any, client: Any) -> None:
    get_user_model().objects.filter(pk=scenario.user("cfo").pk).update(username="acme-cfo-2")


def _user_renamed_by_save(scenario: Any, client: Any) -> None:
    user = scenario.user("cfo")
    user.first_name = "Chief Money Officer"
    user.save()


def _user_deleted(scenario: Any, client: Any) -> None:
    scenario.user("cfo").delete()


CHANGES: dict[str, Callable[[Any, Any], None]] = {
    "service: rename workflow": lambda s, c: update_workflow(workflow=s.workflow, name_en="New"),
    "service: archive workflow": lambda s, c: update_workflow(
        workflow=s.workflow, status="archived"
    ),
    "service: create workflow": lambda s, c: create_workflow(
        company=s.company, name_en="Another", created_by=s.company
    ),
    "service: delete workflow": lambda s, c: delete_workflow(workflow=s.workflow),
    "service: add pipeline": lambda s, c: add_pipeline(
        workflow=s.workflow, name_en="Extra", number_of_stages=2
    ),
    "service: edit stage approvals": lambda s, c: update_stage(
        stage=_first_stage(s),
        approvals=[{"approval_type": "user", "approval_user": s.user("cfo").pk}],
    ),
    "service: reorder stages": lambda s, c: reorder_stages(
        pipeline=_first_pipeline(s),
        stage_ids=[st.pk for st in _first_pipeline(s).stages.order_by("-order", "-id")],
    ),
    "service: remove stage": lambda s, c: remove_stage(stage=_first_stage(s)),
    "mutation: updateWorkflow": _mutation(
        UPDATE_WORKFLOW,
        lambda s: {"input": {"id": global_id("Workflow", s.workflow.pk), "nameEn": "Via API"}},  # type: ignore[arg-type]
    ),
    "mutation: updateStage": _mutation(
        UPDATE_STAGE,
        lambda s: {"input": {"id": global_id("Stage", _first_stage(s).pk), "color": "#111111"}},  # type: ignore[arg-type]
    ),
    "admin: delete a stage": _admin_delete,
    "model save()": _model_save,
    "model delete()": lambda s, c: _first_pipeline(s).delete(),
    "queryset update()": lambda s, c: Stage.objects.filter(pipeline__workflow=s.workflow).update(
        name_en="Bulk renamed"
    ),
    "queryset bulk_create": _bulk_create,
    "queryset delete()": lambda s, c: Stage.objects.filter(pk=_first_stage(s).pk).delete(),
    "raw SQL": _raw_sql,
    "user renamed (queryset update)": _user_renamed_by_update,
    "user's name (save)": _user_renamed_by_save,
    "user's e-mail (raw SQL)": lambda s, c: connection.cursor().execute(
        f"UPDATE {get_user_model()._meta.db_table} SET email = 'x@y.example' WHERE id = %s",
        [s.user("cfo").pk],
    ),
    "user deleted": _user_deleted,
    "role renamed": lambda s, c: Group.objects.filter(pk=s.roles["Executive"].pk).update(
        name="Board"
    ),
    "form renamed": lambda s, c: DynamicForm.objects.filter(company=s.company).update(
        name="Renamed form"
    ),
    "form fields": lambda s, c: DynamicForm.objects.filter(company=s.company).update(
        schema={"fields": []}
    ),
    "department renamed": lambda s, c: Department.objects.filter(company=s.company).update(
        name="Renamed department"
    ),
    "department deleted": lambda s, c: Department.objects.filter(
        pk=s.departments["Finance"].pk
    ).delete(),
}


@pytest.mark.parametrize("change", CHANGES, ids=list(CHANGES))
def test_the_first_request_after_a_change_answers_fresh(client, acme, change):
    # given: a template naming users, roles, forms and departments, its answer cached
    _user_approval(acme)
    token = api_token_for(acme.user("employee"))
    before = _warm(client, token)

    # when
    CHANGES[change](acme, client)

    # then: the next request answers what the database holds now
    after = _ask(client, token)
    assert "errors" not in after, after
    assert after != before, "the change must show in the answer"
    assert after == _fresh(client, token)
    assert _ask(client, token) == after


def test_a_change_in_another_process_is_seen(client, acme):
    """Another process's cache is coherent: the marker is read from the database every time."""
    token = api_token_for(acme.user("employee"))
    before = _warm(client, token)
    # A change the database makes on its own (no Python model code at all).
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {Workflow._meta.db_table} SET name_en = 'Elsewhere'")
    after = _ask(client, token)
    assert after != before
    assert after["data"]["workflows"]["edges"][0]["node"]["nameEn"] == "Elsewhere"


def test_attaching_a_workflow_keeps_the_entry(client, acme):
    """Running copies are never listed: attaching and deciding do not invalidate templates."""
    token = api_token_for(acme.user("employee"))
    before = _warm(client, token)
    _, attachment = start_purchase_request(acme, at_stage="Budget Approval")
    copy = attachment.workflow
    assert copy.is_hidden
    Stage.objects.filter(pipeline__workflow=copy).update(name_en="Copy renamed")
    hits = results.hits
    assert _ask(client, token) == before == _fresh(client, token)
    assert results.hits == hits + 1


def test_the_warm_request_costs_the_token_and_the_marker_only(client, acme):
    token = api_token_for(acme.user("employee"))
    _warm(client, token)
    with CaptureQueriesContext(connection) as captured:
        _ask(client, token)
    statements = [q["sql"] for q in captured.captured_queries]
    assert len(statements) == 2, statements
    assert "workflows_structuremarker" in statements[-1]


def test_the_cold_request_costs_one_query_more_than_without_the_cache(client, acme):
    token = api_token_for(acme.user("employee"))
    _ask(client, token)  # the token's first use writes last_used_at
    with override_settings(GRAPHQL_STRUCTURE_CACHE=False), CaptureQueriesContext(connection) as off:
        _ask(client, token)
    update_workflow(workflow=acme.workflow, name_en="Touched")
    with CaptureQueriesContext(connection) as cold:
        _ask(client, token)
    assert len(cold.captured_queries) == len(off.captured_queries) + 1
    assert "workflows_structuremarker" in cold.captured_queries[1]["sql"]


@pytest.mark.parametrize("markers", ["kept", "none yet"])
def test_another_company_never_gets_the_entry(client, acme, globex, markers):
    if markers == "none yet":  # templates written before the triggers were installed
        StructureMarker.objects.all().delete()
    acme_token = api_token_for(acme.user("employee"))
    globex_token = api_token_for(globex.user("employee"))
    acme_answer = _warm(client, acme_token)
    globex_answer = _ask(client, globex_token)
    assert globex_answer == _fresh(client, globex_token)
    assert globex_answer != acme_answer
    names = {e["node"]["nameEn"] for e in globex_answer["data"]["workflows"]["edges"]}
    ids = {e["node"]["id"] for e in globex_answer["data"]["workflows"]["edges"]}
    assert ids == {global_id("Workflow", globex.workflow.pk)}, names
    # and the other way round, both now cached
    assert _ask(client, acme_token) == acme_answer
    assert _ask(client, globex_token) == globex_answer


def test_a_superuser_naming_another_company_takes_the_normal_path(client, acme, globex):
    acme_token = api_token_for(acme.user("employee"))
    _warm(client, acme_token)
    root = get_user_model().objects.create_superuser("root", "root@example.com", "pw")
    document = WORKFLOWS.replace("first: 100,", "first: 100, companyId: $company,").replace(
        "$after: String", "$after: String, $company: ID"
    )
    hits = results.hits
    body = graphql(client, document, {"company": str(globex.company.pk)}, user=root)
    assert results.hits == hits
    ids = {e["node"]["id"] for e in body["data"]["workflows"]["edges"]}
    assert ids == {global_id("Workflow", globex.workflow.pk)}


def test_a_viewer_without_access_gets_no_cached_data(client, acme):
    token = api_token_for(acme.user("employee"))
    _warm(client, token)
    anonymous = graphql(client, WORKFLOWS)
    assert anonymous["data"] == {"workflows": None}
    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    # A user of no company (signed in, but not a member anywhere) is refused as without cache.
    outsider = get_user_model().objects.create_user("outsider", password="pw")
    with override_settings(GRAPHQL_STRUCTURE_CACHE=False):
        expected = graphql(client, WORKFLOWS, user=outsider)
    assert graphql(client, WORKFLOWS, user=outsider) == expected
    assert expected.get("data", {}).get("workflows") != _ask(client, token)["data"]["workflows"]


def test_a_revoked_token_gets_no_cached_data(client, acme):
    from backend.accounts.models import ApiToken

    token = api_token_for(acme.user("employee"))
    _warm(client, token)
    ApiToken.objects.update(revoked_at="2026-01-01T00:00:00Z")
    response = client.post(
        "/graphql",
        data={"query": WORKFLOWS},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert response.status_code == 401
    assert "data" not in response.json()


def test_a_result_with_errors_is_never_kept_and_reads_the_same(client, acme):
    token = api_token_for(acme.user("employee"))

    def broken(workflow: Any) -> Any:
        raise RuntimeError("boom")

    with patch("schema.workflows.types._summary", broken):
        expected = _fresh(client, token)
        first = _ask(client, token)
        second = _ask(client, token)
    assert expected["errors"][0]["extensions"]["code"] == "INTERNAL_ERROR"
    for body in (first, second):
        assert body["data"] == expected["data"]
        assert [(e["message"], e["path"]) for e in body["errors"]] == [
            (e["message"], e["path"]) for e in expected["errors"]
        ]
    assert len(results) == 0
    assert results.hits == 0
    assert "errors" not in _ask(client, token)


def test_variables_and_directives_are_part_of_the_key(client, acme):
    create_workflow(company=acme.company, name_en="Second", created_by=acme.company)
    token = api_token_for(acme.user("employee"))
    document = """
    query($first: Int!, $stages: Boolean!) { workflows(first: $first, order: OLDEST) { edges { node {
      nameEn pipelines { nameEn stages @include(if: $stages) { nameEn } } } } } }
    """
    seen = []
    for first, stages in ((1, True), (1, False), (2, True), (1, True)):
        body = _ask(client, token, document, first=first, stages=stages)
        assert body == _fresh(client, token, document, first=first, stages=stages)
        seen.append(body)
    assert seen[0] != seen[1] and seen[0] != seen[2] and seen[0] == seen[3]


def test_a_department_of_an_unwatched_model_is_not_kept(client, acme):
    """A pipeline naming a row of a model other than DEPARTMENT_MODEL reads a row no marker watches."""
    from django.contrib.contenttypes.models import ContentType

    pipeline = _first_pipeline(acme)
    Pipeline.objects.filter(pk=pipeline.pk).update(
        department_content_type=ContentType.objects.get_for_model(Group),
        department_id=str(acme.roles["Executive"].pk),
    )
    token = api_token_for(acme.user("employee"))
    body = _ask(client, token)
    assert body == _fresh(client, token)
    assert len(results) == 0


def test_the_setting_turns_it_off(client, acme):
    token = api_token_for(acme.user("employee"))
    with override_settings(GRAPHQL_STRUCTURE_CACHE=False):
        _ask(client, token)
        _ask(client, token)
    assert len(results) == 0 and results.hits == 0


def test_the_entries_stay_under_the_byte_bound(client, acme):
    token = api_token_for(acme.user("employee"))
    _ask(client, token)
    assert 0 < results.size < DEFAULT_MAX_BYTES
    document = "query($n: Int!) { workflows(first: $n) { edges { node { nameEn pipelines { nameEn } } } } }"
    results.clear()
    _ask(client, token, document, n=1)
    one = results.size
    with override_settings(GRAPHQL_STRUCTURE_CACHE_BYTES=one * 5):
        for n in range(2, 30):
            _ask(client, token, document, n=n)
            assert results.size <= one * 5
    assert len(results) == 5  # the five most recent
    assert _ask(client, token, document, n=29) == _fresh(client, token, document, n=29)


def test_missing_triggers_turn_it_off(client, acme):
    token = api_token_for(acme.user("employee"))
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("DROP TRIGGER wql_sm_workflows_stage_update")
        else:
            cursor.execute("DROP TRIGGER wql_sm_workflows_stage ON workflows_stage")
    from backend.workflows.structure_markers import triggers_installed

    triggers_installed.cache_clear()
    try:
        _ask(client, token)
        _ask(client, token)
        assert len(results) == 0
    finally:
        install_structure_triggers()


@pytest.mark.parametrize(
    ("document", "cacheable"),
    [
        ("{ workflows { edges { node { id nameEn } } } }", True),
        ("{ workflows { edges { node { ...W } } } } fragment W on Workflow { nameEn }", True),
        ("{ workflows { edges { node { ... on Workflow { nameEn } } } } }", True),
        ("{ workflows { edges { node { ... on Node { id } } } } }", False),
        ('{ workflows(companyId: "1") { edges { node { id } } } }', False),
        ("{ workflows { edges { node { nameEn @deprecated } } } }", False),
        ("{ workflows { nodes { id } } }", False),
    ],
)
def test_only_watched_fields_are_cacheable(document, cacheable):
    schema = served._schema
    parsed = parse(document)
    operation = parsed.definitions[0]
    fragments = {d.name.value: d for d in parsed.definitions[1:]}
    nodes = [operation.selection_set.selections[0]]
    assert root_field_cacheable(schema.query_type, nodes, fragments) is cacheable


def test_the_size_of_an_entry_is_its_json():
    from schema.execution.structure_cache import json_size

    assert json_size({"a": [1, "é"]}) == len('{"a":[1,"é"]}'.encode())
    assert json_size({"a": 2**70}) == len('{"a": 1180591620717411303424}')
    assert json_size({"a": object()}) is None
