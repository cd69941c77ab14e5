"""``same-same namespaces``: what the store holds; ``namespaces delete NAME`` removes one."""

from __future__ import annotations

import json

import click

from ..config import resolve_data_dir
from ..storage import open_store
from ..validation import require_namespace
from .options import data_dir_option, json_option, store_option


@click.group("namespaces", invoke_without_command=True)
@data_dir_option
@store_option
@json_option
@click.pass_context
def namespaces_command(
    ctx: click.Context, data_dir: str | None, store_spec: str | None, as_json: bool
) -> None:
    """List namespaces with their record counts and embedding spaces.

    \b
    same-same namespaces              list them
    same-same namespaces delete NAME  remove one with all its records
    """
    if ctx.invoked_subcommand is not None:
        return
    with open_store(resolve_data_dir(data_dir), store_spec) as store:
        infos = store.list_namespaces()
    if as_json:
        click.echo(json.dumps({"namespaces": [info.to_dict() for info in infos]}))
        return
    if not infos:
        click.echo("the store is empty; try: same-same ingest demo", err=True)
        return
    width = max(len(info.name) for info in infos)
    for info in infos:
        writers = f"  written by {', '.join(info.writers)}" if info.writers else ""
        click.echo(f"{info.name:<{width}}  {info.count:>8}  {info.space.describe()}{writers}")


@namespaces_command.command("delete")
@click.argument("name")
@data_dir_option
@store_option
@json_option
@click.pass_context
def delete_namespace_command(
    ctx: click.Context, name: str, data_dir: str | None, store_spec: str | None, as_json: bool
) -> None:
    """Delete namespace NAME and every record in it (its embedding space is forgotten)."""
    parent = ctx.parent.params if ctx.parent is not None else {}
    data_dir = data_dir or parent.get("data_dir")  # `namespaces --data-dir D delete NAME`
    as_json = as_json or bool(parent.get("as_json"))
    store_spec = store_spec or parent.get("store_spec")
    with open_store(resolve_data_dir(data_dir), store_spec) as store:
        info = require_namespace(store, name)
        store.delete_namespace(name)
    if as_json:
        click.echo(json.dumps({"deleted": name, "count": info.count}))
    else:
        click.echo(f"deleted namespace {name!r} ({info.count} records)", err=True)
