"""Managing manuals over HTTP: upload -> job, re-index, delete, and their JSON shapes."""

from __future__ import annotations

import asyncio
import os
from typing import Any

from starlette.requests import Request

from folio.index import DocRecord
from folio.types import DocStatus
from services.auth import Principal
from services.errors import ServiceError
from services.jobs import Job, QueueFull
from services.qa import file_url
from services.runtime import Runtime
from services.uploads import (
    Rejected,
    UploadError,
    all_rejected,
    check_files,
    receive_upload,
    valid_collection,
)


def upload_collection(rt: Runtime, principal: Principal, requested: str | None) -> str:
    """The collection an upload goes to: the one asked for (if allowed), else the default,
    else the caller's only collection."""
    if requested:
        if not valid_collection(requested):
            raise ServiceError(
                422,
                f"invalid collection name {requested!r}: use letters, digits, '.', '_' or '-' "
                "(at most 64, starting with a letter or digit)",
            )
        if not principal.may_see(requested):
            raise ServiceError(403, f"{principal.name!r} may not add manuals to {requested!r}")
        return requested
    default = rt.settings.default_collection
    if principal.may_see(default):
        return default
    allowed = sorted(principal.collections or ())
    if not allowed:
        raise ServiceError(403, f"{principal.name!r} may not add manuals to any collection")
    if len(allowed) == 1:
        return allowed[0]
    raise ServiceError(422, f"choose a collection for the upload: one of {', '.join(allowed)}")


async def accept_upload(
    rt: Runtime, principal: Principal, request: Request, collection: str | None
) -> tuple[list[Job], list[Rejected]]:
    """Stream the files in, queue one job per good file, and return the bad ones by name with
    the reason (none kept); an upload with no good file is refused as a whole."""
    s = rt.settings
    if collection:  # checked before the body is read, so a refusal costs no upload
        upload_collection(rt, principal, collection)
    try:
        received = await receive_upload(
            request,
            rt.jobs.uploads_dir,
            max_file_bytes=int(s.max_file_mb * 1024 * 1024),
            max_files=s.max_upload_files,
        )
    except UploadError as exc:
        raise ServiceError(exc.status, exc.message, exc.type) from exc
    try:
        target = upload_collection(rt, principal, collection or received.fields.get("collection"))
        rejected = await asyncio.to_thread(check_files, received)
        if not received.files:
            raise all_rejected(rejected)
        if rt.jobs.queued_count() + len(received.files) > s.max_queued_jobs:
            raise QueueFull(
                f"{rt.jobs.queued_count()} files are already waiting to be indexed; "
                "upload again when some have finished"
            )
        jobs = []
        for f in received.files:
            job_id, job_dir = rt.jobs.new_upload_dir()
            dest = job_dir / f.name
            os.replace(f.path, dest)
            jobs.append(
                rt.jobs.submit(
                    job_id,
                    kind="upload",
                    collection=target,
                    name=f.name,
                    upload_path=dest,
                    owner=principal.name,
                )  # fmt: skip
            )
        return jobs, rejected
    except UploadError as exc:
        raise ServiceError(exc.status, exc.message, exc.type) from exc
    except QueueFull as exc:
        raise ServiceError(429, str(exc), headers={"Retry-After": "30"}) from exc
    finally:
        received.discard()


def reindex(rt: Runtime, principal: Principal, doc: DocRecord) -> Job:
    job_id, job_dir = rt.jobs.new_upload_dir()
    copy = rt.library.copy_original(doc, job_dir)
    if copy is None:
        job_dir.rmdir()
        raise ServiceError(
            409 if doc.status == DocStatus.READY else 404,
            f"the original of {doc.name} is not stored, so it cannot be re-indexed; "
            "upload the file again",
            "no_original",
        )
    try:
        return rt.jobs.submit(
            job_id, kind="reindex", collection=doc.collection, name=doc.name,
            upload_path=copy, owner=principal.name, doc_id=doc.id,
        )  # fmt: skip
    except QueueFull as exc:
        raise ServiceError(429, str(exc), headers={"Retry-After": "30"}) from exc


def document_out(doc: DocRecord) -> dict[str, Any]:
    return {
        "id": doc.id,
        "title": doc.title or doc.name,
        "file": doc.name,
        "collection": doc.collection,
        "kind": doc.kind or "",
        "pages": doc.pages,
        "chunks": doc.chunks or 0,
        "size": doc.size or 0,
        "status": doc.status,
        "error": doc.error,
        "created_at": doc.created_at or 0.0,
        "updated_at": doc.updated_at or 0.0,
        "url": file_url(doc.id, None)
        if doc.stored_file and doc.status == DocStatus.READY
        else None,
    }


def job_out(job: Job) -> dict[str, Any]:
    return {**job.public(), "url": f"/api/v1/jobs/{job.id}"}
