"""Time parsing and validating adversarial GraphQL documents beside a trivial query.

Run from the project root (the file is not collected by pytest)::

    .venv/bin/python -m tests.benchmarks.bench_validation

Each document of ``tests/support/adversarial_documents.py`` is parsed and validated as the endpoint
does it (token limit, ``schema.execution.document_limits``, graphql-core's rules), without the parser
and validation caches, ``--runs`` times; the median CPU time is printed.
"""

from __future__ import annotations

import argparse
import os
import statistics

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings_test")

import django  # noqa: E402

django.setup()

from tests.benchmarks.report import print_table  # noqa: E402
from tests.support.adversarial_documents import ADVERSARIES, TRIVIAL, answer_errors, cpu_seconds  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    answer_errors(TRIVIAL)  # build the schema
    rows = []
    for name, document, answer in [
        ("trivial: { __typename }", TRIVIAL, None),
        *((a.name, a.document, a.first_error) for a in ADVERSARIES),
    ]:
        seconds = statistics.median(cpu_seconds(document) for _ in range(runs))
        outcome = "valid" if answer is None else answer[:60] + ("…" if len(answer) > 60 else "")
        rows.append((name, f"{len(document):,}", f"{seconds * 1000:.2f}", outcome))
    print_table(("document", "bytes", "CPU ms (median)", "answer"), rows, text_columns=1)


if __name__ == "__main__":
    main()
