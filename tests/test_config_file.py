"""same-same.toml: found in the data directory, by --config or by $SAME_SAME_CONFIG;
flag > env > file > default; `config show` says where each value came from; bad files
fail in one line naming the key. Through the real CLI (in process) on real temp stores,
and a real server started from a file."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from conftest import run_cli
from same_same.config_file import ConfigFile, load_config, resolve_settings
from server_fixtures import fetch_json, running_server


def namespace_names(data_dir: Path) -> set[str]:
    done = run_cli("namespaces", "--json", "--data-dir", str(data_dir))
    assert done.returncode == 0, done.stderr
    return {ns["name"] for ns in json.loads(done.stdout)["namespaces"]}


def shown(*args: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    done = run_cli(*args, "config", "show", "--json", env=env)
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    payload["by_key"] = {entry["key"]: entry for entry in payload["settings"]}
    return payload


def one_error_line(done: Any) -> str:
    assert done.returncode == 1, (done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    return str(lines[0])


def test_the_file_in_the_data_directory_applies(data_dir: Path) -> None:
    data_dir.mkdir(parents=True)
    (data_dir / "same-same.toml").write_text('namespace = "from-file"\n', encoding="utf-8")
    done = run_cli("ingest", "demo", "--json", data_dir=data_dir)
    assert done.returncode == 0, done.stderr
    assert namespace_names(data_dir) == {"from-file"}
    # a flag still wins over the file
    done = run_cli("ingest", "-n", "from-flag", "demo", "--json", data_dir=data_dir)
    assert done.returncode == 0, done.stderr
    assert namespace_names(data_dir) == {"from-file", "from-flag"}


def test_the_data_dir_flag_chooses_whose_file_applies(tmp_path: Path) -> None:
    store = tmp_path / "flagged"
    store.mkdir()
    (store / "same-same.toml").write_text('namespace = "flagged-file"\n', encoding="utf-8")
    env = {"SAME_SAME_DATA_DIR": str(tmp_path / "other")}
    done = run_cli("ingest", "--data-dir", str(store), "demo", env=env)
    assert done.returncode == 0, done.stderr
    assert namespace_names(store) == {"flagged-file"}


def test_config_flag_and_variable_find_the_file(tmp_path: Path) -> None:
    path = tmp_path / "elsewhere.toml"
    path.write_text('[clip]\nmodel = "ViT-B-16"\n', encoding="utf-8")
    by_flag = shown("--config", str(path))
    assert by_flag["config_file"] == str(path) and by_flag["found_by"] == "--config"
    assert by_flag["by_key"]["clip.model"]["value"] == "ViT-B-16"
    assert by_flag["by_key"]["clip.model"]["origin"] == "file"
    by_env = shown(env={"SAME_SAME_CONFIG": str(path)})
    assert by_env["found_by"] == "$SAME_SAME_CONFIG"
    assert by_env["by_key"]["clip.model"]["origin"] == "file"


def test_flag_beats_env_beats_file_beats_default(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.delenv("SAME_SAME_DATA_DIR", raising=False)
    monkeypatch.delenv("SAME_SAME_CLIP_MODEL", raising=False)
    file_store, env_store, flag_store = (tmp_path / name for name in ("file", "env", "flag"))
    config = tmp_path / "same-same.toml"
    config.write_text(f'data_dir = "{file_store}"\n[clip]\nmodel = "ViT-B-16"\n', encoding="utf-8")
    conf = ("--config", str(config))
    env = {"SAME_SAME_DATA_DIR": str(env_store)}

    assert run_cli(*conf, "ingest", "-n", "a", "demo").returncode == 0
    assert run_cli(*conf, "ingest", "-n", "b", "demo", env=env).returncode == 0
    done = run_cli(*conf, "ingest", "-n", "c", "--data-dir", str(flag_store), "demo", env=env)
    assert done.returncode == 0, done.stderr
    assert namespace_names(file_store) == {"a"}
    assert namespace_names(env_store) == {"b"}
    assert namespace_names(flag_store) == {"c"}

    origins = shown(*conf, env={"SAME_SAME_CLIP_MODEL": "RN50"})["by_key"]
    assert origins["data_dir"] == {
        **origins["data_dir"],
        "origin": "file",
        "value": str(file_store),
    }
    assert origins["clip.model"]["origin"] == "env" and origins["clip.model"]["value"] == "RN50"
    assert origins["clip.pretrain"]["origin"] == "default"
    assert origins["clip.pretrain"]["value"] is None
    done = run_cli(*conf, "config", "show", "--json", "--data-dir", str(flag_store), env=env)
    flagged = {entry["key"]: entry for entry in json.loads(done.stdout)["settings"]}
    assert flagged["data_dir"]["origin"] == "flag"
    assert flagged["data_dir"]["value"] == str(flag_store)


def test_config_show_lists_every_setting_with_its_origin(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text('[server]\naddr = ":9000"\n[milvus]\ntoken = "secret"\n', encoding="utf-8")
    done = run_cli("--config", str(path), "config", "show", env={"SAME_SAME_STORE": "sqlite"})
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == f"config file: {path} (--config)"
    rows = {line.split()[0]: line for line in lines[1:]}
    assert rows["server.addr"].split() == ["server.addr", ":9000", "[file]"]
    assert rows["store"].split() == ["store", "sqlite", "[env", "SAME_SAME_STORE]"]
    assert rows["clip.backend"].split() == ["clip.backend", "auto", "[default]"]
    assert "secret" not in done.stdout and rows["milvus.token"].split()[1] == "***"


def test_the_file_reaches_what_the_library_reads_from_the_environment_only_while_it_runs(
    tmp_path: Path,
) -> None:
    path = tmp_path / "s.toml"
    path.write_text("[index]\nmin_vectors = 0\n", encoding="utf-8")
    assert "SAME_SAME_INDEX_MIN_VECTORS" not in os.environ
    done = run_cli("--config", str(path), "ingest", "demo", data_dir=tmp_path / "store")
    assert done.returncode == 0, done.stderr
    assert "SAME_SAME_INDEX_MIN_VECTORS" not in os.environ  # the in-process run put it back


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[clip]\nmodle = "RN50"\n', "unknown setting 'clip.modle' (did you mean 'clip.model'?"),
        ("bogus = 1\n", "unknown setting 'bogus'"),
        ('[server]\nworkers = "two"\n', "server.workers must be a whole number, not 'two'"),
        ("[ingest]\nrecursive = 1\n", "ingest.recursive must be true or false, not 1"),
        ("[ingest]\nbatch_size = true\n", "ingest.batch_size must be a whole number, not True"),
        ("namespace = \n", "is not valid TOML"),
        ("[ingest]\nbatch_size = 0\n", "ingest.batch_size: 0 is not in the range 1<=x<=4096"),
        ('[ingest]\ngpu_decode = "maybe"\n', "ingest.gpu_decode: 'maybe' is not one of"),
    ],
)
def test_a_bad_file_is_one_line_naming_the_key_and_the_file(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    line = one_error_line(run_cli("--config", str(path), "namespaces", data_dir=tmp_path / "s"))
    assert str(path) in line and expected in line


def test_a_missing_named_file_and_a_data_dir_in_its_own_file_are_refused(
    data_dir: Path, tmp_path: Path
) -> None:
    missing = tmp_path / "nope.toml"
    line = one_error_line(run_cli("--config", str(missing), "namespaces", data_dir=data_dir))
    assert f"config file {missing} (from --config) does not exist" in line
    line = one_error_line(run_cli("namespaces", env={"SAME_SAME_CONFIG": str(missing)}))
    assert "(from $SAME_SAME_CONFIG)" in line
    data_dir.mkdir(parents=True)
    (data_dir / "same-same.toml").write_text('data_dir = "/x"\n', encoding="utf-8")
    line = one_error_line(run_cli("namespaces", data_dir=data_dir))
    assert "data_dir in the data directory's own same-same.toml has no effect" in line


def test_resolving_from_python_gives_the_same_origins(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text('store = "sqlite"\n[clip]\ndevice = "cpu"\n', encoding="utf-8")
    config = load_config(path)
    resolved = {
        entry.setting.key: entry
        for entry in resolve_settings(config, {"SAME_SAME_STORE": "milvus://h:1"}, {})
    }
    assert (resolved["store"].origin, resolved["store"].value) == ("env", "milvus://h:1")
    assert (resolved["clip.device"].origin, resolved["clip.device"].value) == ("file", "cpu")
    assert resolve_settings(ConfigFile(), {}, {})[0].origin == "default"


def test_a_server_takes_its_key_file_and_body_limit_from_the_file(data_dir: Path) -> None:
    data_dir.mkdir(parents=True)
    key_file = data_dir.parent / "api-key"
    key_file.write_text("s3cret-key\n", encoding="utf-8")
    (data_dir / "same-same.toml").write_text(
        f'[server]\napi_key_file = "{key_file}"\nmax_body_bytes = 2000\n', encoding="utf-8"
    )
    with running_server(data_dir) as base:
        status, body = fetch_json("GET", f"{base}/api/v1/namespaces")
        assert status == 401, body
        key = {"X-API-Key": "s3cret-key"}
        status, body = fetch_json("GET", f"{base}/api/v1/namespaces", headers=key)
        assert status == 200, body
        big = {"text": "x" * 5000}
        status, body = fetch_json("POST", f"{base}/api/v1/search", big, headers=key)
        assert status == 413, body
