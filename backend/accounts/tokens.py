"""Create, check and revoke bearer API tokens."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import Any

from django.db.models import Q
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


def authenticate_token(raw: str | None) -> Any:
    """Return the active user owning the raw token, or None."""
    if not raw or not raw.startswith(TOKEN_PREFIX) or len(raw) > 200:
        return None
    now = timezone.now()
    token = (
        ApiToken.objects.select_related("user")
        .filter(token_hash=_hash(raw), revoked_at__isnull=True)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        .first()
    )
    if token is None or not token.user.is_active:
        return None
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user


def revoke_api_token(*, token: ApiToken) -> None:
    """Revoke a token; it stops working at once."""
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
