"""The `check` table, the syncs cell, percentiles and `--repeat` summaries."""

from __future__ import annotations

import pytest

from monitor.report import (
    Latency,
    ms,
    percentile,
    results_table,
    summarise,
    summary_table,
    summary_to_dict,
    syncs_cell,
    table,
    tally,
)
from monitor.results import Inconsistency, Outcome, ProbeResult, Sync


def run(
    probe: str = "create_sync",
    outcome: Outcome = "pass",
    *syncs: Sync,
    target: str = "sim",
    duration: float = 0.05,
    error: str | None = None,
    found: tuple[Inconsistency, ...] = (),
) -> ProbeResult:
    return ProbeResult(target, probe, outcome, 0.0, duration, syncs, (), found, error)


# -- the table -----------------------------------------------------------------------------


def test_columns_are_aligned_on_the_widest_cell() -> None:
    text = table([("a", "long-value", "x"), ("longer", "b", "free text")], ("H1", "H2", "H3"))
    assert text.splitlines() == [
        "H1      H2          H3",
        "a       long-value  x",
        "longer  b           free text",
    ]


def test_the_last_column_is_not_padded() -> None:
    lines = table([("a", "x"), ("b", "much longer text")], ("K", "V")).splitlines()
    assert [line.endswith(" ") for line in lines] == [False, False, False]


def test_a_wide_header_sets_the_column_width() -> None:
    assert table([("a", "b")], ("WIDE HEADER", "V")).splitlines()[1] == "a            b"


def test_the_results_table_has_a_header_and_a_row_per_result() -> None:
    results = [
        run("create_sync", "pass", Sync("create", 0.041, 3)),
        run("delete_cascade", "fail", found=(Inconsistency("cascade", "2 survived"),)),
        run("rollback", "error", target="shop", error="auth.transaction: 503"),
    ]
    lines = results_table(results).splitlines()
    assert lines[0].split() == ["TARGET", "PROBE", "OUTCOME", "SYNC", "LATENCY", "TOTAL", "FOUND"]
    assert lines[1].split() == ["sim", "create_sync", "PASS", "create", "41ms", "50ms", "-"]
    assert lines[2].endswith("FAIL     -             50ms   cascade: 2 survived")
    assert lines[3].endswith("ERROR    -             50ms   error: auth.transaction: 503")
    columns = {
        line.index(word)
        for line, word in zip(lines, ["PROBE", "create", "delete", "roll"], strict=True)
    }
    assert len(columns) == 1


def test_the_tally_counts_each_outcome() -> None:
    results = [run(), run(), run(outcome="fail"), run(outcome="error", error="x")]
    assert tally(results) == "4 runs: 2 passed, 1 failed, 1 errors"


# -- the syncs cell ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("syncs", "cell"),
    [
        ((), "-"),
        ((Sync("create", 0.041, 3),), "create 41ms"),
        ((Sync("create", 0.041, 3), Sync("delete", 1.5, 9)), "create 41ms, delete 1.50s"),
        (
            (Sync("update", 0.040, 2), Sync("update", 0.120, 4), Sync("update", 0.060, 3)),
            "update 120ms (max of 3)",
        ),
        ((Sync("update", None, 50),), "update never"),
        (
            (Sync("create", 0.03, 1), Sync("update", 0.04, 1), Sync("update", None, 50)),
            "create 30ms, update never (1 of 2 arrived)",
        ),
        ((Sync("delete", None, 5), Sync("delete", None, 5)), "delete never (0 of 2 arrived)"),
    ],
    ids=["none", "one", "two-ops", "several-of-one-op", "never", "one-never", "all-never"],
)
def test_the_syncs_cell_shows_the_worst_sync_of_each_operation(
    syncs: tuple[Sync, ...], cell: str
) -> None:
    assert syncs_cell(syncs) == cell


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0.0004, "0.4ms"), (0.0025, "2.5ms"), (0.041, "41ms"), (0.9994, "999ms"), (1.234, "1.23s")],
)
def test_durations_show_enough_digits(seconds: float, text: str) -> None:
    assert ms(seconds) == text


# -- percentiles ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [
        ([5.0], 0.5, 5.0),
        ([5.0], 0.99, 5.0),
        ([1.0, 2.0, 3.0], 0.5, 2.0),
        ([4.0, 1.0, 3.0, 2.0], 0.5, 2.5),
        ([1.0, 2.0, 3.0, 4.0], 0.0, 1.0),
        ([1.0, 2.0, 3.0, 4.0], 1.0, 4.0),
        (list(range(1, 101)), 0.99, 99.01),
        ([1.0, 1.0, 1.0, 10.0], 0.99, 9.73),
    ],
)
def test_percentile_interpolates_between_closest_ranks(
    values: list[float], q: float, expected: float
) -> None:
    assert percentile(values, q) == pytest.approx(expected)


def test_percentile_agrees_with_the_median() -> None:
    values = [0.3, 0.1, 0.7, 0.2, 0.9, 0.4]
    assert percentile(values, 0.5) == pytest.approx(0.35)


@pytest.mark.parametrize(("values", "q"), [([], 0.5), ([1.0], -0.1), ([1.0], 1.5)])
def test_percentile_refuses_what_has_no_answer(values: list[float], q: float) -> None:
    with pytest.raises(ValueError):
        percentile(values, q)


# -- summaries -----------------------------------------------------------------------------


def repeated() -> list[ProbeResult]:
    return [
        run("create_sync", "pass", Sync("create", 0.010, 2), duration=0.1),
        run("create_sync", "pass", Sync("create", 0.030, 2), duration=0.3),
        run("create_sync", "fail", Sync("create", None, 9), duration=5.0),
        run("create_sync", "error", duration=0.2, error="x"),
        run("rollback", "pass", duration=0.02),
    ]


def test_a_summary_per_target_and_probe_in_first_seen_order() -> None:
    summaries = summarise(repeated())
    assert [(s.target, s.probe, s.runs) for s in summaries] == [
        ("sim", "create_sync", 4),
        ("sim", "rollback", 1),
    ]
    first = summaries[0]
    assert (first.passed, first.failed, first.errors) == (2, 1, 1)
    assert first.duration_p50 == pytest.approx(0.25)
    assert list(first.latency) == ["create"]
    latency = first.latency["create"]
    assert (latency.p50, latency.p99) == pytest.approx((0.02, 0.0298))
    assert (latency.observations, latency.never) == (2, 1)


def test_the_summary_table_shows_rates_and_percentiles() -> None:
    lines = summary_table(summarise(repeated())).splitlines()
    assert lines[0].split() == [
        "TARGET", "PROBE", "RUNS", "SUCCESS", "FAIL", "ERROR", "TOTAL", "P50", "SYNC", "LATENCY",
    ]  # fmt: skip
    assert lines[1].split()[2:7] == ["4", "50.0%", "1", "1", "250ms"]
    assert lines[1].endswith("create p50 20ms p99 30ms (1 never)")
    assert lines[2].endswith("-")


def test_a_summary_serialises_with_rounded_seconds() -> None:
    data = summary_to_dict(summarise(repeated())[0])
    assert data == {
        "target": "sim",
        "probe": "create_sync",
        "runs": 4,
        "passed": 2,
        "failed": 1,
        "errors": 1,
        "success_ratio": 0.5,
        "duration_p50_seconds": 0.25,
        "sync_latency": {
            "create": {"p50_seconds": 0.02, "p99_seconds": 0.0298, "observations": 2, "never": 1}
        },
    }


def test_an_operation_that_never_synced_has_no_percentiles() -> None:
    summary = summarise([run("create_sync", "fail", Sync("create", None, 9))])[0]
    assert summary.latency == {"create": Latency(None, None, 0, 1)}
    assert summary_table([summary]).endswith("create never")
