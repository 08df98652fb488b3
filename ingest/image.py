"""Scanned pages as images (PNG, JPEG, TIFF): every frame is a page, read with OCR.

A multi-page TIFF (what most office scanners write) yields one page per frame, numbered from 1;
a PNG or JPEG is one page. Without OCR (`FOLIO_OCR=false`) an image is refused with the same
"needs OCR" reason as a scanned PDF.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from folio.types import Page, ParsedDocument
from ingest import clean
from ingest.errors import IngestError
from ingest.formats import OcrProgress
from ingest.ocr import Ocr

_KINDS = {"PNG": "png", "JPEG": "jpeg", "MPO": "jpeg", "TIFF": "tiff"}  # Pillow's names


def parse_image(
    path: Path, *, max_pages: int, ocr: Ocr | None, progress: OcrProgress | None = None
) -> ParsedDocument:
    from PIL import Image, ImageOps

    path = Path(path)
    try:
        image = Image.open(path)
    except Image.DecompressionBombError as exc:
        raise IngestError(f"image too large to read: {exc}"[:300]) from exc
    with image:
        name = image.format or "image"
        kind = _KINDS.get(name)
        if kind is None:
            raise IngestError(f"not a supported file type (looks like an image ({name}))")
        frames = getattr(image, "n_frames", 1)
        if ocr is None:
            raise IngestError(
                f"an image ({name}) of {frames} page{'s' * (frames != 1)}: needs OCR, which is "
                "off (FOLIO_OCR=false)"
            )
        if frames > max_pages:
            raise IngestError(f"too many pages ({frames} > {max_pages})")
        pages: list[Page] = []
        for index in range(frames):
            if progress is not None:
                progress(index + 1, frames)
            image.seek(index)
            frame = ImageOps.exif_transpose(image) if kind == "jpeg" else image
            text = clean.clean_text(ocr.read(_pixels(frame)))
            if text:
                pages.append(Page(text=text, number=index + 1, ocr=True))
    if not pages:
        raise IngestError(
            f"no text found in the image ({name}, {frames} page{'s' * (frames != 1)} read with OCR)"
        )
    return ParsedDocument(
        title=path.stem,
        kind=kind,
        pages=pages,
        page_count=frames,
        empty_pages=frames - len(pages),
        ocr_pages=len(pages),
    )


def _pixels(frame) -> np.ndarray:
    """Grey or RGB(A) pixels of one frame, whatever its mode (1-bit fax TIFFs, palettes, CMYK)."""
    if frame.mode in ("L", "RGB", "RGBA"):
        return np.asarray(frame)
    if frame.mode == "1":
        return np.asarray(frame.convert("L"))
    if frame.mode.startswith(("I", "F")):  # 16- and 32-bit grey: stretch to 8 bits
        values = np.asarray(frame, dtype=np.float32)
        return (values * (255 / max(float(values.max()), 1.0))).astype(np.uint8)
    alpha = "A" in frame.mode or "transparency" in frame.info
    return np.asarray(frame.convert("RGBA" if alpha else "RGB"))
