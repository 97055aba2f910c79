"""Settings of the fan-out benchmark's servers: the test settings, with longer to say hello.

Thousands of sockets opening at once on two shared cores queue their ``connection_init``
behind the subscriptions being set up (a few milliseconds of database work each); under the
default 10 s some were closed with 4408 before their first message was read.
"""

from backend.settings_test import *  # noqa: F403

GRAPHQL_WS_INIT_TIMEOUT_SECONDS = 150
