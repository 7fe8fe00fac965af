"""Command-line entry point.

Only the `version` command exists so far; `run`, `health` and `config check|show`
arrive with the foundation issue (#2).
"""

from __future__ import annotations

import click

from wfsidecar import __version__


@click.group()
def main() -> None:
    """wfsidecar: durable workflows next to your application."""


@main.command()
def version() -> None:
    """Print the wfsidecar version."""
    click.echo(__version__)
