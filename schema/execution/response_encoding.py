"""Encode GraphQL HTTP responses with orjson, falling back to the standard library's encoder.

strawberry's Django view encodes with ``json.dumps(data, cls=DjangoJSONEncoder)``. orjson
writes the same JSON values several times faster (a page of 100 workflows of 5 x 5 stages is
about 1.5 MB of JSON). The only differences are in the bytes, not in what they mean:
non-ASCII characters are written as UTF-8 instead of ``\\uXXXX`` escapes, and no spaces.
Whatever orjson would write differently, or refuses, takes the standard encoder: integers
beyond 64 bits, non-string keys, subclasses of ``str``, ``int``, ``dict`` or ``list`` (lazy
translations, for example), dataclasses, dates and times (DjangoJSONEncoder shortens their
microseconds; a GraphQL result holds them as strings already), and any type orjson does not
know (``Decimal``, lazy strings). One value is written differently on purpose: a float that
is not finite, which JSON cannot express (GraphQL's Float refuses it; only a JSON scalar read
from a SQLite JSON column could hold one), is ``null`` here where the standard library
wrote the non-JSON token ``NaN`` that clients fail to parse.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
from django.core.serializers.json import DjangoJSONEncoder

_OPTIONS = (
    orjson.OPT_PASSTHROUGH_DATETIME
    | orjson.OPT_PASSTHROUGH_DATACLASS
    | orjson.OPT_PASSTHROUGH_SUBCLASS
)


def _refuse(value: Any) -> Any:
    raise TypeError(type(value).__name__)


def standard_encoding(data: object) -> str:
    """Return what strawberry's Django view writes."""
    return json.dumps(data, cls=DjangoJSONEncoder, separators=(",", ":"))


def encode_response(data: object) -> bytes | str:
    """Return the JSON of a GraphQL response: orjson's bytes, or the standard encoder's text."""
    try:
        encoded = orjson.dumps(data, default=_refuse, option=_OPTIONS)
    except TypeError:  # orjson.JSONEncodeError included
        return standard_encoding(data)
    return encoded
