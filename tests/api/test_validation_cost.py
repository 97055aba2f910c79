"""Validation costs time linear in the document: adversarial documents are answered fast.

Each document of ``tests/support/adversarial_documents.py`` is held to a CPU-time cap far below a
second (the fragment fan-out of issue #11 took 3.8 s at 20 levels and doubled with each
level) and, where the work can be counted, to an exact count: every fragment is measured
once, and graphql-core's overlapping-fields check compares at most
``MAX_SAME_RESPONSE_KEY`` fields per field.
"""

from __future__ import annotations

import time

import pytest
from graphql import FieldNode, FragmentSpreadNode, InlineFragmentNode, Visitor, parse, visit
from graphql.validation.rules import overlapping_fields_can_be_merged

from schema.execution import document_limits
from schema.execution.document_limits import (
    MAX_EXPANDED_FIELDS,
    MAX_SAME_RESPONSE_KEY,
    measure_document,
)
from tests.support.adversarial_documents import (
    ADVERSARIES,
    TRIVIAL,
    answer_errors,
    cpu_seconds,
    fragment_fan_out,
    long_string,
    same_name_subtrees,
    wide_fan_out,
)
from tests.support.helpers import graphql

# CPU seconds one adversarial document may cost (parse and validate); each adversary names
# its own cap (``Adversary.cpu_cap_seconds``, 0.3 s unless its size alone costs more). The
# 1,000,000-character string measured 0.2 to 0.4 s here, all of it graphql-core's lexer
# reading every character, so it has 1.0 s and a linear-growth test of its own below.
CPU_CAP_SECONDS = 0.3


def selections_in(document: str) -> int:
    """Count the selections written in a document (fields, spreads, inline fragments)."""

    class Counter(Visitor):
        count = 0

        def enter(self, node, *_):
            if isinstance(node, FieldNode | FragmentSpreadNode | InlineFragmentNode):
                Counter.count += 1

    visit(parse(document, no_location=True), Counter())
    return Counter.count


@pytest.fixture(scope="module", autouse=True)
def _warm_schema():
    answer_errors(TRIVIAL)


@pytest.mark.parametrize("adversary", ADVERSARIES, ids=[a.name for a in ADVERSARIES])
def test_an_adversarial_document_is_answered_within_the_cpu_cap(adversary):
    # when
    errors = answer_errors(adversary.document)
    seconds = cpu_seconds(adversary.document)

    # then
    first = errors[0].message if errors else None
    assert first == adversary.first_error
    assert seconds < adversary.cpu_cap_seconds, f"{adversary.name}: {seconds:.3f} s of CPU"


def test_a_long_string_costs_time_linear_in_its_length():
    # when: the same document with a string four times as long
    short = cpu_seconds(long_string(250_000))
    long = cpu_seconds(long_string(1_000_000))

    # then: about four times the CPU (linear), far from the sixteen of a quadratic reading
    assert long < 8 * short, f"{short:.3f} s for 250,000 characters, {long:.3f} s for 1,000,000"


@pytest.mark.parametrize(
    ("document", "fragments"),
    [(fragment_fan_out(30), 31), (wide_fan_out(99, 4), 99)],
    ids=["fan-out-30", "wide-99x4"],
)
def test_each_fragment_is_measured_once_whatever_its_spreads(document, fragments):
    # when
    report = measure_document(parse(document))

    # then: one walk per fragment, one visit per written selection
    assert report.fragments_measured == fragments
    assert report.selections_walked == selections_in(document)


def test_the_overlapping_fields_check_is_bounded_by_the_response_key_limit(monkeypatch):
    # given: the most copies of one sub-tree the limits let through
    document = same_name_subtrees(MAX_SAME_RESPONSE_KEY)
    fields = selections_in(document)
    calls = []
    original = overlapping_fields_can_be_merged.find_conflict

    def counting(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(overlapping_fields_can_be_merged, "find_conflict", counting)

    # when
    errors = answer_errors(document)

    # then: every copy compared with every other, level by level, and no more
    assert errors == []
    assert fields == 6 * MAX_SAME_RESPONSE_KEY
    pairs = MAX_SAME_RESPONSE_KEY * (MAX_SAME_RESPONSE_KEY - 1) // 2
    assert len(calls) == 6 * pairs
    assert len(calls) <= MAX_SAME_RESPONSE_KEY * fields


def test_one_more_field_than_the_limit_is_refused_and_the_limit_is_not():
    def fields(count: int) -> str:
        # Distinct unknown fields: only graphql-core's rules object to them.
        return "query Big { " + " ".join(f"f{i}" for i in range(count)) + " }"

    at_limit = [e.message for e in answer_errors(fields(MAX_EXPANDED_FIELDS))]
    over = [e.message for e in answer_errors(fields(MAX_EXPANDED_FIELDS + 1))]

    assert at_limit[0] == "Cannot query field 'f0' on type 'Query'."
    assert over == ["'Big' selects 1001 fields once its fragments are expanded. Allowed: 1000"]


@pytest.mark.django_db
def test_the_fan_out_of_the_issue_is_refused_over_http_at_once(client, monkeypatch):
    # given: the 829-byte document that kept a worker busy for minutes at 30 levels
    document = fragment_fan_out(30)
    measured = []
    original = document_limits.measure_document

    def timed(parsed):
        # The view validates on a worker thread: time that thread's own CPU, so other
        # threads of a loaded machine cannot fail the test.
        start = time.thread_time()
        report = original(parsed)
        measured.append((report.fragments_measured, time.thread_time() - start))
        return report

    monkeypatch.setattr(document_limits, "measure_document", timed)
    document_limits.validate_within_limits.cache_clear()

    # when
    body = graphql(client, document)

    # then: refused by the limits, each of the 31 fragments walked once, in a few milliseconds
    assert body == {
        "data": None,
        "errors": [
            {
                "message": "'FanOut' selects more than 1,000,000,000 fields once its fragments "
                "are expanded. Allowed: 1000",
                "locations": [{"line": 1, "column": 1}],
            }
        ],
    }
    assert [fragments for fragments, _ in measured] == [31]
    assert measured[0][1] < CPU_CAP_SECONDS
