"""Command-line tools: ``flask --app wsgi clients create NAME --role certify``."""
from __future__ import annotations

import json

import click
from flask import Flask
from flask.cli import AppGroup

from . import auth, jobs

clients = AppGroup("clients", help="Manage API clients (source systems).")


@clients.command("create")
@click.argument("name")
@click.option("--role", "roles", multiple=True, required=True,
              type=click.Choice(auth.ROLES), help="Repeat for several roles.")
def create_client(name: str, roles: tuple[str, ...]) -> None:
    """Create a client and print its id and secret as JSON (the secret is shown once)."""
    client, secret = auth.create_client(name, list(roles))
    jobs.commit()
    click.echo(json.dumps({"client_id": client.client_id, "client_secret": secret}))


def register(app: Flask) -> None:
    from .notify.cli import notifications

    app.cli.add_command(clients)
    app.cli.add_command(notifications)
