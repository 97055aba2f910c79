import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from backend.workflows.services import create_workflow, delete_workflow
from tests.helpers import graphql, api_token_for

pytestmark = pytest.mark.django_db

Q = """query { workflows(first:100) { edges { node { pipelines { department { name } stages { approvals { user { username } role { name } requiredForm { name } } } }
 summary { totalPipelines totalStages totalApprovals pipelineBreakdown { pipelineName stagesCount approvalsCount } } pipelinesCount totalStagesCount } } } }"""

def build(acme, w, p, s):
    delete_workflow(workflow=acme.workflow)
    roles = list(acme.roles.values()); forms = list(acme.forms.values()); users=[acme.user("cfo"), acme.user("employee")]
    for i in range(w):
        create_workflow(company=acme.company, name_en=f"W{i}", pipelines=[
            {"name_en": f"P{j}", "department": list(acme.departments.values())[j%2], "stages": [
                {"name_en": f"S{k}", "approvals": [
                    {"approval_type": "user", "approval_user": users[k%2].pk, "required_form": forms[k%3].pk},
                    {"approval_type": "role", "user_role": roles[k%3].pk, "role_selection_strategy": "anyone"}]}
                for k in range(s)]} for j in range(p)])

@pytest.mark.parametrize("size", [(1,2,3),(50,5,5)])
def test_x(client, acme, size):
    import time
    t=time.perf_counter(); build(acme, *size); print("build", time.perf_counter()-t)
    token = api_token_for(acme.user("employee"))
    graphql(client, "{__typename}", token=token)
    with CaptureQueriesContext(connection) as c:
        body = graphql(client, "{__typename}", token=token)
    print("overhead", len(c.captured_queries))
    with CaptureQueriesContext(connection) as c:
        t=time.perf_counter()
        body = graphql(client, Q, token=token)
        print("time", time.perf_counter()-t)
    assert "errors" not in body, body
    print(len(c.captured_queries))
    for q in c.captured_queries: print("  ", q["sql"][:300])
