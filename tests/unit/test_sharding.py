"""Sharding: a stable hash of the target name splits targets over n replicas."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml

from monitor.config import parse_config
from monitor.sharding import Shard, parse_shard, select, shard_of

NAMES = [f"target-{i:04d}" for i in range(1000)]


def assignments_in_a_new_process(count: int) -> dict[str, int]:
    code = (
        "import json, sys; from monitor.sharding import shard_of; "
        f"print(json.dumps({{n: shard_of(n, {count}) for n in json.load(sys.stdin)}}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        input=json.dumps(NAMES),
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONHASHSEED": "random"},
    )
    return dict(json.loads(out.stdout))


def test_assignment_is_identical_in_two_separate_processes() -> None:
    assert assignments_in_a_new_process(4) == assignments_in_a_new_process(4)
    assert assignments_in_a_new_process(4) == {n: shard_of(n, 4) for n in NAMES}


def test_every_target_runs_in_exactly_one_shard() -> None:
    shards = [Shard(i, 4) for i in range(4)]
    for name in NAMES:
        assert sum(s.owns(name) for s in shards) == 1


def test_thousand_names_spread_within_twenty_percent_of_even_over_four_shards() -> None:
    counts = [sum(shard_of(n, 4) == i for n in NAMES) for i in range(4)]
    assert sum(counts) == 1000
    assert all(200 <= c <= 300 for c in counts), counts


@pytest.mark.parametrize(
    ("text", "shard"), [("0/4", Shard(0, 4)), (" 3 / 4 ", Shard(3, 4)), ("0/1", Shard(0, 1))]
)
def test_shard_is_parsed(text: str, shard: Shard) -> None:
    assert parse_shard(text) == shard


@pytest.mark.parametrize("text", ["4/4", "1", "a/b", "-1/4", "0/0", "1/2/3"])
def test_bad_shard_is_a_clear_error(text: str) -> None:
    with pytest.raises(ValueError, match="shard"):
        parse_shard(text)


def test_select_keeps_only_this_shards_targets() -> None:
    config = parse_config(
        yaml.safe_load(
            "targets:\n" + "".join(f"  - name: t{i}\n    simulator: {{}}\n" for i in range(20))
        )
    )
    kept = [[t.name for t in select(config, Shard(i, 3)).targets] for i in range(3)]
    assert sorted(n for names in kept for n in names) == sorted(t.name for t in config.targets)
    assert all(shard_of(n, 3) == i for i, names in enumerate(kept) for n in names)
    assert select(config, None) is config
