"""The ``portable`` command line (also ``python -m portable``)."""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import click

from ._serve import DEFAULT_MAX_BODY


@click.group()
@click.version_option(package_name="portable-functions")
def main() -> None:
    """Write an event handler once; run it on AWS, Azure, GCP or locally."""


@main.command()
@click.argument("target", metavar="MODULE:HANDLER")
@click.option("--port", type=int, default=8080, envvar="PORT", show_default=True)
@click.option("--host", default="127.0.0.1", envvar="HOST", show_default=True)
@click.option(
    "--max-body",
    type=int,
    default=DEFAULT_MAX_BODY,
    show_default=True,
    help="Largest request body accepted, in bytes (larger: 413).",
)
def serve(target: str, port: int, host: str, max_body: int) -> None:
    """Serve a handler under functions-framework.

    Accepts CloudEvents in binary and structured mode, and raw provider payloads that an
    installed adapter recognises.
    """
    from ._errors import ConfigurationError
    from ._serve import serve as run

    try:
        run(target, host, port, max_body)
    except ConfigurationError as exc:
        raise click.ClickException(str(exc)) from None


@main.group()
def dlq() -> None:
    """Read, replay and purge dead letters (PORTABLE_DLQ, default the local SQLite file)."""


_dlq_option = click.option(
    "--dlq",
    "dlq_url",
    envvar="PORTABLE_DLQ",
    default=None,
    help="Sink URL (default: PORTABLE_DLQ, else the local file).",
)


@dlq.command("list")
@_dlq_option
@click.option("--limit", type=int, default=100, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON dead letter per line.")
def dlq_list(dlq_url: str | None, limit: int, as_json: bool) -> None:
    """List dead letters, oldest first."""
    letters = _sink(dlq_url).list(limit)
    for letter in letters:
        click.echo(letter.to_json() if as_json else letter.summary())
    if not as_json:
        click.echo(f"{len(letters)} dead letter(s)", err=True)


@dlq.command("show")
@_dlq_option
@click.argument("letter_id")
def dlq_show(dlq_url: str | None, letter_id: str) -> None:
    """Show one dead letter in full (JSON)."""
    letter = _sink(dlq_url).get(letter_id)
    if letter is None:
        raise click.ClickException(f"no dead letter {letter_id!r}")
    from dataclasses import asdict

    click.echo(json.dumps(asdict(letter), indent=2, ensure_ascii=False))


@dlq.command("replay")
@_dlq_option
@click.argument("letter_ids", nargs=-1)
@click.option("--all", "replay_all", is_flag=True, help="Replay every dead letter.")
@click.option("--to", "url", default=None, help="POST each CloudEvent to this URL instead.")
@click.option(
    "--handler",
    "target",
    default=None,
    metavar="MODULE:HANDLER",
    help="Handler to run (default: the one recorded in each dead letter).",
)
def dlq_replay(
    dlq_url: str | None,
    letter_ids: tuple[str, ...],
    replay_all: bool,
    url: str | None,
    target: str | None,
) -> None:
    """Re-deliver dead letters; each is removed only after it succeeds."""
    from ._replay import replay

    if not letter_ids and not replay_all:
        raise click.UsageError("name dead letter IDs or pass --all")
    sink = _sink(dlq_url)
    report = replay(sink, list(letter_ids) or None, url=url, target=target, echo=click.echo)
    click.echo(
        f"replayed {report.succeeded}, still failing {report.failed}, "
        f"not replayable {report.skipped}"
    )
    if report.failed or report.skipped:
        sys.exit(1)


@dlq.command("purge")
@_dlq_option
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def dlq_purge(dlq_url: str | None, yes: bool) -> None:
    """Delete every dead letter."""
    if not yes:
        click.confirm("Delete every dead letter?", abort=True)
    click.echo(f"purged {_sink(dlq_url).purge()} dead letter(s)")


@main.command()
@click.argument("target", metavar="MODULE:HANDLER")
@click.option("--aws", is_flag=True,
              help="moto: an S3 bucket notifying an SQS queue, polled into the Lambda entry.")
@click.option("--azure", is_flag=True,
              help="Azurite: a blob container and a queue, into the blob and queue triggers.")
@click.option("--gcp", is_flag=True,
              help="Pub/Sub push into the push entry; Cloud Storage objects into the Eventarc "
                   "entry (gcloud's Pub/Sub emulator, gcp-storage-emulator).")
@click.option("--folder", type=click.Path(file_okay=False), default=None,
              help="Watch this folder: new, changed and removed files become storage events.")
@click.option("--port", type=int, default=None, help="Port of the served handler (default: free).")
@click.option("--interval", type=float, default=0.5, show_default=True, help="Poll interval (s).")
def dev(target: str, aws: bool, azure: bool, gcp: bool, folder: str | None, port: int | None,
        interval: float) -> None:
    """Serve a handler and feed it live events from local emulators or a folder until Ctrl-C.

    Emulators start on free loopback ports unless AWS_ENDPOINT_URL, AzureWebJobsStorage,
    PUBSUB_EMULATOR_HOST or STORAGE_EMULATOR_HOST name running ones.
    """
    from ._dev import run
    from ._errors import ConfigurationError

    providers = [name for name, wanted in (("aws", aws), ("azure", azure), ("gcp", gcp))
                 if wanted]
    if not providers and folder is None:
        raise click.UsageError("name at least one event source: --aws, --azure, --gcp or "
                               "--folder PATH")
    if folder is not None:
        os.makedirs(folder, exist_ok=True)
    try:
        code = run(target, providers=providers, folder=folder, port=port, interval=interval,
                   echo=_echo_now)
    except ConfigurationError as exc:
        raise click.ClickException(str(exc)) from None
    sys.exit(code)


def _echo_now(line: str) -> None:
    click.echo(line)
    sys.stdout.flush()


@main.command()
@click.option("--handler", "target", default="samples.upload:app", show_default=True)
def demo(target: str) -> None:
    """Run the upload pipeline sample on a local folder: no cloud, no emulator."""
    from ._demo import run

    sys.exit(run(target, echo=click.echo))


def _sink(url: str | None) -> Any:
    from ._config import sink_from
    from ._errors import ConfigurationError

    try:
        return sink_from(url)
    except ConfigurationError as exc:
        raise click.ClickException(str(exc)) from None
