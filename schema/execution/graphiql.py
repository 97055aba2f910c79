"""GraphiQL served from this app's static files (``/static/graphiql/``), never from a CDN.

The files (GraphiQL, React, graphql-ws and the explorer plugin) come from the pinned
``graphene-django-graphiql-static`` package (see ``STATICFILES_DIRS``); only its files are
used, the page is this module's own.
"""

from __future__ import annotations

from pathlib import Path

from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.template import Engine, RequestContext

TEMPLATE = Path(__file__).with_name("graphiql.html")

DEFAULT_QUERY = """\
# Sign in first: paste the header line that `manage.py serve`
# printed into the Headers pane below, e.g.
#   {"Authorization": "Bearer wfql_..."}
# (or make a token: manage.py create_api_token USERNAME),
# or sign in to /admin/ in this browser. Run with Ctrl-Enter.

query MyWork {
  me {
    user { username }
    company { name }
  }
  myPendingApprovals(first: 5) {
    totalCount
    edges {
      node {
        id
        target { display }
        currentStage { nameEn }
        progress { percentage }
      }
    }
  }
}
"""


def render_graphiql(request: HttpRequest) -> HttpResponse:
    """Return the GraphiQL page for this endpoint."""
    get_token(request)  # sets the CSRF cookie the page sends back for cookie sessions
    template = Engine.get_default().from_string(TEMPLATE.read_text())
    html = template.render(RequestContext(request, {"default_query": DEFAULT_QUERY}))
    return HttpResponse(html)
