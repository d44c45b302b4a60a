"""``flask --app wsgi notifications list --json``: the latest messages of the delivery log."""
from __future__ import annotations

import json

import click
from flask.cli import AppGroup

from . import as_json, search

notifications = AppGroup("notifications", help="Inspect the notification delivery log.")


@notifications.command("list")
@click.option("--json", "as_json_output", is_flag=True, help="Print a JSON list.")
@click.option("--limit", default=20, show_default=True, help="How many messages, newest first.")
@click.option("--search", "query", default="", help="A mobile number, email or enrolment code.")
def list_messages(as_json_output: bool, limit: int, query: str) -> None:
    """The latest messages: to, event, language, body and status."""
    rows = search(query, limit=limit)
    if as_json_output:
        click.echo(json.dumps([as_json(r) for r in rows], ensure_ascii=False, indent=2))
        return
    for r in rows:
        click.echo(f"{r.id:>6} {r.created_at:%Y-%m-%d %H:%M} {r.status:<11} {r.channel:<5} {r.to:<16} "
                   f"{r.event:<24} {r.language:<3} {r.body[:60]!r}")
