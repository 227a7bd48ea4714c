"""The silence store: API silences survive a restart; a damaged file does not stop the daemon."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.alerts.config import SilenceConfig
from monitor.alerts.silences import FILE, SilenceStore


def test_api_silences_are_read_back_by_a_new_store(tmp_path: Path) -> None:
    added = SilenceStore(tmp_path).add({"target": "sim"}, 2_000_000_000.0, "maintenance")
    assert SilenceStore(tmp_path).all() == [added]


def test_removed_and_expired_silences_are_gone_after_a_restart(tmp_path: Path) -> None:
    store = SilenceStore(tmp_path)
    removed = store.add({"target": "a"}, None, "")
    store.add({"target": "b"}, 100.0, "")
    kept = store.add({"target": "c"}, None, "")
    assert store.remove(removed.id)
    assert not store.remove(removed.id)
    store.prune(now=200.0)
    assert SilenceStore(tmp_path).all() == [kept]


def test_config_silences_are_listed_but_not_persisted(tmp_path: Path) -> None:
    store = SilenceStore(tmp_path)
    store.configure([SilenceConfig(matchers={"kind": "slow"})])
    assert [s.id for s in store.all()] == ["config-0"]
    assert SilenceStore(tmp_path).all() == []


@pytest.mark.parametrize(
    "content",
    ["not json", '{"id": "x"}', '[{"matchers": {"a": "b"}}]', '[{"id": "x", "matchers": 3}]'],
)
def test_damaged_file_starts_without_api_silences(
    tmp_path: Path, content: str, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / FILE).write_text(content)
    assert SilenceStore(tmp_path).all() == []
    assert "starting without API silences" in caplog.text
