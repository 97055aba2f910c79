"""GraphQL documents built to make validation slow, each within the token limit.

Shared by ``tests/api/test_validation_cost.py`` (work bounds) and
``tests/benchmarks/bench_validation.py`` (timings beside a trivial query's).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from graphql import parse

from schema.execution.document_limits import validate_within_limits
from schema.schema import MAX_TOKENS, build_schema

TRIVIAL = "{ __typename }"


def fragment_fan_out(levels: int) -> str:
    """The issue's document: each fragment spreads the next one twice (2**levels fields)."""
    lines = ["query FanOut { ...F0 }"]
    lines += [f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}" for i in range(levels)]
    lines.append(f"fragment F{levels} on Query {{ __typename }}")
    return "\n".join(lines)


def wide_fan_out(fragments: int, spreads: int) -> str:
    """``fragments`` fragments, each spreading the next ``spreads`` times."""
    lines = ["query Wide { ...G0 }"]
    lines += [
        f"fragment G{i} on Query {{ {' '.join([f'...G{i + 1}'] * spreads)} }}"
        for i in range(fragments - 1)
    ]
    lines.append(f"fragment G{fragments - 1} on Query {{ __typename }}")
    return "\n".join(lines)


def too_many_fragments(count: int) -> str:
    spreads = " ".join(f"...H{i}" for i in range(count))
    definitions = "\n".join(f"fragment H{i} on Query {{ __typename }}" for i in range(count))
    return f"query Many {{ {spreads} }}\n{definitions}"


def same_name_fields(count: int) -> str:
    """One field ``count`` times: the overlapping-fields check compares every pair."""
    return "query Same { " + " ".join(["__typename"] * count) + " }"


def same_name_subtrees(count: int) -> str:
    """One field with a sub-selection ``count`` times: each pair compares the sub-trees."""
    field = "workflows { edges { node { pipelines { stages { id } } } } }"
    return "query Subtrees { " + " ".join([field] * count) + " }"


def same_name_through_fragments(count: int) -> str:
    """``count`` fragments selecting the same field, all spread at the root."""
    spreads = " ".join(f"...S{i}" for i in range(count))
    definitions = "\n".join(
        f"fragment S{i} on Query {{ workflows {{ totalCount }} }}" for i in range(count)
    )
    return f"query Spread {{ {spreads} }}\n{definitions}"


def conflicting_arguments(count: int) -> str:
    """One response key with different arguments: every pair is a conflict to report."""
    return (
        "query Conflicts { "
        + " ".join(f"workflows(first: {i}) {{ totalCount }}" for i in range(count))
        + " }"
    )


def deep_fragments(levels: int) -> str:
    """Depth built from fragments, each one level deeper than the last."""
    lines = ["query Deep { ...D0 }"]
    lines += [f"fragment D{i} on Query {{ me {{ ...D{i + 1} }} }}" for i in range(levels)]
    lines.append(f"fragment D{levels} on Query {{ __typename }}")
    return "\n".join(lines)


def deep_nesting(levels: int) -> str:
    return "query Nest { " + "me { " * levels + "__typename" + " }" * levels + " }"


def many_directives(count: int) -> str:
    return "query Directives { __typename " + "@include(if: true) " * count + "}"


def many_variables(count: int) -> str:
    definitions = " ".join(f"$v{i}: Int" for i in range(count))
    return f"query Variables({definitions}) {{ __typename }}"


def many_aliases(count: int) -> str:
    return "query Aliases { " + " ".join(f"a{i}: __typename" for i in range(count)) + " }"


def long_string(length: int) -> str:
    return 'query Long { workflows(after: "' + "a" * length + '") { totalCount } }'


def huge_integer(digits: int) -> str:
    return "query Huge { workflows(first: " + "9" * digits + ") { totalCount } }"


@dataclass(frozen=True)
class Adversary:
    name: str
    document: str
    # The first error's message once the document is parsed and validated (None: valid).
    first_error: str | None
    # CPU seconds it may cost; a document whose cost is its sheer size (the lexer reads every
    # character in Python) gets more, and its growth is held to linear instead.
    cpu_cap_seconds: float = 0.3


ADVERSARIES = (
    Adversary(
        "fragment fan-out, 30 levels",
        fragment_fan_out(30),
        "'FanOut' selects more than 1,000,000,000 fields once its fragments are expanded. "
        "Allowed: 1000",
    ),
    Adversary(
        "fragment fan-out, 99 fragments x 4 spreads",
        wide_fan_out(99, 4),
        "'Wide' selects more than 1,000,000,000 fields once its fragments are expanded. "
        "Allowed: 1000",
    ),
    Adversary("101 fragments", too_many_fragments(101), "101 fragments found. Allowed: 100"),
    Adversary(
        "one field 1,990 times",
        same_name_fields(1990),
        "'Same' selects 1990 fields once its fragments are expanded. Allowed: 1000",
    ),
    Adversary(
        "one field 990 times",
        same_name_fields(990),
        "'Same' selects '__typename' more than 10 times.",
    ),
    Adversary(
        "one field with a sub-tree 120 times",
        same_name_subtrees(120),
        "'Subtrees' selects 'workflows' more than 10 times.",
    ),
    Adversary(
        "one field through 99 fragments",
        same_name_through_fragments(99),
        "'Spread' selects 'workflows' more than 10 times.",
    ),
    Adversary(
        "one field, 10 different arguments",
        conflicting_arguments(10),
        "Fields 'workflows' conflict because they have differing arguments. "
        "Use different aliases on the fields to fetch both if this was intentional.",
    ),
    Adversary(
        "depth through 99 fragments",
        deep_fragments(99),
        "'Deep' exceeds maximum operation depth of 10",
    ),
    Adversary(
        "nesting 400 deep",
        deep_nesting(400),
        "Syntax Error: Document is nested too deeply. Parsing aborted.",
    ),
    Adversary(
        "one directive 280 times",
        many_directives(280),
        "The directive '@include' can only be used once at this location.",
    ),
    Adversary(
        "495 unused variables",
        many_variables(495),
        "Variable '$v0' is never used in operation 'Variables'.",
    ),
    Adversary("650 aliases", many_aliases(650), "650 aliases found. Allowed: 30"),
    Adversary(
        "a string of 1,000,000 characters",
        long_string(1_000_000),
        None,  # valid: the resolver refuses the cursor
        cpu_cap_seconds=1.0,
    ),
    Adversary(
        "an integer of 100,000 digits",
        huge_integer(100_000),
        "Expected value of type 'Int', but encountered error 'Exceeds the limit (4300 digits) "
        "for integer string conversion: value has 100000 digits; use "
        "sys.set_int_max_str_digits() to increase the limit'; found: " + "9" * 100_000 + ".",
    ),
)


def answer_errors(document: str, schema=None) -> list:
    """Parse and validate ``document`` as the endpoint does, bypassing every cache."""
    from graphql import GraphQLError

    gql_schema = (schema or _production_schema())._schema
    try:
        parsed = parse(document, max_tokens=MAX_TOKENS)
    except GraphQLError as error:
        return [error]
    rules = _production_rules()
    return validate_within_limits.__wrapped__(gql_schema, parsed, rules)


_cache: dict[str, object] = {}


def _production_schema():
    if "schema" not in _cache:
        _cache["schema"] = build_schema(introspection=False)
    return _cache["schema"]


def _production_rules() -> tuple:
    from graphql import specified_rules

    from schema.execution.document_limits import NoIntrospection

    return (*specified_rules, NoIntrospection)


def cpu_seconds(document: str, *, attempts: int = 3) -> float:
    """CPU time of this thread to parse and validate ``document`` (no caches), best of a few.

    The thread's own clock leaves out other threads of the process (database pools, channel
    layers of earlier tests), and the best of three leaves out a garbage collection that
    happened to fall into one run: the bound is on the document's own cost.
    """
    timings = []
    for _ in range(attempts):
        start = time.thread_time()
        answer_errors(document)
        timings.append(time.thread_time() - start)
    return min(timings)
