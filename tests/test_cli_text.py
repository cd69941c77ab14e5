"""The real CLI on text sources: demo, CSV, JSON Lines, JSON; bad rows, bad flags, re-runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from same_same.cli.options import normalize_boolean_values
from same_same.records import EmbeddingSpace
from same_same.storage import open_store

RECURSIVE = {
    "--recursive": ("--recursive", "--no-recursive"),
    "-r": ("--recursive", "--no-recursive"),
}


def namespaces(cli) -> dict[str, dict]:  # type: ignore[no-untyped-def]
    result = cli("namespaces", "--json")
    assert result.returncode == 0, result.stderr
    return {ns["name"]: ns for ns in json.loads(result.stdout)["namespaces"]}


def test_demo_ingest_reports_and_reruns_without_duplicates(cli) -> None:  # type: ignore[no-untyped-def]
    first = cli("ingest", "-n", "quotes", "demo", "--json")
    assert first.returncode == 0, first.stderr
    report = json.loads(first.stdout)
    assert report["stored"] == 24 and report["skipped"] == 0
    assert "stored 24 records in namespace 'quotes' from demo" in first.stderr
    assert "records/s" in first.stderr
    ns = namespaces(cli)["quotes"]
    assert ns["count"] == 24
    assert ns["space"] == {"embedder": "local", "model": "hashing-v1", "pretrained": "", "dim": 512}

    second = cli("ingest", "-n", "quotes", "demo", "--json")
    assert second.returncode == 0, second.stderr
    again = json.loads(second.stdout)
    assert again["stored"] == 0 and again["unchanged"] == 24
    assert namespaces(cli)["quotes"]["count"] == 24


def test_full_quotes_set_and_default_namespace(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("ingest", "quotes")
    assert result.returncode == 0, result.stderr
    assert namespaces(cli)["default"]["count"] >= 60


def test_csv_columns_types_and_bad_rows(cli, data_dir: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    csv_path = tmp_path / "products.csv"
    csv_path.write_text(
        "sku,description,price,category,zip\n"
        "A1,A red dress with a floral pattern,29.99,clothes,01234\n"
        "A2,,10,clothes,02000\n"
        "A3,Noise cancelling headphones,199,electronics,10115\n"
        "A4,too,many,cells,here,extra\n",
        encoding="utf-8",
    )
    result = cli(
        "ingest",
        "-n",
        "products",
        "--text-col",
        "description",
        "--id-col",
        "sku",
        str(csv_path),
        "--json",
    )
    assert result.returncode == 3, result.stderr
    report = json.loads(result.stdout)
    assert (report["stored"], report["skipped"]) == (2, 2)
    assert "skipping products.csv line 3: empty 'description'" in result.stderr
    assert "skipping products.csv line 5: more cells than header columns" in result.stderr
    with open_store(data_dir) as store:
        _, record = store.get("A1", "products")
    assert record.text == "A red dress with a floral pattern"
    assert record.metadata["price"] == 29.99
    assert record.metadata["zip"] == "01234"  # leading zero: stays a string
    assert record.metadata["category"] == "clothes"
    assert "sku" not in record.metadata and "description" not in record.metadata


def test_csv_meta_col_keeps_only_named_columns(cli, data_dir: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    csv_path = tmp_path / "q.csv"
    csv_path.write_text("text,author,year,secret\nHello there,Ann,1999,x\n", encoding="utf-8")
    assert cli("ingest", "--meta-col", "author,year", str(csv_path)).returncode == 0
    with open_store(data_dir) as store:
        [record] = store.list_records("default")
    assert record.metadata == {
        "author": "Ann",
        "year": 1999,
        "type": "text",
        "namespace": "default",
    }


def test_csv_without_the_text_column_is_one_line(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    csv_path = tmp_path / "x.csv"
    csv_path.write_text("title,author\nA,B\n", encoding="utf-8")
    result = cli("ingest", str(csv_path))
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0
    assert "text column" in result.stderr and "title, author" in result.stderr
    assert "Traceback" not in result.stderr


def test_jsonl_broken_lines_are_reported_and_ids_are_stable(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "data.jsonl"
    path.write_text(
        '{"text": "First quote", "author": "Author 1", "year": 2020}\n'
        '{"content": "Second quote", "category": "wisdom"}\n'
        '{"text": "broken\n'
        '["not", "an", "object"]\n'
        '{"author": "no text"}\n',
        encoding="utf-8",
    )
    result = cli("ingest", str(path), "--json")
    assert result.returncode == 3
    assert json.loads(result.stdout)["stored"] == 2
    assert "skipping data.jsonl line 3: invalid JSON" in result.stderr
    assert "skipping data.jsonl line 4: expected a JSON object, got list" in result.stderr
    assert "skipping data.jsonl line 5: no text field" in result.stderr

    # Editing one record's metadata updates it in place: same count, new value.
    path.write_text(
        '{"text": "First quote", "author": "Author One", "year": 2020}\n', encoding="utf-8"
    )
    rerun = cli("ingest", str(path), "--json")
    assert json.loads(rerun.stdout)["reused"] == 1
    assert namespaces(cli)["default"]["count"] == 2


def test_ndjson_and_json_sources(cli, data_dir: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "a.ndjson").write_text('{"id": "n1", "text": "ndjson line"}\n', encoding="utf-8")
    (tmp_path / "b.json").write_text(
        json.dumps({"records": [{"id": "j1", "body": "json body"}]}), encoding="utf-8"
    )
    assert cli("ingest", str(tmp_path / "a.ndjson")).returncode == 0
    assert cli("ingest", "json:" + str(tmp_path / "b.json")).returncode == 0
    with open_store(data_dir) as store:
        assert {r.id for r in store.list_records("default")} == {"n1", "j1"}


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["ingest", "missing.csv"], "no such file"),
        (["ingest", "nosuchsource"], "unknown source 'nosuchsource'; known sources: csv:ARG, demo"),
        (
            ["ingest", "-e", "nosuch", "demo"],
            "unknown embedder 'nosuch'; known: clip, local, minilm",
        ),
        (["ingest", "--recursive=maybe", "demo"], "--recursive takes true or false"),
        (["ingest", "--batch-size", "0", "demo"], "--batch-size"),
    ],
)
def test_bad_invocations_are_one_line_and_write_nothing(
    cli, data_dir: Path, args, expected
) -> None:  # type: ignore[no-untyped-def]
    result = cli(*args)
    assert result.returncode != 0
    assert expected in result.stderr
    assert "Traceback" not in result.stderr
    assert not data_dir.exists()


def test_dry_run_writes_nothing_and_sample_takes_n(cli, data_dir: Path) -> None:  # type: ignore[no-untyped-def]
    dry = cli("ingest", "--dry-run", "demo", "--json")
    assert dry.returncode == 0 and json.loads(dry.stdout)["stored"] == 24
    assert "would store 24" in dry.stderr
    assert namespaces(cli) == {}
    sampled = cli("ingest", "--sample", "5", "quotes", "--json")
    assert json.loads(sampled.stdout)["stored"] == 5
    again = cli("ingest", "--sample", "5", "quotes", "--json")
    assert json.loads(again.stdout)["unchanged"] == 5  # the same sample both times


def test_namespace_of_another_space_is_refused(cli, data_dir: Path) -> None:  # type: ignore[no-untyped-def]
    with open_store(data_dir) as store:
        store.ensure_namespace("photos", EmbeddingSpace("clip", "ViT-B-32", "openai", 512))
    result = cli("ingest", "-n", "photos", "demo")
    assert result.returncode == 1
    assert "clip:ViT-B-32/openai" in result.stderr and "local:hashing-v1" in result.stderr
    assert namespaces(cli)["photos"]["count"] == 0


def test_boolean_flag_spellings() -> None:
    assert normalize_boolean_values(["--recursive=false", "images:x"], RECURSIVE) == [
        "--no-recursive",
        "images:x",
    ]
    assert normalize_boolean_values(["-r=false"], RECURSIVE) == ["--no-recursive"]
    assert normalize_boolean_values(["-r=TRUE"], RECURSIVE) == ["--recursive"]
    assert normalize_boolean_values(["--", "-r=false"], RECURSIVE) == ["--", "-r=false"]
