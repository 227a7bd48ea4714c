"""docs/alerting.md stays true: its config example loads and names the real defaults."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from monitor.alerts.config import AlertsConfig
from monitor.config import load_config

DOC = Path(__file__).resolve().parents[3] / "docs" / "alerting.md"


def config_example() -> str:
    text = DOC.read_text(encoding="utf-8")
    section = text[text.index("## Configuration") :]
    found = re.search(r"```yaml\n(.*?)```", section, re.DOTALL)
    assert found, "docs/alerting.md: no yaml block under ## Configuration"
    return found.group(1)


@pytest.fixture
def example_file(tmp_path: Path) -> Path:
    """The example as a whole config file, its `*_file` secrets present under tmp_path."""
    example = config_example()
    for name in re.findall(r"/run/secrets/([\w-]+)", example):
        (tmp_path / name).write_text("s3cret\n")
    text = "targets:\n  - name: sim\n    simulator: {}\n" + example
    path = tmp_path / "monitor.yaml"
    path.write_text(text.replace("/run/secrets/", f"{tmp_path}/"))
    return path


def test_config_example_loads(example_file: Path) -> None:
    config = load_config(example_file)
    assert config.alerts.webhooks[0].secret is not None
    assert config.alerts.silences[0].ends_at is not None


def test_config_example_shows_the_defaults_where_it_says_so(example_file: Path) -> None:
    shown = load_config(example_file).alerts
    defaults = AlertsConfig()
    assert shown.rules == defaults.rules
    assert (shown.evaluation_interval, shown.resend_interval, shown.queue_size) == (
        defaults.evaluation_interval,
        defaults.resend_interval,
        defaults.queue_size,
    )
