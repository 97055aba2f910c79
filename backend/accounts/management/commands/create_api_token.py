from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from backend.accounts.tokens import create_api_token, parse_duration


class Command(BaseCommand):
    help = "Create a bearer API token for a user and print it (it is shown only once)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("username")
        parser.add_argument("--name", default="", help="A label for the token.")
        parser.add_argument(
            "--expires-in",
            default=None,
            help="Refuse the token after this long: 30d, 12h, 90m or 2w (default: never).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            user = get_user_model().objects.get(username=options["username"])
        except get_user_model().DoesNotExist:
            raise CommandError(f"No user named {options['username']!r}.") from None
        try:
            expires_in = parse_duration(options["expires_in"]) if options["expires_in"] else None
        except ValueError as error:
            raise CommandError(str(error)) from None
        _, raw = create_api_token(user=user, name=options["name"], expires_in=expires_in)
        self.stdout.write(raw)
