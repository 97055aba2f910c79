"""Queries of workflows, pipelines and stages select only the columns their fields read.

``schema.execution.optimizer.COLUMN_HINTED_MODELS`` lets the optimizer narrow those queries
to the columns the document asks for. A field that read a column no hint names would find it
deferred, and Django would load it with one query per object (refused under async
execution). So every field of ``Workflow``, ``Pipeline`` and ``Stage`` is asked for alone,
under every way such rows are fetched (the ``workflows`` list, ``workflow(id:)``, ``node(id:)``),
and must give the same answer with the same number of queries as with every column selected.
Together with the summary fields (which read pipelines and stages through prefetch hints)
beside a narrow ``pipelines`` selection.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from graphql import GraphQLObjectType, get_named_type, is_leaf_type

from backend.workflows.services import create_workflow
from schema.execution.structure_cache import results as structure_results
from schema.schema import schema as served
from tests.support.helpers import api_token_for, global_id, graphql

pytestmark = pytest.mark.django_db


def _selection(type_name: str, depth: int = 2) -> str:
    """Every argument-free field of ``type_name``, objects expanded ``depth`` levels down."""
    object_type = served._schema.type_map[type_name]
    assert isinstance(object_type, GraphQLObjectType)
    parts = []
    for name, field in object_type.fields.items():
        if any(
            argument.type.__class__.__name__ == "GraphQLNonNull" for argument in field.args.values()
        ):
            continue
        named = get_named_type(field.type)
        if is_leaf_type(named):
            parts.append(name)
        elif depth > 0 and isinstance(named, GraphQLObjectType):
            parts.append(f"{name} {{ {_selection(named.name, depth - 1)} }}")
    return " ".join(parts)


def _fields(type_name: str) -> list[str]:
    """One selection per field of ``type_name`` (objects with all their sub-fields)."""
    object_type = served._schema.type_map[type_name]
    selections = []
    for name, field in object_type.fields.items():
        named = get_named_type(field.type)
        if is_leaf_type(named):
            selections.append(name)
        elif isinstance(named, GraphQLObjectType):
            selections.append(f"{name} {{ {_selection(named.name, 1)} }}")
    return selections


def _documents(workflow_id: str, pipeline_id: str, stage_id: str) -> list[str]:
    roots = {
        "Workflow": [
            "{ workflows(first: 10) { edges { node { %s } } } }",
            '{ workflow(id: "' + workflow_id + '") { %s } }',
            '{ node(id: "' + workflow_id + '") { ... on Workflow { %s } } }',
        ],
        "Pipeline": [
            "{ workflows(first: 10) { edges { node { pipelines { %s } } } } }",
            '{ node(id: "' + pipeline_id + '") { ... on Pipeline { %s } } }',
        ],
        "Stage": [
            "{ workflows(first: 10) { edges { node { pipelines { stages { %s } } } } } }",
            '{ node(id: "' + stage_id + '") { ... on Stage { %s } } }',
        ],
    }
    documents = [
        root % field
        for type_name, templates in roots.items()
        for field in _fields(type_name)
        for root in templates
    ]
    # The summary and counts read pipelines and stages through hints of their own, beside
    # narrow selections of the same relations.
    documents.append(
        "{ workflows(first: 10) { edges { node { pipelines { id stages { id } } "
        "pipelinesCount totalStagesCount summary { totalPipelines totalStages totalApprovals "
        "pipelineBreakdown { pipelineName pipelineOrder stagesCount approvalsCount } } } } } }"
    )
    documents.append(
        "{ workflows(first: 10) { edges { node { pipelines { stagesCount department { name } } "
        "summary { pipelineBreakdown { pipelineOrder } } } } } }"
    )
    return documents


def _answer(client: Any, document: str, token: str) -> tuple[Any, int]:
    with CaptureQueriesContext(connection) as captured:
        body = graphql(client, document, token=token)
    return body, len(captured.captured_queries)


def test_every_field_answers_the_same_with_narrow_columns(client, acme, monkeypatch):
    # given: templates with pipelines, departments, stages with conditions and approvals
    departments = list(acme.departments.values())
    form = next(iter(acme.forms.values()))
    role = next(iter(acme.roles.values()))
    for number in range(3):
        create_workflow(
            company=acme.company,
            name_en=f"Narrow {number}",
            created_by=acme.company,
            pipelines=[
                {
                    "name_en": f"Pipeline {p}",
                    "department": departments[p % len(departments)],
                    "stages": [
                        {
                            "name_en": f"Stage {p}.{s}",
                            "condition": {"amount__gte": 100} if s else None,
                            "approvals": [
                                {
                                    "approval_type": "user",
                                    "approval_user": acme.user("cfo").pk,
                                    "required_form": form.pk,
                                },
                                {
                                    "approval_type": "role",
                                    "user_role": role.pk,
                                    "role_selection_strategy": "anyone",
                                },
                            ],
                        }
                        for s in range(2)
                    ],
                }
                for p in range(2)
            ],
        )
    workflow = acme.workflow
    pipeline = workflow.pipelines.first()
    stage = pipeline.stages.first()
    documents = _documents(
        global_id("Workflow", workflow.pk),
        global_id("Pipeline", pipeline.pk),
        global_id("Stage", stage.pk),
    )
    token = api_token_for(acme.user("employee"))
    graphql(client, "{ __typename }", token=token)
    assert len(documents) > 60

    cached_documents = 0
    for document in documents:
        # when: narrow columns (as served) and every column, without the structure cache
        with override_settings(GRAPHQL_STRUCTURE_CACHE=False):
            narrow, narrow_queries = _answer(client, document, token)
            with monkeypatch.context() as patched:
                patched.setattr("schema.execution.optimizer.COLUMN_HINTED_MODELS", frozenset())
                wide, wide_queries = _answer(client, document, token)
        # and through the structure cache: the first request (cold), then the next (warm)
        structure_results.clear()
        cold, _ = _answer(client, document, token)
        hits = structure_results.hits
        warm, _ = _answer(client, document, token)
        cached_documents += structure_results.hits - hits

        # then
        assert "errors" not in narrow, (document, narrow)
        assert narrow == wide, document
        assert narrow_queries == wide_queries, document
        assert json.dumps(cold) == json.dumps(warm) == json.dumps(narrow), document
    assert cached_documents >= 20


def test_workflow_rows_leave_unasked_columns_out(client, acme):
    # given
    token = api_token_for(acme.user("employee"))
    graphql(client, "{ __typename }", token=token)

    # when
    with CaptureQueriesContext(connection) as captured:
        body = graphql(
            client,
            "{ workflows(first: 10) { edges { node { nameEn pipelines { stages { color } } } } } }",
            token=token,
        )

    # then: no timestamps, descriptions or stage conditions are read
    assert body["data"]["workflows"]["edges"], body
    tables = ("workflows_workflow", "workflows_pipeline", "workflows_stage")
    structure = [
        next(q["sql"] for q in captured.captured_queries if f'FROM "{table}"' in q["sql"])
        for table in tables
    ]
    for sql in structure:
        assert "created_at" not in sql and "modified_at" not in sql, sql
    assert '"workflows_workflow"."description"' not in structure[0], structure[0]
    assert '"workflows_stage"."condition"' not in structure[2], structure[2]
