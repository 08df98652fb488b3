"""OCR for pages without a text layer: PDF pages rendered by PDFium, and PNG/JPEG/TIFF scans.

The engine is RapidOCR (`rapidocr-onnxruntime`, Apache-2.0): PaddleOCR's PP-OCRv4 text detector
and Chinese+English recogniser, and its text-direction classifier, as ONNX models inside the
wheel, run by onnxruntime on the CPU. Nothing is downloaded; the models load once per parser
worker, on the first page that needs them (~0.5 s), so text documents never pay for them.

A page goes through: grey image -> nothing to read? (blank) -> text boxes found on a copy
scaled to at most `DET_MAX_SIDE` pixels -> each box cut from the full image, turned upright,
recognised -> boxes below `MIN_SCORE` dropped -> spaces the recogniser left out between Latin
words put back from the gaps in the ink -> boxes joined into lines, lines top to bottom and boxes
left to right. Chinese lines keep no spaces between Han characters; where OCR leaves one, the
language layer (`folio.text`) ignores it, as it does for PDF line breaks.

`ingest.pdf` calls `Ocr.read` on pages whose text layer is empty, `ingest.image` on every frame of
an image; both run inside the sandboxed parser worker (`ingest.pipeline.Extractor`), under its
time and memory limits.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ingest.errors import IngestError

if TYPE_CHECKING:
    from rapidocr_onnxruntime import RapidOCR

# PDF pages are rendered at 300 dpi: 5-7 pt print read without a slip, where 200 dpi dropped
# spaces and letters; text is found on a copy of at most 1600 pixels (detecting on 2000 took 1.7x
# and found nothing more, 1280 lost 5 pt print), the recogniser reads each line at full size.
RENDER_DPI = 300
MAX_SIDE = 4000  # pixels; larger images (A3 at 300 dpi, 600 dpi scans) are scaled down first
DET_MAX_SIDE = 1600
MIN_SCORE = 0.5  # recognised boxes with a lower mean confidence are dropped
WORD_GAP = 0.3  # a blank run this share of the text height between two Latin characters is a
# word space. In 8-11 pt type at 200 dpi letters sat at most 0.22 of it apart, words at least
# 0.22 (where the recogniser kept the space itself) and 0.33-0.5 where it dropped it.
BLANK_SHARE = 0.00005  # a page with fewer dark pixels than this share is blank

_CJK = 0x2E80  # code points from here on are CJK (and full-width) characters


@dataclass(frozen=True)
class OcrLine:
    text: str
    top: float
    bottom: float
    left: float


class Ocr:
    """One RapidOCR engine, loaded on first use; `read` is safe to call from one thread."""

    def __init__(self, threads: int | None = None) -> None:
        self.threads = threads or min(2, os.cpu_count() or 1)
        self._rapid: RapidOCR | None = None
        self._lock = threading.Lock()

    @property
    def rapid(self) -> RapidOCR:
        with self._lock:
            if self._rapid is None:
                self._rapid = _load(self.threads)
            return self._rapid

    def read(self, image: np.ndarray) -> str:
        """The text of one page image (grey, RGB or RGBA array), lines separated by "\\n"."""
        return "\n".join(line.text for line in self.lines(image))

    def lines(self, image: np.ndarray) -> list[OcrLine]:
        import cv2

        grey = _grey(image)
        if grey.size == 0 or _blank(grey):
            return []
        grey = _fit(grey, MAX_SIDE)
        bgr = cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR)
        rapid = self.rapid
        # Text is found on a copy scaled to DET_MAX_SIDE (small images at most doubled); the
        # detector's own resizing is off, as it blew a header strip up to 8,000 pixels wide.
        scale = min(2.0, DET_MAX_SIDE / max(grey.shape))
        small = bgr if scale == 1.0 else _resize(bgr, scale)
        boxes, _ = rapid.text_det(small)
        if boxes is None or len(boxes) == 0:
            return []
        boxes = [np.asarray(b, dtype=np.float32) / scale for b in boxes]
        boxes = rapid.sorted_boxes(np.array(boxes))
        crops = rapid.get_crop_img_list(bgr, boxes)
        turned, directions, _ = rapid.text_cls(crops)
        found: list[OcrLine] = []
        for box, crop, upright, (direction, sure) in zip(
            boxes, crops, turned, directions, strict=True
        ):
            text, score, info = _recognise(rapid, crop)
            if direction == "180" and sure > rapid.text_cls.cls_thresh:  # `upright` is turned
                # The direction classifier turns some upright lines over (a whole line of a
                # scanned page, at 0.99 confidence): read both ways and keep the likelier.
                flipped = _recognise(rapid, upright)
                if flipped[1] > score:
                    crop, (text, score, info) = upright, flipped
            if score < MIN_SCORE or not text.strip():
                continue
            text = restore_spaces(text, cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY), info)
            ys, xs = box[:, 1], box[:, 0]
            found.append(OcrLine(text.strip(), float(ys.min()), float(ys.max()), float(xs.min())))
        return join_lines(found)


_ENGINE: Ocr | None = None


def engine() -> Ocr:
    """The process's engine (the parser worker keeps it across files)."""
    global _ENGINE
    if _ENGINE is None:
        _ENGINE = Ocr()
    return _ENGINE


def _load(threads: int) -> RapidOCR:
    try:
        from rapidocr_onnxruntime import RapidOCR
    except ImportError as exc:
        raise IngestError(
            f"needs OCR, but the OCR engine cannot be loaded ({exc}); install "
            "rapidocr-onnxruntime (and libgl1 for OpenCV), or set FOLIO_OCR=false"
        ) from exc
    import logging

    from rapidocr_onnxruntime.utils import infer_engine

    logging.getLogger("RapidOCR").setLevel(logging.WARNING)
    # onnxruntime's threads spin while they wait for work. The worker shares the CPU with the
    # main process embedding the previous file, and spinning threads then took a page from 2.0
    # to 6.3 s on two busy cores, so they sleep instead (RapidOCR has no setting for it).
    session = infer_engine.OrtInferSession
    original = session.__dict__["_init_sess_opts"]

    def options(config):
        opts = original.__func__(config)
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        return opts

    session._init_sess_opts = staticmethod(options)
    try:
        # limit_type "max" with sides up to 2000 leaves the (already scaled) image as it is.
        return RapidOCR(
            intra_op_num_threads=threads,
            inter_op_num_threads=1,
            det_limit_type="max",
            det_limit_side_len=DET_MAX_SIDE,
        )
    finally:
        session._init_sess_opts = original


def _recognise(rapid: RapidOCR, crop: np.ndarray) -> tuple[str, float, list]:
    """(text, mean confidence, decoder details) of one line image. One line per call: a batch
    is padded to its widest line, which made recognition three times slower on a page of mixed
    line lengths."""
    rows, _ = rapid.text_rec([crop], return_word_box=True)
    text, score, info = rows[0]
    return text, float(score), info


# --- images ------------------------------------------------------------------------------------


def _grey(image: np.ndarray) -> np.ndarray:
    import cv2

    image = np.ascontiguousarray(image)
    if image.dtype != np.uint8:
        image = np.clip(image, 0, 255).astype(np.uint8)
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim == 2:
        return image
    if image.shape[2] == 4:  # transparent scans: paint them on white
        alpha = image[:, :, 3:4].astype(np.float32) / 255
        rgb = image[:, :, :3].astype(np.float32) * alpha + 255 * (1 - alpha)
        image = rgb.astype(np.uint8)
    return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)


def _blank(grey: np.ndarray) -> bool:
    return np.count_nonzero(grey < 160) < BLANK_SHARE * grey.size


def _fit(image: np.ndarray, side: int) -> np.ndarray:
    scale = side / max(image.shape[:2])
    return image if scale >= 1 else _resize(image, scale)


def _resize(image: np.ndarray, scale: float) -> np.ndarray:
    import cv2

    h, w = image.shape[:2]
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)


# --- text ---------------------------------------------------------------------------------------


def _latin(ch: str) -> bool:
    return ord(ch) < _CJK and not ch.isspace()


def restore_spaces(text: str, crop: np.ndarray, info: list) -> str:
    """Put back the spaces between Latin words that the recogniser left out.

    PP-OCR's Chinese+English recogniser often reads "clear error" as "clearerror" in small type.
    Its decoder reports the column (of `info[0]` columns across the crop) where each character
    was read; where the crop's ink has a blank run of at least `WORD_GAP` times the text height
    between two Latin characters, a space goes between them.
    """
    n_cols, word_cols = info[0], info[2]
    cols = [c for word in word_cols for c in word]
    if len(cols) != len(text) or not n_cols or not any(_latin(ch) for ch in text):
        return text
    import cv2

    _, ink = cv2.threshold(crop, 0, 1, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    rows = np.flatnonzero(ink.any(axis=1))
    if rows.size == 0:
        return text
    height = rows[-1] - rows[0] + 1
    inked = ink[rows[0] : rows[-1] + 1].sum(axis=0) >= (2 if height >= 24 else 1)
    cell = crop.shape[1] / n_cols
    out = [text[0]]
    for i in range(1, len(text)):
        a, b = text[i - 1], text[i]
        if _latin(a) and _latin(b):
            x0, x1 = int((cols[i - 1] + 0.5) * cell), int((cols[i] + 0.5) * cell)
            if _longest_blank(inked[x0:x1]) >= WORD_GAP * height:
                out.append(" ")
        out.append(b)
    return "".join(out)


def _longest_blank(inked: np.ndarray) -> int:
    best = run = 0
    for value in inked:
        run = 0 if value else run + 1
        best = max(best, run)
    return best


def join_lines(boxes: list[OcrLine]) -> list[OcrLine]:
    """Boxes side by side on one line become one line (left to right); lines top to bottom.

    A box joins a line when its vertical middle lies inside the line's extent and the two
    overlap by at least half the smaller height.
    """
    lines: list[list[OcrLine]] = []
    for box in sorted(boxes, key=lambda b: (b.top + b.bottom) / 2):
        middle = (box.top + box.bottom) / 2
        if lines:
            line = lines[-1]
            top, bottom = min(b.top for b in line), max(b.bottom for b in line)
            overlap = min(bottom, box.bottom) - max(top, box.top)
            smaller = min(bottom - top, box.bottom - box.top)
            if top <= middle <= bottom and overlap >= 0.5 * smaller:
                line.append(box)
                continue
        lines.append([box])
    out = []
    for line in lines:
        line.sort(key=lambda b: b.left)
        text = line[0].text
        for box in line[1:]:
            joint = "" if not _latin(text[-1]) and not _latin(box.text[0]) else " "
            text += joint + box.text
        out.append(
            OcrLine(
                text,
                min(b.top for b in line),
                max(b.bottom for b in line),
                line[0].left,
            )
        )
    return out
