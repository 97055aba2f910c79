"""Property-based fuzzing of every query and mutation of the committed schema.

hypothesis-graphql builds valid documents from ``schema/schema.graphql`` (every root field,
random arguments and selections); each is POSTed in-process through the Django test client
with a bearer token of one company (its account, an approver or the requester). IDs are
drawn from the real rows of *both* companies plus malformed ones, so tenant checks and id
parsing are exercised as an attacker would. For every answer:

- no HTTP 500, and no error with ``extensions.code == "INTERNAL_ERROR"``;
- the other company's rows (hashed before and after the run) are unchanged.

The seed and example counts are fixed (``derandomize``), so a failure reproduces; no
shrinking, to keep the run near its budget (about 60 s for both companies on SQLite).
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any

import graphql
import pytest
from approval_workflow.models import ApprovalFlow, ApprovalInstance
from django.db.models import Q
from django.test import Client
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import mutations, nodes, queries

from backend.accounts.models import ApiToken
from backend.demo.models import Department, PurchaseRequest
from backend.workflows.models import (
    DynamicForm,
    Pipeline,
    Stage,
    Workflow,
    WorkflowAction,
    WorkflowAttachment,
    WorkflowEvent,
)
from backend.workflows.selectors import company_users
from backend.workflows.services import attach_workflow_to_object
from tests.support.helpers import api_token_for, make_purchase_request

pytestmark = pytest.mark.django_db

SDL = (Path(__file__).resolve().parents[2] / "schema" / "schema.graphql").read_text()
SCHEMA = graphql.build_schema(SDL)
QUERY_EXAMPLES = 120
MUTATION_EXAMPLES = 240
# Ids no row has, or that are not ids at all.
MALFORMED_IDS = ["", "abc", "0", "-1", "1.5", "9" * 30, "１２", " 7", "null"]


def company_state(company: Any) -> str:
    """Hash every row that belongs to ``company`` (templates, runs, audit, users, tokens)."""
    users = company_users(company.pk)
    attachments = WorkflowAttachment.objects.filter(company=company)
    object_ids = list(attachments.values_list("object_id", flat=True))
    rows = {
        "workflows": Workflow.objects.filter(company=company),
        "pipelines": Pipeline.objects.filter(workflow__company=company),
        "stages": Stage.objects.filter(pipeline__workflow__company=company),
        "actions": WorkflowAction.objects.filter(
            Q(workflow__company=company)
            | Q(pipeline__workflow__company=company)
            | Q(stage__pipeline__workflow__company=company)
        ),
        "attachments": attachments,
        "events": WorkflowEvent.objects.filter(company=company),
        "forms": DynamicForm.objects.filter(company=company),
        "flows": ApprovalFlow.objects.filter(object_id__in=object_ids),
        "approvals": ApprovalInstance.objects.filter(flow__object_id__in=object_ids),
        "requests": PurchaseRequest.objects.filter(requester__in=users),
        "departments": Department.objects.filter(company=company),
        "users": users.values("pk", "username", "email", "password", "is_active", "groups"),
        "tokens": ApiToken.objects.filter(user__in=users),
    }
    snapshot = {
        name: list(queryset.order_by("pk").values() if name != "users" else queryset.order_by("pk"))
        for name, queryset in rows.items()
    }
    return hashlib.sha256(json.dumps(snapshot, default=str, sort_keys=True).encode()).hexdigest()


def all_ids(*companies: Any) -> list[str]:
    """Every id of both companies' rows, as strings."""
    ids: set[int] = set()
    for company in companies:
        users = company_users(company.pk)
        for queryset in (
            Workflow.objects.filter(company=company),
            Pipeline.objects.filter(workflow__company=company),
            Stage.objects.filter(pipeline__workflow__company=company),
            WorkflowAttachment.objects.filter(company=company),
            WorkflowEvent.objects.filter(company=company),
            DynamicForm.objects.filter(company=company),
            Department.objects.filter(company=company),
            PurchaseRequest.objects.filter(requester__in=users),
            users,
        ):
            ids.update(queryset.values_list("pk", flat=True))
        ids.update(
            WorkflowAction.objects.filter(workflow__company=company).values_list("pk", flat=True)
        )
    return sorted(str(i) for i in ids)


def json_values() -> st.SearchStrategy[graphql.ValueNode]:
    leaves = st.one_of(
        st.text(max_size=20).map(nodes.String),
        st.integers(-1000, 1000).map(nodes.Int),
        st.booleans().map(lambda b: graphql.BooleanValueNode(value=b)),
        st.just(graphql.NullValueNode()),
    )
    return st.recursive(
        leaves,
        lambda children: st.one_of(
            st.lists(children, max_size=3).map(lambda items: graphql.ListValueNode(values=items)),
            st.dictionaries(
                st.from_regex(r"[a-z_]{1,8}", fullmatch=True), children, max_size=3
            ).map(
                lambda fields: nodes.Object(
                    [
                        graphql.ObjectFieldNode(name=graphql.NameNode(value=k), value=v)
                        for k, v in fields.items()
                    ]
                )
            ),
        ),
        max_leaves=8,
    )


def scalars(ids: list[str]) -> dict[str, st.SearchStrategy[graphql.ValueNode]]:
    return {
        "ID": st.sampled_from(ids + MALFORMED_IDS).map(nodes.String),
        "JSON": json_values(),
        "DateTime": st.one_of(
            st.datetimes().map(lambda d: d.isoformat() + "Z"), st.text(max_size=12)
        ).map(nodes.String),
    }


@pytest.fixture
def companies(acme, globex):
    """Both companies with running attachments, so decisions and reads find real rows."""
    for scenario in (acme, globex):
        for title in ("Laptops", "Chairs"):
            attach_workflow_to_object(
                obj=make_purchase_request(scenario, title=title),
                workflow=scenario.workflow,
                user=scenario.user("requester"),
            )
    return acme, globex


class Report:
    """What went wrong across a run (checked after it, so one bad answer does not stop it)."""

    def __init__(self) -> None:
        self.requests = 0
        self.failures: list[str] = []


def fuzz(client: Client, strategy: Any, tokens: list[str], report: Report, examples: int) -> None:
    @settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(document=strategy, token=st.sampled_from(tokens))
    def run(document: str, token: str) -> None:
        response = client.post(
            "/graphql",
            data={"query": document},
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {token}",
        )
        report.requests += 1
        if response.status_code >= 500:
            report.failures.append(f"HTTP {response.status_code} for {document}")
            return
        if response.status_code != 200:
            return  # a 4xx is an answer, not a crash
        for error in response.json().get("errors") or ():
            if (error.get("extensions") or {}).get("code") == "INTERNAL_ERROR":
                report.failures.append(f"INTERNAL_ERROR {error} for {document}")

    run()


@pytest.mark.parametrize("attacker", ["acme", "globex"])
def test_fuzzing_every_operation_causes_no_internal_error_and_no_cross_tenant_change(
    companies, attacker
):
    # given: the attacker's tokens and the other company's rows
    acme, globex = companies
    own, other = (acme, globex) if attacker == "acme" else (globex, acme)
    tokens = [api_token_for(own.company), api_token_for(own.user("cfo"))]
    tokens.append(api_token_for(own.user("requester")))
    custom = scalars(all_ids(acme.company, globex.company))
    other_before = company_state(other.company)
    client = Client(raise_request_exception=False)
    report = Report()
    started = time.monotonic()

    # when
    fuzz(client, queries(SCHEMA, custom_scalars=custom), tokens, report, QUERY_EXAMPLES)
    fuzz(client, mutations(SCHEMA, custom_scalars=custom), tokens, report, MUTATION_EXAMPLES)
    seconds = time.monotonic() - started

    # then
    print(f"fuzz as {attacker}: {report.requests} requests in {seconds:.1f} s")
    assert report.failures == []
    assert report.requests == QUERY_EXAMPLES + MUTATION_EXAMPLES
    assert company_state(other.company) == other_before
