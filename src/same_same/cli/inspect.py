"""``same-same namespaces``: what the store holds."""

from __future__ import annotations

import json

import click

from ..config import resolve_data_dir
from ..storage import open_store
from .options import data_dir_option, json_option


@click.command("namespaces")
@data_dir_option
@json_option
def namespaces_command(data_dir: str | None, as_json: bool) -> None:
    """List namespaces with their record counts and embedding spaces."""
    with open_store(resolve_data_dir(data_dir)) as store:
        infos = store.list_namespaces()
    if as_json:
        click.echo(json.dumps({"namespaces": [info.to_dict() for info in infos]}))
        return
    if not infos:
        click.echo("the store is empty; try: same-same ingest demo", err=True)
        return
    width = max(len(info.name) for info in infos)
    for info in infos:
        click.echo(f"{info.name:<{width}}  {info.count:>8}  {info.space.describe()}")
