from typing import Any

from django.core.management.base import BaseCommand, CommandError

from backend.accounts.models import ApiToken
from backend.accounts.tokens import revoke_api_token


class Command(BaseCommand):
    help = "Revoke API tokens by prefix (as shown in the admin), or every token of a user."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--prefix")
        parser.add_argument("--user", help="Revoke every token of this username.")

    def handle(self, *args: Any, **options: Any) -> None:
        tokens = ApiToken.objects.filter(revoked_at__isnull=True)
        if options["prefix"]:
            tokens = tokens.filter(prefix=options["prefix"])
        elif options["user"]:
            tokens = tokens.filter(user__username=options["user"])
        else:
            raise CommandError("Give --prefix or --user.")
        count = 0
        for token in tokens:
            revoke_api_token(token=token)
            count += 1
        self.stdout.write(f"Revoked {count} token(s).")
