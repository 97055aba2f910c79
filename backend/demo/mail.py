"""An e-mail backend for ``serve`` in development: one console line per message."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

from django.core.mail.backends.base import BaseEmailBackend


class OneLineEmailBackend(BaseEmailBackend):
    """Print ``E-mail to <recipients>: <subject>`` instead of the whole MIME message."""

    def send_messages(self, email_messages: Sequence[Any]) -> int:
        for message in email_messages:
            recipients = ", ".join(message.recipients())
            sys.stdout.write(f"E-mail to {recipients}: {message.subject}\n")
        sys.stdout.flush()
        return len(email_messages)
