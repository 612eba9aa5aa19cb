"""storeops workflows list | resume | fork | cancel: manage durable workflows."""

from __future__ import annotations

from typing import Annotated

import typer

from storeops.cli.common import emit_json, load, open_database
from storeops.engine.workflows import Engine

app = typer.Typer(no_args_is_help=True, help="Durable workflows: list, resume, replay (fork), cancel.")


def _engine() -> Engine:
    settings = load()
    open_database(settings)
    engine = Engine(settings.engine_database_url, executor_id="cli")
    engine.launch(run_queues=False)
    return engine


@app.command("list")
def list_(
    status: Annotated[str | None, typer.Option(help="PENDING, ENQUEUED, SUCCESS, ERROR, CANCELLED")] = None,
    limit: int = 50,
    json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    engine = _engine()
    try:
        found = [w.as_dict() for w in engine.list(status=status, limit=limit)]
    finally:
        engine.shutdown()
    if json:
        emit_json(found)
        return
    for w in found:
        print(f"{w['workflow_id']}\t{w['name']}\t{w['status']}\t{w['error'] or ''}")


@app.command()
def resume(workflow_id: str) -> None:
    """Resume a failed or cancelled workflow from where it stopped."""
    engine = _engine()
    try:
        engine.resume(workflow_id)
    finally:
        engine.shutdown()
    print(f"resumed {workflow_id}")


@app.command()
def fork(workflow_id: str, start_step: Annotated[int, typer.Option(help="replay from this step")] = 1) -> None:
    """Replay a workflow from a step as a new workflow (earlier steps' results reused)."""
    engine = _engine()
    try:
        new_id = engine.fork(workflow_id, start_step)
    finally:
        engine.shutdown()
    print(new_id)


@app.command()
def cancel(workflow_id: str) -> None:
    engine = _engine()
    try:
        engine.cancel(workflow_id)
    finally:
        engine.shutdown()
    print(f"cancelled {workflow_id}")
