"""What a reload changed, as the log line says it: counts and the first few job ids."""

from __future__ import annotations

from monitor.scheduler import Changes


def test_the_summary_counts_every_kind_and_names_a_few_jobs() -> None:
    changes = Changes(
        added=["a:load"],
        removed=[],
        changed=[f"t{i}:create_sync" for i in range(7)],
        unchanged=3,
    )
    assert changes.summary(most=5) == (
        "1 added (a:load); 0 removed; 7 changed (t0:create_sync, t1:create_sync, "
        "t2:create_sync, t3:create_sync, t4:create_sync and 2 more); 3 unchanged"
    )


def test_the_summary_of_a_reload_that_changed_nothing() -> None:
    assert Changes(unchanged=10).summary() == "0 added; 0 removed; 0 changed; 10 unchanged"
