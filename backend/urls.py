"""URL configuration (composition root): the admin, the GraphQL endpoint and the examples.

``/examples/`` serves the built dashboard example (``frontend-examples/web/dist``, made by
``npm run build`` there, or by ``manage.py serve`` when npm is installed).
"""

from pathlib import Path

from django.conf import settings
from django.contrib import admin
from django.http import HttpRequest, HttpResponseBase, HttpResponseNotFound
from django.shortcuts import redirect
from django.urls import path, re_path
from django.views.decorators.csrf import csrf_exempt
from django.views.static import serve

from backend.demo.views import landing
from backend.static_files import stream_asynchronously
from schema.execution.views import graphql_view

EXAMPLES_DIST = Path(settings.BASE_DIR) / "frontend-examples" / "web" / "dist"


def examples(request: HttpRequest, path: str = "") -> HttpResponseBase:
    """Serve the dashboard's files; any other path under /examples/ gets its index.html."""
    if not (EXAMPLES_DIST / "index.html").is_file():
        return HttpResponseNotFound(
            "The dashboard example is not built. Build it with: "
            "cd frontend-examples/web && npm ci && npm run build "
            "(manage.py serve does this in the background when npm is installed).",
            content_type="text/plain",
        )
    root = EXAMPLES_DIST.resolve()
    candidate = (root / path).resolve()
    if not path or not candidate.is_relative_to(root) or not candidate.is_file():
        path = "index.html"
    response = stream_asynchronously(serve(request, path, document_root=str(EXAMPLES_DIST)))
    if path == "index.html":
        response["Cache-Control"] = "no-cache"  # asset names carry a hash; the index does not
    return response


urlpatterns = [
    path("", landing),
    path("admin/", admin.site.urls),
    # CSRF is checked inside the view, only for cookie sessions (bearer tokens need none).
    path("graphql", csrf_exempt(graphql_view())),
    path("graphql/", csrf_exempt(graphql_view())),
    path("examples", lambda request: redirect("/examples/")),
    re_path(r"^examples/(?P<path>.*)$", examples),
]
