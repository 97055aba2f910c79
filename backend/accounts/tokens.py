"""Create, check and revoke bearer API tokens."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db.models import OuterRef, Q
from django.utils import timezone

from backend.accounts.models import ApiToken

TOKEN_PREFIX = "wfql_"
# last_used_at is refreshed at most this often, so a busy token does not write on every request.
LAST_USED_RESOLUTION = timedelta(minutes=5)


def _hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def create_api_token(
    *, user: Any, name: str = "", expires_in: timedelta | None = None
) -> tuple[ApiToken, str]:
    """Create a token for ``user``; return the row and the raw token (never stored).

    With ``expires_in`` the token is refused from that long after now on.
    """
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user,
        name=name,
        prefix=raw[: len(TOKEN_PREFIX) + 6],
        token_hash=_hash(raw),
        expires_at=timezone.now() + expires_in if expires_in is not None else None,
    )
    return token, raw


_DURATION_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_duration(text: str) -> timedelta:
    """Read a duration such as ``30d``, ``12h``, ``90m`` or ``2w``; raise ValueError otherwise."""
    text = text.strip().lower()
    number, unit = text[:-1], text[-1:]
    if unit not in _DURATION_UNITS or not number.isdigit() or int(number) <= 0:
        raise ValueError(f"{text!r} is not a duration such as 30d, 12h, 90m or 2w.")
    return timedelta(**{_DURATION_UNITS[unit]: int(number)})


def bearer_token_of(authorization: str) -> str | None:
    """Return the token of an ``Authorization: Bearer <token>`` header value, if present."""
    scheme, _, token = authorization.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def _token_query(now: Any) -> Any:
    """Return the query of ``authenticate_token`` (one row: token, user and company)."""
    from django.contrib.auth import get_user_model

    from backend.workflows.companies import company_id_subquery

    user_columns = [f"user__{field.attname}" for field in get_user_model()._meta.concrete_fields]
    return (
        ApiToken.objects.annotate(owner_company_id=company_id_subquery(OuterRef("user_id")))
        .filter(token_hash=_SENTINEL_HASH, revoked_at__isnull=True)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        .values_list("pk", "last_used_at", "owner_company_id", *user_columns)[:1]
    )


# The SQL of the token query is compiled once per database connection's vendor and reused
# with each request's hash and clock: building and compiling it through the ORM costs 20
# times more than running it. The values are still bound as parameters.
_SENTINEL_HASH = "0" * 64
_SENTINEL_NOW = datetime(2000, 1, 1, tzinfo=UTC)
_compiled: dict[tuple[str, str], tuple[Any, str, tuple[Any, ...], int, int]] = {}


def _compiled_token_query(connection: Any) -> tuple[Any, str, tuple[Any, ...], int, int]:
    key = (connection.alias, connection.vendor)
    if key not in _compiled:
        compiler = _token_query(_SENTINEL_NOW).query.get_compiler(connection.alias)
        sql, params = compiler.as_sql()
        now_value = connection.ops.adapt_datetimefield_value(_SENTINEL_NOW)
        hash_index = [i for i, value in enumerate(params) if value == _SENTINEL_HASH]
        now_index = [i for i, value in enumerate(params) if value == now_value]
        if len(hash_index) != 1 or len(now_index) != 1:  # pragma: no cover - guarded by tests
            raise RuntimeError("The token query's parameters are not where they were expected.")
        # The compiler stays for its converters (database values to Python, as the ORM does).
        _compiled[key] = (compiler, sql, tuple(params), hash_index[0], now_index[0])
    return _compiled[key]


def authenticate_token(raw: str | None) -> Any:
    """Return the active user owning the raw token, or None.

    One query, on every request: the token (neither revoked nor expired), its user, and the
    user's company, remembered on the user (``cached_company_id``), so the request needs no
    query of its own for it. Nothing is cached across requests but the query's SQL, so a
    revoked or expired token, or a deactivated user, is refused from the very next request on.
    """
    from django.contrib.auth import get_user_model
    from django.db import connection

    from backend.workflows.companies import remember_company_id

    if not raw or not raw.startswith(TOKEN_PREFIX) or len(raw) > 200:
        return None
    now = timezone.now()
    compiler, sql, template, hash_index, now_index = _compiled_token_query(connection)
    params = list(template)
    params[hash_index] = _hash(raw)
    params[now_index] = connection.ops.adapt_datetimefield_value(now)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return None
    token_pk, last_used_at, company_id, *user_values = next(compiler.results_iter(results=[[row]]))
    User = get_user_model()
    user = User.from_db(
        connection.alias, [field.attname for field in User._meta.concrete_fields], user_values
    )
    if not user.is_active:
        return None
    remember_company_id(user, company_id)
    if last_used_at is None or now - last_used_at > LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token_pk).update(last_used_at=now)
    return user


def _authenticate_on_worker(raw: str | None) -> Any:
    from django.db import connection

    try:
        return authenticate_token(raw)
    finally:
        if connection.vendor != "sqlite":
            # A pooled connection goes back to the pool; SQLite's stays open with its thread.
            connection.close()


async def aauthenticate_token(raw: str | None) -> Any:
    """``authenticate_token`` for async views, on a long-lived worker thread.

    Django gives each request a thread of its own, and with it a new database connection
    whose first query also reads the database's schema: for a request that needs nothing
    else from the database (``{ __typename }``), most of its cost. The worker threads of the
    event loop's executor outlive requests, and so do their connections on SQLite (a pool
    serves them on PostgreSQL). The check itself is the same query, on every request.
    ``settings.API_TOKEN_CHECK_ON_WORKER_THREADS = False`` checks in the request's thread
    (the test suite does: its transactions are visible to the test's own thread only).
    """
    if not getattr(settings, "API_TOKEN_CHECK_ON_WORKER_THREADS", True):
        return await sync_to_async(authenticate_token)(raw)
    return await sync_to_async(_authenticate_on_worker, thread_sensitive=False)(raw)


def revoke_api_token(*, token: ApiToken) -> None:
    """Revoke a token; it stops working at once."""
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
