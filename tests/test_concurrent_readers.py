"""Concurrent readers: processes querying the serving file throughout a nightly run never fail
and never see a partial publication.

Three reader processes (tests/crash_harness.py `reader`) open the serving file read-only in
a loop, as BI tools do; one of them keeps each connection open for a second across
publications. They start while a first publication is serving and go on through a whole
`cvw run` (its extraction, dbt, fit, gate and publication), then two more publications, two
rollbacks and a publication killed midway (`crash_harness.reference_run`, whose nightly run
is also the reference of the crash trials). Each read checks that the publication it finds
is whole: the tables the last `publication_log` row names, with the row counts it
recorded, customer_value summing to its net revenue total, all as of its date.
"""

from __future__ import annotations

import pytest

from . import crash_harness as harness

pytestmark = pytest.mark.usefixtures("manifest")


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> harness.Reference:
    return harness.reference_run(tmp_path_factory)


def test_readers_never_fail_to_open_or_query_the_serving_file(reference):
    assert [(r["error_count"], r["errors"]) for r in reference.readers] == [(0, [])] * len(reference.readers)


def test_readers_never_see_a_partial_publication(reference):
    assert [(r["partial_count"], r["partial"]) for r in reference.readers] == [(0, [])] * len(reference.readers)


def test_readers_read_throughout_and_saw_the_publications_change(reference):
    seen = set().union(*(r["seen"] for r in reference.readers))
    assert all(r["reads"] >= 50 for r in reference.readers), [r["reads"] for r in reference.readers]
    # the first publication while the nightly run worked, the nightly one after it, and later ones
    assert {reference.publications[0], reference.run_id} <= seen
    assert len(seen & set(reference.publications)) >= 4
    assert seen <= set(reference.publications)  # nothing but complete publications, never the killed one
    assert "killed" not in seen
