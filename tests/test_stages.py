"""The overlapped chunk -> embed -> write stages of one document (ingest/stages.py)."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from folio.settings import Settings
from folio.types import Chunk
from ingest.stages import embed_window, run_overlapped, windows
from services.build import open_index


def _numbers(n: int, seen: list[int] | None = None):
    for i in range(n):
        if seen is not None:
            seen.append(i)
        yield i


def _timings() -> dict[str, float]:
    return {"chunk": 0.0, "embed": 0.0, "write": 0.0}


def test_windows_are_embedded_and_written_in_order_with_their_own_vectors() -> None:
    written: list[tuple[list[int], list[float]]] = []
    progress: list[int] = []

    def embed(window: list[int]) -> np.ndarray:
        return np.array([[float(i) * 10] for i in window])

    total = run_overlapped(
        windows(_numbers(23), 5),
        embed,
        lambda w, v: written.append((w, v[:, 0].tolist())),
        _timings(),
        on_written=progress.append,
    )
    assert total == 23
    assert [i for w, _ in written for i in w] == list(range(23))
    assert all(vec == [i * 10.0 for i in w] for w, vec in written)
    assert progress == sorted(progress) and progress[-1] == 23


def test_the_stages_overlap() -> None:
    """While window 1 is embedded, window 0 is being written and window 2 chunked: each stage
    waits for the other to have started, which one-after-the-other stages never do."""
    embedding = [threading.Event() for _ in range(4)]
    chunked = [threading.Event() for _ in range(4)]
    overlapped: list[str] = []

    def items():
        for i in range(4):
            chunked[i].set()
            yield i

    def embed(window):
        embedding[window[0]].set()
        if window[0] == 1 and chunked[2].wait(5):
            overlapped.append("chunk 2 while embedding 1")
        return np.zeros((len(window), 1))

    def write(window, vectors):
        if window[0] == 0 and embedding[1].wait(5):
            overlapped.append("write 0 while embedding 1")

    run_overlapped(windows(items(), 1), embed, write, _timings())
    assert overlapped == ["chunk 2 while embedding 1", "write 0 while embedding 1"]


def test_the_chunker_stays_a_bounded_number_of_windows_ahead() -> None:
    seen: list[int] = []
    release = threading.Event()

    def embed(window):
        release.wait(5)
        return np.zeros((len(window), 1))

    thread = threading.Thread(
        target=run_overlapped,
        args=(windows(_numbers(1000, seen), 10), embed, lambda w, v: None, _timings()),
    )
    thread.start()
    time.sleep(0.5)
    ahead = len(seen)
    release.set()
    thread.join(10)
    # the window being embedded, two waiting, one being made: never the whole document
    assert ahead <= 50, ahead
    assert len(seen) == 1000


@pytest.mark.parametrize("stage", ["chunk", "embed", "write"])
def test_an_error_in_any_stage_stops_all_and_is_raised_here(stage: str) -> None:
    written: list[list[int]] = []

    def items():
        for i in range(100):
            if stage == "chunk" and i == 42:
                raise ValueError("bad page")
            yield i

    def embed(window):
        if stage == "embed" and window[0] >= 40:
            raise ValueError("model failed")
        return np.zeros((len(window), 1))

    def write(window, vectors):
        if stage == "write" and window[0] >= 40:
            raise ValueError("disk full")
        written.append(window)

    started = threading.active_count()
    with pytest.raises(ValueError, match="bad page|model failed|disk full"):
        run_overlapped(windows(items(), 10), embed, write, _timings())
    assert threading.active_count() == started  # no stage thread left behind
    assert [w[0] for w in written] == list(range(0, 40, 10))[: len(written)]
    assert all(w[0] < 40 for w in written)


def test_embed_window_keeps_each_chunk_with_its_own_vector(tmp_path) -> None:
    """Sorted into batches by token count, the vectors still come back in the window's order:
    each equals the chunk embedded on its own."""
    settings = Settings(data_dir=tmp_path / "index", embed_batch_size=4, embed_precision="fp32")
    _, embedder = open_index(settings)
    texts = [
        "Reset the filter.",
        "Error E42 means the motor overheated; let it cool for thirty minutes before restarting.",
        "短文本。",
        "Open valve V3.",
        "Replace the impeller every 2000 hours of operation and check the seals and bearings "
        "for wear, noise and leaks; order part AQF-30 from service.",
        "粉盒 TN-22 可打印约 1500 页，硒鼓 DR-22 可打印约 12000 页。",
        "Hold POWER for three seconds.",
    ]
    window = [
        Chunk(f"d-{i}", "d", i, t, 1, 1, None, None, "Sec", 0, len(t), 0)
        for i, t in enumerate(texts)
    ]
    vectors = embed_window(embedder, window, "Manual", settings)
    alone = embedder.embed([f"Manual > Sec\n{t}" for t in texts], batch_size=1)
    assert vectors.shape == alone.shape
    assert np.min(np.sum(vectors * alone, axis=1)) > 0.9999


def test_the_parser_worker_extracts_only_the_next_document_ahead(tmp_path, monkeypatch) -> None:
    """While a document is embedded, spool files exist for it and the next one only: the worker
    works one document ahead, it does not extract the whole batch to disk."""
    import tempfile

    from ingest.pipeline import ingest_paths
    from tests.fixtures import make_pdf

    spools = tmp_path / "spools"
    spools.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spools))
    files = [
        make_pdf(tmp_path / f"manual-{i}.pdf", [f"Manual {i}. Step {s}: check valve V{i}{s}."
                                                 for s in range(3)])
        for i in range(5)
    ]  # fmt: skip
    settings = Settings(data_dir=tmp_path / "index")
    index, embedder = open_index(settings)
    order = [f.name for f in files]
    seen: list[tuple[int, set[str]]] = []

    def progress(p) -> None:
        if p.phase == "embedding":
            spooled = {f.stem for f in spools.rglob("*.jsonl")}
            seen.append((order.index(p.file), spooled))

    results = ingest_paths(files, settings, index=index, embedder=embedder, progress=progress)
    assert [r.status for r in results] == ["ingested"] * 5
    ids = [r.doc_id for r in results]
    assert {n for n, _ in seen} == set(range(5))
    for n, spooled in seen:
        assert spooled <= set(ids[n : n + 2]), (n, spooled)
