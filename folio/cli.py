"""The `folio` command: small verbs over one index, text for people and --json for programs."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from folio.settings import Settings

app = typer.Typer(
    help="Folio: answers from your manuals, with the page they came from.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console()
err = Console(stderr=True)


class State:
    settings: Settings


state = State()


@app.callback()
def main(
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir", envvar="FOLIO_DATA_DIR", help="Index directory (default data/index)."
        ),
    ] = None,
    verbose: Annotated[bool, typer.Option("-v", "--verbose", help="Log to stderr.")] = False,
) -> None:
    from folio.logs import setup_logging

    overrides = {"data_dir": data_dir} if data_dir else {}
    state.settings = Settings(**overrides)
    setup_logging(state.settings.data_dir / "logs", verbose=verbose)


def _open():
    from folio.index import IndexMismatch
    from folio.wiring import open_index

    try:
        return open_index(state.settings)
    except IndexMismatch as exc:
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from exc


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files and folders (recursive).")],
    collection: Annotated[
        str | None, typer.Option("--collection", "-c", help="Collection name.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print results as JSON.")] = False,
) -> None:
    """Add manuals to the index. Exit 1 if any file failed (the others are still ingested)."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from ingest.pipeline import ingest_paths

    index, embedder = _open()
    bar = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[stats]}"),
        TimeElapsedColumn(),
        console=err,
        disable=as_json or not err.is_terminal,
    )
    totals = {"pages": 0, "chunks": 0}
    current: dict[str, int] = {}

    import time

    started = time.perf_counter()

    def on_progress(p) -> None:
        if p.phase:
            if p.file not in current:
                current[p.file] = bar.add_task(p.file, total=p.pages_total or None, stats="")
            task = current[p.file]
            elapsed = max(time.perf_counter() - started, 1e-6)
            pages = totals["pages"] + p.pages_done
            chunks = totals["chunks"] + p.chunks_done
            bar.update(
                task,
                completed=p.pages_done,
                stats=f"{pages / elapsed:.1f} pages/s  {chunks / elapsed:.1f} chunks/s",
            )
        elif p.file in current:
            task = current[p.file]
            t = bar.tasks[task]
            totals["pages"] += int(t.completed)
            bar.update(task, completed=t.total or t.completed)

    with bar:
        results = ingest_paths(
            paths, state.settings, index=index, embedder=embedder,
            collection=collection, progress=on_progress,
        )  # fmt: skip
    failed = [r for r in results if r.status == "failed"]
    if as_json:
        from dataclasses import asdict

        print(json.dumps([asdict(r) for r in results], indent=2))
    else:
        table = Table(title="Ingest summary")
        for col in ("file", "status", "pages", "chunks", "detail"):
            table.add_column(col)
        for r in results:
            style = {"failed": "red", "unchanged": "dim", "ingested": "green"}[r.status]
            table.add_row(
                r.name, f"[{style}]{r.status}[/]", str(r.pages or ""), str(r.chunks or ""),
                r.error or r.title,
            )  # fmt: skip
        out.print(table)
        n = {s: sum(r.status == s for r in results) for s in ("ingested", "unchanged", "failed")}
        out.print(f"{n['ingested']} ingested, {n['unchanged']} unchanged, {n['failed']} failed")
    raise typer.Exit(1 if failed else 0)


@app.command()
def docs(
    collection: Annotated[str | None, typer.Option("--collection", "-c")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """List the documents in the index."""
    from folio.index import Index
    from folio.wiring import open_index

    index: Index = open_index(state.settings)[0]
    rows = index.documents(collection)
    if as_json:
        print(
            json.dumps(
                [
                    {
                        "id": d.id, "title": d.title, "file": d.name, "pages": d.pages,
                        "chunks": d.chunks, "collection": d.collection, "status": d.status,
                        "error": d.error, "sha256": d.sha256,
                    }
                    for d in rows
                ],
                indent=2,
            )
        )  # fmt: skip
        return
    table = Table()
    for col in ("id", "title", "file", "pages", "chunks", "collection", "status", "sha256"):
        table.add_column(col)
    for d in rows:
        status = d.status if not d.error else f"{d.status}: {d.error}"
        table.add_row(
            d.id[:8], d.title, d.name, str(d.pages or ""), str(d.chunks), d.collection,
            status, d.sha256[:12],
        )  # fmt: skip
    out.print(table)


@app.command()
def rm(
    doc: Annotated[str, typer.Argument(help="Document id (prefix) or file name.")],
    collection: Annotated[str | None, typer.Option("--collection", "-c")] = None,
) -> None:
    """Remove a document and all of its chunks."""
    index, _ = _open()
    matches = index.find(doc, collection)
    if not matches:
        err.print(f"[red]error:[/] no document matches {doc!r} (see `folio docs`)")
        raise typer.Exit(1)
    if len({m.id for m in matches}) > 1 and not all(m.name == doc for m in matches):
        err.print(f"[red]error:[/] {doc!r} is ambiguous: " + ", ".join(m.id for m in matches))
        raise typer.Exit(1)
    for m in matches:
        index.delete(m.id)
        out.print(f"removed {m.name} ({m.id[:8]}, {m.collection})")


def passage_json(p) -> dict:
    return {
        "doc": p.doc_name,
        "page": p.page,
        "page_label": p.page_label,
        "score": round(p.score, 6),
        "text": p.body,
        "title": p.title,
        "collection": p.collection,
        "section": p.chunk.section,
        "chunk_id": p.chunk.id,
    }


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="What to look for.")],
    k: Annotated[int, typer.Option("-k", help="Number of passages.")] = 5,
    collection: Annotated[list[str] | None, typer.Option("--collection", "-c")] = None,
    mode: Annotated[str, typer.Option(help="hybrid | dense | bm25")] = "hybrid",
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Show the passages that best match a query, with manual and page."""
    from retrieval.search import search as run_search

    index, embedder = _open()
    hits = run_search(
        index, embedder, state.settings, query, k=k, collections=collection, mode=mode
    )
    if as_json:
        print(json.dumps([passage_json(p) for p in hits.passages], indent=2, ensure_ascii=False))
        return
    if not hits.passages:
        out.print("no passages found")
        return
    for i, p in enumerate(hits.passages, 1):
        out.print(
            f"[bold][{i}] {p.title}[/] — {p.doc_name}, {p.locator()}  [dim]score {p.score:.4f}[/]"
        )
        body = p.body.strip().replace("\n", " ")
        out.print(f"    {body[:400]}{'…' if len(body) > 400 else ''}\n", highlight=False)


def run() -> None:  # pragma: no cover - console entry for `python -m folio`
    sys.exit(app())
