"""The README's generated reference sections match the code."""

from __future__ import annotations

from monitor.docs import README, SECTIONS, render


def test_generated_readme_sections_are_current() -> None:
    text = README.read_text(encoding="utf-8")
    for name in SECTIONS:
        assert f"<!-- generated:{name} -->" in text, f"README lacks the {name} section"
    assert render(text) == text, "README is out of date: run `python -m monitor.docs`"


def test_metrics_reference_lists_every_metric_of_ours() -> None:
    text = README.read_text(encoding="utf-8")
    for name in (
        "consistency_probe_success",
        "consistency_sync_latency_seconds",
        "consistency_sync_timeouts_total",
        "consistency_alerts",
        "consistency_janitor_removed_total",
        "consistency_build_info",
    ):
        assert f"`{name}`" in text
