"""The config file: every bad config is named by its key path, secrets never leak."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from monitor.config import Config, ConfigError, load_config, parse_config
from monitor.probes import PROBE_NAMES
from monitor.settings import Deadlines

VALID_PROBES = ", ".join(PROBE_NAMES)
NAME_RULE = "must be 1-63 letters, digits, `_`, `.` or `-`, starting alphanumeric"
SECRET = "s3cr3t-Value-Nobody-Should-See"


def target(**extra: Any) -> dict[str, Any]:
    return {"name": "a", "simulator": {}, **extra}


def doc(**top: Any) -> dict[str, Any]:
    return {"targets": [target()], **top}


def errors_of(data: object, **kwargs: Any) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(data, **kwargs)
    return caught.value.errors


def probe(name: str, **settings: Any) -> dict[str, Any]:
    return doc(targets=[target(probes={name: settings})])


def faults(**values: Any) -> dict[str, Any]:
    return doc(targets=[target(simulator={"faults": values})])


BAD_CONFIGS: list[tuple[str, object, str]] = [
    (
        "unknown top-level key",
        doc(bogus=1),
        "bogus: unknown key (valid: defaults, targets, server, alerts)",
    ),
    (
        "unknown key, depth 2",
        doc(defaults={"intervall": "5s"}),
        "defaults.intervall: unknown key (did you mean interval?)",
    ),
    (
        "unknown key, depth 3",
        doc(defaults={"deadlines": {"giveup": "5s"}}),
        "defaults.deadlines.giveup: unknown key (did you mean give_up?)",
    ),
    (
        "unknown key in a target",
        doc(targets=[target(colour="red")]),
        "targets[0].colour: unknown key "
        "(valid: name, simulator, auth, backend, janitor, probes, max_concurrency, "
        "synthetic_domain)",
    ),
    (
        "unknown key, depth 5",
        faults(drop_sync={"create": 0.1, "upsert": 0.1}),
        "targets[0].simulator.faults.drop_sync.upsert: unknown key (valid: create, update, delete)",
    ),
    (
        "unknown key in probe settings",
        probe("create_sync", every="5s"),
        "targets[0].probes.create_sync.every: unknown key "
        "(valid: interval, timeout, jitter, deadlines)",
    ),
    (
        "not a duration",
        probe("create_sync", interval="soon"),
        "targets[0].probes.create_sync.interval: not a duration (expected e.g. 500ms, 30s, 5m)",
    ),
    ("zero interval", doc(defaults={"interval": 0}), "defaults.interval: must be greater than 0"),
    (
        "negative probe timeout",
        probe("create_sync", timeout=-1),
        "targets[0].probes.create_sync.timeout: must be greater than 0",
    ),
    (
        "zero deadline",
        doc(defaults={"deadlines": {"sync": "0s"}}),
        "defaults.deadlines.sync: must be greater than 0",
    ),
    (
        "zero probe deadline",
        probe("create_sync", deadlines={"give_up": 0}),
        "targets[0].probes.create_sync.deadlines.give_up: must be greater than 0",
    ),
    ("negative jitter", doc(defaults={"jitter": -0.5}), "defaults.jitter: must be at least 0"),
    (
        "sync >= give_up",
        doc(defaults={"deadlines": {"sync": "5s", "give_up": "5s"}}),
        "defaults.deadlines: sync must be shorter than give_up",
    ),
    (
        "probe sync >= default give_up",
        probe("create_sync", deadlines={"sync": "6s"}),
        "targets[0].probes.create_sync.deadlines: sync must be shorter than give_up "
        "(one of them comes from defaults.deadlines)",
    ),
    (
        "probe sync >= probe give_up",
        probe("create_sync", deadlines={"sync": "2s", "give_up": "1s"}),
        "targets[0].probes.create_sync.deadlines: sync must be shorter than give_up",
    ),
    (
        "probe timeout under worst case",
        probe("delete_cascade", timeout="5s"),
        "targets[0].probes.delete_cascade.timeout: 5s is shorter than the worst case of "
        "probe delete_cascade under its deadlines; set at least 10s",
    ),
    (
        "default timeout under worst case",
        doc(defaults={"timeout": "6s"}, targets=[target(probes=["create_sync", "load"])]),
        "defaults.timeout: 6s is shorter than the worst case of probe load on target a "
        "under its deadlines; set at least 8s",
    ),
    (
        "fault probability > 1",
        faults(skip_cascade=1.5),
        "targets[0].simulator.faults.skip_cascade: must be at most 1",
    ),
    (
        "negative fault probability",
        faults(auth_errors=-0.1),
        "targets[0].simulator.faults.auth_errors: must be at least 0",
    ),
    (
        "per-operation shorthand > 1",
        faults(drop_sync=2),
        "targets[0].simulator.faults.drop_sync: must be at most 1",
    ),
    (
        "per-operation probability > 1",
        faults(drop_sync={"delete": 1.01}),
        "targets[0].simulator.faults.drop_sync.delete: must be at most 1",
    ),
    (
        "duplicate target names",
        doc(targets=[target(), target(), target()]),
        "targets[2].name: duplicate target name (also targets[0])",
    ),
    (
        "unknown probe in a mapping",
        probe("create_snyc"),
        f"targets[0].probes.create_snyc: unknown probe (valid: {VALID_PROBES})",
    ),
    (
        "unknown probe in a list",
        doc(targets=[target(probes=["load", "lod"])]),
        f"targets[0].probes.lod: unknown probe (valid: {VALID_PROBES})",
    ),
    (
        "probes neither list nor mapping",
        doc(targets=[target(probes="all")]),
        "targets[0].probes: expected a list of probe names, or a mapping of name to settings",
    ),
    (
        "probe list of non-names",
        doc(targets=[target(probes=[{"load": None}])]),
        "targets[0].probes: expected a list of probe names, or a mapping of name to settings",
    ),
    (
        "probe settings not a mapping",
        doc(targets=[target(probes={"load": 5})]),
        "targets[0].probes.load: expected a mapping",
    ),
    ("missing targets", {"defaults": {}}, "targets: required"),
    ("empty targets", {"targets": []}, "targets: must not be empty"),
    ("targets not a list", {"targets": {"name": "a"}}, "targets: expected a list"),
    ("target not a mapping", {"targets": ["a"]}, "targets[0]: expected a mapping"),
    ("target without a name", {"targets": [{"simulator": {}}]}, "targets[0].name: required"),
    ("bad target name", doc(targets=[target(name="my target")]), f"targets[0].name: {NAME_RULE}"),
    ("target name too long", doc(targets=[target(name="a" * 64)]), f"targets[0].name: {NAME_RULE}"),
    (
        "target name not a string",
        doc(targets=[target(name=7)]),
        "targets[0].name: expected a string",
    ),
    (
        "target without a kind",
        {"targets": [{"name": "a"}]},
        "targets[0]: a target needs a `simulator:` block, or `auth:` and `backend:`",
    ),
    (
        "zero max_concurrency",
        doc(targets=[target(max_concurrency=0)]),
        "targets[0].max_concurrency: must be at least 1",
    ),
    ("history out of range", doc(server={"history": 0}), "server.history: must be at least 1"),
    ("section not a mapping", doc(server="0.0.0.0:9465"), "server: expected a mapping"),
    ("non-string key", {"targets": [target()], 1: 2}, "1: keys must be strings"),
]


@pytest.mark.parametrize(
    ("document", "expected"), [c[1:] for c in BAD_CONFIGS], ids=[c[0] for c in BAD_CONFIGS]
)
def test_bad_config_is_reported_with_its_key_path(document: object, expected: str) -> None:
    assert expected in errors_of(document)


def test_there_are_at_least_twenty_bad_config_cases() -> None:
    assert len(BAD_CONFIGS) >= 20


@pytest.mark.parametrize("document", [c[1] for c in BAD_CONFIGS], ids=[c[0] for c in BAD_CONFIGS])
def test_error_paths_hold_no_pydantic_internals(document: object) -> None:
    for line in errors_of(document):
        path = line.split(": ", 1)[0]
        assert not re.search(r"function-|dict\[|list\[|\[key\]|nullable|Config\b", path), line
        assert not line.startswith(("Value error", "Input should")), line


def test_every_problem_of_a_config_is_reported() -> None:
    document = {
        "defaults": {"interval": "often", "deadlines": {"sync": -1}},
        "targets": [target(colour="red"), target(name="b c", probes=["nope"])],
        "server": {"history": 0},
    }
    assert errors_of(document) == [
        "defaults.interval: not a duration (expected e.g. 500ms, 30s, 5m)",
        "defaults.deadlines.sync: must be greater than 0",
        "targets[0].colour: unknown key (valid: name, simulator, auth, backend, janitor, probes, "
        "max_concurrency, synthetic_domain)",
        f"targets[1].name: {NAME_RULE}",
        f"targets[1].probes.nope: unknown probe (valid: {VALID_PROBES})",
        "server.history: must be at least 1",
    ]


def test_cross_key_problems_are_all_reported_once_the_shape_is_right() -> None:
    overrides = {"create_sync": {"timeout": "1s"}, "load": {"deadlines": {"sync": "9s"}}}
    document = doc(targets=[target(probes=overrides), target()])
    assert errors_of(document) == [
        "targets[1].name: duplicate target name (also targets[0])",
        "targets[0].probes.load.deadlines: sync must be shorter than give_up "
        "(one of them comes from defaults.deadlines)",
        "targets[0].probes.create_sync.timeout: 1s is shorter than the worst case of probe "
        "create_sync under its deadlines; set at least 5s",
    ]


@pytest.mark.parametrize(
    "document",
    [
        doc(server={"history": SECRET}),
        doc(targets=[target(name=f"{SECRET}!")]),
        doc(targets=[target(simulator={"seed": SECRET})]),
        doc(defaults={"timeout": SECRET}),
        doc(targets=[target(probes=SECRET)]),
        faults(drop_sync=SECRET),
        doc(server={"admin_token": [SECRET]}),
        doc(targets=[target(synthetic_domain=[SECRET])]),
    ],
    ids=["int", "name", "seed", "duration", "probes", "per-operation", "secret-list", "list"],
)
def test_messages_never_echo_the_offending_value(document: object) -> None:
    errors = errors_of(document)
    assert errors
    assert all(SECRET not in line for line in errors)


def test_a_jitter_of_zero_is_allowed() -> None:
    config = parse_config(probe("create_sync", jitter=0))
    assert config.probe_settings(config.targets[0], "create_sync").jitter == 0


def test_a_probe_list_runs_those_probes_with_the_defaults() -> None:
    config = parse_config(doc(targets=[target(probes=["load", "create_sync"])]))
    assert config.probe_names(config.targets[0]) == ["load", "create_sync"]
    assert config.probe_settings(config.targets[0], "load").timeout == 25.0


def test_a_probe_mapping_overlays_its_settings_on_the_defaults() -> None:
    document = doc(
        defaults={"interval": "1m", "deadlines": {"sync": "500ms", "give_up": "4s"}},
        targets=[
            target(
                probes={
                    "load": {"timeout": "20s", "deadlines": {"give_up": "6s"}},
                    "rollback": None,
                }
            )
        ],
    )
    config = parse_config(document)
    settings = config.probe_settings(config.targets[0], "load")
    assert settings.deadlines == Deadlines(sync=0.5, give_up=6.0, load=3.0)
    assert (settings.timeout, settings.interval) == (20.0, 60.0)
    assert config.probe_settings(config.targets[0], "rollback").deadlines.give_up == 4.0
    assert config.probe_names(config.targets[0]) == ["load", "rollback"]


def test_no_probes_key_means_every_probe() -> None:
    config = parse_config(doc())
    assert config.probe_names(config.targets[0]) == list(PROBE_NAMES)


def test_an_empty_simulator_block_means_the_simulator_defaults() -> None:
    config = parse_config({"targets": [{"name": "a", "simulator": None}]})
    assert config.targets[0].simulator is not None


def test_the_embedded_default_config_is_valid() -> None:
    config = load_config(None)
    assert [t.name for t in config.targets] == ["sim"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([1, 2], "the file must be a YAML mapping (`key: value` lines), starting with `targets:`"),
        (
            "targets",
            "the file must be a YAML mapping (`key: value` lines), starting with `targets:`",
        ),
        (None, "the file is empty; it needs at least a `targets:` list"),
    ],
)
def test_a_document_that_is_not_a_mapping_is_refused(data: object, message: str) -> None:
    assert errors_of(data) == [message]


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def load_errors(path: Path, env: dict[str, str] | None = None) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        load_config(path, env=env or {})
    return caught.value


def test_bad_yaml_is_reported_with_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path / "m.yaml", "targets:\n  - name: a\n   simulator: {}\n")
    error = load_errors(path)
    assert error.source == str(path)
    assert error.errors[0].startswith("line 3, column 4: not valid YAML")


def test_a_key_given_twice_is_bad_yaml(tmp_path: Path) -> None:
    path = write(tmp_path / "m.yaml", "targets:\n  - name: a\n    simulator: {}\n    name: b\n")
    assert load_errors(path).errors == ["line 4, column 5: not valid YAML: duplicate key name"]


def test_an_unreadable_file_is_reported(tmp_path: Path) -> None:
    error = load_errors(tmp_path / "missing.yaml")
    assert error.errors == ["cannot read: No such file or directory"]


def test_an_empty_file_is_reported(tmp_path: Path) -> None:
    assert load_errors(write(tmp_path / "m.yaml", "")).errors[0].startswith("the file is empty")


# -- ${VAR} interpolation ------------------------------------------------------------------


def test_environment_variables_are_substituted(tmp_path: Path) -> None:
    path = write(tmp_path / "m.yaml", "targets:\n  - name: ${PREFIX}-${ENV}\n    simulator: {}\n")
    config = load_config(path, env={"PREFIX": "shop", "ENV": "prod"})
    assert config.targets[0].name == "shop-prod"


def test_an_unset_variable_is_an_error_naming_its_key_path(tmp_path: Path) -> None:
    path = write(
        tmp_path / "m.yaml",
        "defaults:\n  interval: ${EVERY}\ntargets:\n  - name: a\n    simulator: {}\n",
    )
    error = load_errors(path)
    assert error.source == str(path)
    assert error.errors == ["defaults.interval: environment variable EVERY is not set"]


def test_unset_variables_are_reported_with_the_other_problems() -> None:
    document = doc(targets=[target(name="${NAME}")], server={"history": 0})
    assert errors_of(document, env={}) == [
        "targets[0].name: environment variable NAME is not set",
        "server.history: must be at least 1",
    ]


def test_a_secret_from_the_environment_is_never_echoed() -> None:
    errors = errors_of(doc(server={"history": "${TOKEN}"}), env={"TOKEN": SECRET})
    assert errors == ["server.history: expected a whole number"]


# -- *_file secrets ------------------------------------------------------------------------


def secret_config(tmp_path: Path, server: str, content: str = SECRET + "\n") -> Path:
    (tmp_path / "secrets").mkdir(exist_ok=True)
    write(tmp_path / "secrets" / "token", content)
    text = f"targets:\n  - name: a\n    simulator: {{}}\nserver:\n{server}"
    return write(tmp_path / "m.yaml", text)


def test_a_file_secret_is_read_relative_to_the_config(tmp_path: Path) -> None:
    config = load_config(secret_config(tmp_path, "  admin_token_file: secrets/token\n"))
    token = config.server.admin_token
    assert isinstance(token, SecretStr)
    assert token.get_secret_value() == SECRET


def test_a_secret_never_shows_in_the_config_repr_or_str(tmp_path: Path) -> None:
    config = load_config(secret_config(tmp_path, "  admin_token_file: secrets/token\n"))
    for text in (repr(config), str(config), repr(config.server), config.model_dump_json()):
        assert SECRET not in text


def test_a_missing_secret_file_is_an_error_naming_its_key_path(tmp_path: Path) -> None:
    error = load_errors(secret_config(tmp_path, "  admin_token_file: secrets/nope\n"))
    assert error.source.endswith("m.yaml")
    assert error.errors == [
        "server.admin_token_file: cannot read secrets/nope: No such file or directory"
    ]


def test_a_secret_given_both_ways_is_an_error(tmp_path: Path) -> None:
    server = "  admin_token: inline\n  admin_token_file: secrets/token\n"
    assert load_errors(secret_config(tmp_path, server)).errors == [
        "server.admin_token_file: give either admin_token or admin_token_file, not both"
    ]


def test_a_secret_file_never_shows_in_errors(tmp_path: Path) -> None:
    server = "  admin_token_file: secrets/token\n  history: ${HISTORY}\n  listen: [1]\n"
    error = load_errors(secret_config(tmp_path, server))
    assert len(error.errors) == 2
    assert SECRET not in str(error)


def test_a_misplaced_secret_file_key_is_unknown_under_the_name_typed(tmp_path: Path) -> None:
    write(tmp_path / "token", SECRET)
    text = "targets:\n  - name: a\n    simulator: {}\n    admin_token_file: token\n"
    error = load_errors(write(tmp_path / "m.yaml", text))
    assert error.errors[0].startswith("targets[0].admin_token_file: unknown key")
    assert SECRET not in str(error)


def test_secret_file_keys_are_listed_as_valid_keys() -> None:
    assert errors_of(doc(server={"colour": "x"})) == [
        "server.colour: unknown key (valid: listen, external_url, admin_token, history, "
        "admin_token_file)"
    ]


# -- JSON Schema ---------------------------------------------------------------------------


def test_the_json_schema_describes_what_the_loader_accepts() -> None:
    schema = json.loads(json.dumps(Config.model_json_schema()))
    defs = schema["$defs"]
    interval = defs["Defaults"]["properties"]["interval"]
    assert [branch["type"] for branch in interval["anyOf"]] == ["number", "string"]
    assert defs["ServerConfig"]["properties"]["admin_token_file"]["type"] == "string"
    probes = defs["TargetConfig"]["properties"]["probes"]
    assert probes["propertyNames"] == {"enum": list(PROBE_NAMES)}
    assert probes["anyOf"][0] == {"type": "array", "items": {"enum": list(PROBE_NAMES)}}
    drop_sync = defs["FaultsConfig"]["properties"]["drop_sync"]
    assert drop_sync["anyOf"][0] == {"type": "number", "minimum": 0, "maximum": 1}
    assert not re.search(r"\"(gt|ge)\":", json.dumps(schema))


def _sql_target(**backend_queries: str) -> dict[str, object]:
    auth_queries = {
        "create": "INSERT INTO users (email) VALUES (:email) RETURNING id",
        "get": "SELECT email FROM users WHERE id = :id",
        "delete": "DELETE FROM users WHERE id = :id",
    }
    return {
        "name": "s",
        "auth": {
            "kind": "sql",
            "dsn": "sqlite:///a.db",
            "queries": auth_queries,
            "fields": ["email"],
        },
        "backend": {
            "kind": "sql",
            "dsn": "postgresql://u:hunter2@h/db",
            "queries": {"get_user": "SELECT email FROM m WHERE auth_id = :id", **backend_queries},
            "fields": ["email"],
        },
    }


def test_sql_query_binding_a_parameter_the_call_lacks_is_an_error_with_its_key() -> None:
    errors = errors_of(
        doc(targets=[_sql_target(count_users="SELECT count(*) FROM m WHERE x = :who")])
    )
    assert errors == [
        "targets[0].backend.queries.count_users: uses :who; count_users binds only :id"
    ]


def test_an_outage_cannot_be_configured_for_a_sql_backend() -> None:
    assert errors_of(doc(targets=[_sql_target(outage="SELECT 1")])) == [
        "targets[0].backend.queries.outage: an outage cannot be caused through SQL; "
        "use an http side"
    ]


def test_a_sql_target_runs_only_the_probes_its_queries_allow() -> None:
    count = "SELECT count(*) FROM m WHERE auth_id = :id"
    config = parse_config(doc(targets=[_sql_target(count_users=count)]))
    assert config.probe_names(config.targets[0]) == ["create_sync", "concurrent", "duplicate"]


def test_validate_warns_when_a_timeout_is_longer_than_the_interval(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from monitor.cli import main

    path = tmp_path / "c.yaml"
    path.write_text(
        "defaults: {interval: 10s, timeout: 25s}\n"
        "targets: [{name: a, simulator: {}, probes: [create_sync]}]\n"
    )
    assert main(["validate", str(path)]) == 0
    out, err = capsys.readouterr()
    assert "ok: 1 target(s)" in out
    assert "warning: targets[0] a:create_sync: timeout 25s is longer than the interval 10s" in err


def http_side(port: int, operations: dict[str, Any], fields: dict[str, str] | None = None) -> Any:
    """An HTTP side on a loopback port nothing answers on (the config is only loaded)."""
    side = {"kind": "http", "base_url": f"http://127.0.0.1:{port}", "operations": operations}
    return side if fields is None else {**side, "fields": fields}


def user_calls(**create: Any) -> dict[str, Any]:
    """create (with `create`'s keys), get and delete: the calls an Auth side needs."""
    return {
        "create": {"method": "POST", "path": "/u", "id_from": "$.id", **create},
        "get": {"path": "/u/{id}"},
        "delete": {"method": "DELETE", "path": "/u/{id}"},
    }


def http_errors(auth: dict[str, Any], backend: dict[str, Any]) -> list[str]:
    return errors_of(doc(targets=[{"name": "h", "auth": auth, "backend": backend}]))


GET_USER = {"get_user": {"path": "/u/{id}"}}


def test_an_unreadable_jsonpath_in_an_http_side_is_an_error_with_its_key() -> None:
    fields = {"email": "$.email", "display_name": "$.a[?(@.x)]"}
    auth = http_side(1, user_calls(id_from="id"), fields)
    assert http_errors(auth, http_side(2, GET_USER)) == [
        "targets[0].auth.fields.display_name: JSONPath '$.a[?(@.x)]': unsupported syntax "
        "at '[?(@.x)]'",
        "targets[0].auth.operations.create.id_from: JSONPath 'id' must start with $",
    ]


def test_a_template_placeholder_its_call_cannot_fill_is_an_error_with_its_key() -> None:
    fields = {"email": "$.email", "display_name": "$.name"}
    calls = user_calls(body={"mail": "{emial}", "name": "{display_name}", "all": "{fields}"})
    calls["get"] = {"path": "/u/{user_id}"}
    calls["list"] = {"path": "/u?suffix={email_suffix}&domain={synthetic_domain}"}
    backend = http_side(2, {"get_user": {"path": "/u/{id}/{display_name}"}}, fields)
    assert http_errors(http_side(1, calls, fields), backend) == [
        "targets[0].auth.operations.create.body: placeholder {emial} has no value in create "
        "(it has: email, display_name, fields)",
        "targets[0].auth.operations.get.path: placeholder {user_id} has no value in get "
        "(it has: id)",
        "targets[0].backend.operations.get_user.path: placeholder {display_name} has no value "
        "in get_user (it has: id)",
    ]


def test_a_field_only_one_side_maps_is_no_placeholder_value() -> None:
    auth = http_side(1, user_calls(body={"t": "{tier}"}), {"email": "$.email", "tier": "$.tier"})
    assert http_errors(auth, http_side(2, GET_USER)) == [
        "targets[0].auth.operations.create.body: placeholder {tier} has no value in create "
        "(it has: email, fields)"
    ]
