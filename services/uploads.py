"""Receiving uploaded manuals: streamed to disk with a byte budget, checked, then queued.

FastAPI's `UploadFile` spools the whole body before the handler runs, so a 5 GB upload would be
on disk before anything could refuse it. Instead the multipart body is parsed as it arrives:
Content-Length is checked first, bytes are counted while writing, and the request is refused
(413) the moment the budget is spent. Files are written under generated names; the name the
client sent is only ever *displayed*, after `display_name` has made it a single, printable
path component. The content decides the type (ingest.sniff), never the extension; the formats,
their suffixes and the list of what Folio reads come from `ingest.formats`.
"""

from __future__ import annotations

import re
import shutil
import unicodedata
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

from folio.leftovers import INCOMING_PREFIX, claim
from ingest.errors import IngestError, human_size
from ingest.formats import by_kind, fits, readable
from ingest.sniff import sniff

COLLECTION_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")
MULTIPART_OVERHEAD = 1 << 20  # headers and boundaries of a multi-file request
_DRAIN_LIMIT = 256 << 20  # read (and drop) this much of a refused body so the client sees 413
_MAX_FIELD_BYTES = 4096


class UploadError(Exception):
    def __init__(self, status: int, type_: str, message: str) -> None:
        super().__init__(message)
        self.status, self.type, self.message = status, type_, message


@dataclass
class ReceivedFile:
    raw_name: str
    path: Path  # under a generated name
    size: int
    kind: str = ""
    name: str = ""  # sanitised display name


@dataclass
class Received:
    tmp_dir: Path
    files: list[ReceivedFile] = field(default_factory=list)
    fields: dict[str, str] = field(default_factory=dict)

    def discard(self) -> None:
        shutil.rmtree(self.tmp_dir, ignore_errors=True)


async def receive_upload(
    request: Request, tmp_root: Path, *, max_file_bytes: int, max_files: int
) -> Received:
    """Parse a multipart upload into files under `tmp_root`; raise UploadError on bad input.

    On any error nothing is left on disk.
    """
    mime, params = parse_options_header(request.headers.get("content-type", ""))
    boundary = params.get(b"boundary")
    if mime != b"multipart/form-data" or not boundary:
        raise UploadError(
            415,
            "unsupported_media_type",
            "send the manual as multipart/form-data in a field named 'file' "
            "(for example: curl -F file=@manual.pdf .../api/v1/documents)",
        )
    budget = max_file_bytes + MULTIPART_OVERHEAD
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > budget:
        raise UploadError(
            413,
            "too_large",
            f"the upload is {human_size(int(length))}; the limit is "
            f"{human_size(max_file_bytes)} per request (FOLIO_MAX_FILE_MB). "
            "Send large manuals one per request.",
        )
    tmp_root.mkdir(parents=True, exist_ok=True)
    received = Received(tmp_root / f"{INCOMING_PREFIX}{uuid.uuid4().hex}")
    received.tmp_dir.mkdir()
    claim(received.tmp_dir)  # a server killed mid-upload leaves it; the next start removes it
    try:
        await _parse(request, received, boundary, budget, max_file_bytes, max_files)
        if not received.files:
            raise UploadError(
                422, "no_file", "the request has no file: send it in a field named 'file'"
            )
    except BaseException:
        received.discard()
        raise
    return received


async def _parse(
    request: Request,
    received: Received,
    boundary: bytes,
    budget: int,
    max_file_bytes: int,
    max_files: int,
) -> None:
    state: dict = {"headers": {}, "field": b"", "value": b"", "file": None, "error": None}

    def fail(error: UploadError) -> None:
        if state["error"] is None:
            state["error"] = error

    def on_part_begin() -> None:
        state["headers"], state["field"], state["value"], state["file"] = {}, b"", b"", None
        state["header_name"], state["header_value"] = b"", b""

    def on_header_field(data: bytes, start: int, end: int) -> None:
        state["header_name"] += data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        state["header_value"] += data[start:end]

    def on_header_end() -> None:
        state["headers"][state["header_name"].lower()] = state["header_value"]
        state["header_name"], state["header_value"] = b"", b""

    def on_headers_finished() -> None:
        disposition = state["headers"].get(b"content-disposition", b"").decode("latin-1")
        _, opts = parse_options_header(disposition)
        state["field"] = opts.get(b"name", b"")
        if b"filename" in opts:
            if len(received.files) >= max_files:
                fail(UploadError(413, "too_many_files", f"at most {max_files} files per upload"))
                return
            raw = opts[b"filename"].decode("utf-8", errors="replace")
            suffix = Path(display_name(raw)).suffix.lower()  # sniff breaks text/Markdown ties
            if not re.fullmatch(r"\.[a-z0-9]{1,10}", suffix):
                suffix = ""
            path = received.tmp_dir / (uuid.uuid4().hex + suffix)
            received.files.append(ReceivedFile(raw, path, 0))
            state["file"] = open(path, "wb")  # noqa: SIM115 - closed in on_part_end

    def on_part_data(data: bytes, start: int, end: int) -> None:
        if state["error"] is not None:
            return
        fh = state["file"]
        if fh is None:
            state["value"] += data[start:end]
            if len(state["value"]) > _MAX_FIELD_BYTES:
                fail(UploadError(413, "too_large", "a form field is too long"))
            return
        current = received.files[-1]
        current.size += end - start
        if current.size > max_file_bytes:
            fail(
                UploadError(
                    413,
                    "too_large",
                    f"{display_name(current.raw_name)} is larger than the limit of "
                    f"{human_size(max_file_bytes)} (FOLIO_MAX_FILE_MB)",
                )
            )
            return
        fh.write(data[start:end])

    def on_part_end() -> None:
        if state["file"] is not None:
            state["file"].close()
            state["file"] = None
        elif state["field"]:
            received.fields[state["field"].decode("latin-1")] = state["value"].decode(
                "utf-8", errors="replace"
            )

    parser = MultipartParser(
        boundary,
        {
            "on_part_begin": on_part_begin,
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_headers_finished": on_headers_finished,
            "on_part_data": on_part_data,
            "on_part_end": on_part_end,
        },
    )
    total = 0
    stream = request.stream()
    try:
        async for chunk in stream:
            total += len(chunk)
            if total > budget:
                fail(
                    UploadError(
                        413,
                        "too_large",
                        f"the upload is larger than {human_size(budget - MULTIPART_OVERHEAD)} "
                        "(FOLIO_MAX_FILE_MB); send large manuals one per request",
                    )
                )
            if state["error"] is not None:
                break
            try:
                parser.write(chunk)
            except Exception as exc:  # noqa: BLE001 - any parser complaint is the client's body
                fail(UploadError(400, "bad_multipart", f"the multipart body is malformed: {exc}"))
                break
        if state["error"] is None:
            parser.finalize()
    finally:
        if state["file"] is not None:
            state["file"].close()
    if state["error"] is not None:
        drained = total
        async for chunk in stream:  # let the client finish sending so it reads our answer
            drained += len(chunk)
            if drained > _DRAIN_LIMIT:
                break
        raise state["error"]


@dataclass
class Rejected:
    """A file of an upload that is not kept, and why."""

    name: str
    status: int  # what the request would answer if this were its only file
    type: str
    message: str

    def as_error(self) -> UploadError:
        return UploadError(self.status, self.type, self.message)


def check_files(received: Received) -> list[Rejected]:
    """Take empty files and types Folio cannot read out of `received.files` and return them,
    each by name with the reason; the good files stay (a multi-file upload goes on without
    the bad ones)."""
    kept: list[ReceivedFile] = []
    rejected: list[Rejected] = []
    for f in received.files:
        f.name = display_name(f.raw_name)
        if f.size == 0:
            rejected.append(
                Rejected(f.name, 400, "empty_file", f"{f.name} is empty; choose another file")
            )
            continue
        try:
            f.kind = sniff(f.path)
        except IngestError as exc:
            rejected.append(
                Rejected(
                    f.name, 415, "unsupported_media_type",
                    f"{f.name}: {exc.reason}. Folio reads {readable()}.",
                )
            )  # fmt: skip
            continue
        f.name = with_extension(f.name, f.kind)
        kept.append(f)
    received.files = kept
    return rejected


def all_rejected(rejected: list[Rejected]) -> UploadError:
    """The error of an upload none of whose files can be kept: the one file's own error, or
    one naming every file (415 unless every file was empty)."""
    if len(rejected) == 1:
        return rejected[0].as_error()
    statuses = {r.status for r in rejected}
    status = statuses.pop() if len(statuses) == 1 else 415
    type_ = rejected[0].type if status == rejected[0].status else "unsupported_media_type"
    reasons = " | ".join(r.message for r in rejected)
    return UploadError(status, type_, f"none of the files can be indexed: {reasons}")


def display_name(raw: str | None) -> str:
    """A file name that is safe to show and to use as one path component.

    Drops directories (both separators), control and format characters (NUL, bidi overrides,
    zero-width), leading dots and surrounding spaces; folds compatibility forms (NFKC); caps
    the length while keeping the extension.
    """
    name = unicodedata.normalize("NFKC", raw or "")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(
        " " if ch.isspace() else ch
        for ch in name
        if unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Co", "Cn") or ch.isspace()
    )
    name = re.sub(r"\s+", " ", name).strip(" .")
    name = name.lstrip(".-")
    if len(name) > 120:
        stem, dot, ext = name.rpartition(".")
        name = (stem[: 120 - len(ext) - 1] + "." + ext) if dot and len(ext) <= 10 else name[:120]
    return name or "upload"


def with_extension(name: str, kind: str) -> str:
    """Give the name the extension of what the file *is* when it has none that fits, so the
    stored original is served with a matching name."""
    if fits(name, kind):
        return name
    return name + by_kind(kind).suffixes[0]


def valid_collection(name: str) -> bool:
    return bool(COLLECTION_RE.match(name))
