"""`syslab cdn …`: run a caching node, plan placement across regions."""

from __future__ import annotations

import typer

app = typer.Typer(
    no_args_is_help=True,
    help="Self-hosted CDN: caching reverse proxy, tiers, push/purge, placement planning.",
)
