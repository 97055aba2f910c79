"""URL configuration (composition root): the admin and the GraphQL endpoint."""

from django.contrib import admin
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from schema.views import graphql_view

urlpatterns = [
    path("admin/", admin.site.urls),
    # CSRF is checked inside the view, only for cookie sessions (bearer tokens need none).
    path("graphql", csrf_exempt(graphql_view())),
    path("graphql/", csrf_exempt(graphql_view())),
]
