"""MiniLM on ONNX Runtime (FOLIO_EMBED_BACKEND=onnx): the same vectors as torch, so an index
built with either backend is searched with the other.

The export is made once per session from the installed model (folio/embedding_export.py), into
a temporary directory: the tests do not depend on `make setup` having exported it. The index
tests build real indexes of the sample manuals (PDFs and a DOCX, English and Chinese), one per
backend, and search each with queries embedded by both.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from folio.embed_backend import (
    BackendUnavailable,
    EmbedBackend,
    Workload,
    choose,
    torch_installed,
)
from folio.embedding import (
    Embedder,
    compute_plan,
    describe_plan,
    onnx_file,
    open_embedder,
    resolve_model_path,
)
from folio.embedding_onnx import OnnxEmbedder, default_onnx_file, int8_file
from folio.settings import Settings
from ingest.pipeline import ingest_paths
from retrieval.search import search
from services.build import open_index

needs_torch = pytest.mark.skipif(
    not torch_installed(), reason="the export and the comparison need torch (the dev install)"
)

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "samples"
MODEL = "all-MiniLM-L6-v2"
# Short and long, English and Chinese; the long ones pass the 256-token limit, so truncation
# must be sentence-transformers' (special tokens included) for the vectors to agree.
TEXTS = [
    "How do I reset the filter indicator?",
    "E2",
    "怎么连接 Wi-Fi？",
    "粉盒可以打印多少页？",
    "Replace the HEPA filter every six months, or sooner when the indicator turns red. " * 12,
    "打印机在待机模式下的功耗低于一瓦。更换硒鼓后，请在菜单中重置计数器。" * 12,
    "Remove the paper tray, clear the jam, then close the rear door until it clicks.",
]
QUESTIONS = [
    "How do I reset the filter indicator?",
    "What does error E2 mean?",
    "How do I connect the purifier to Wi-Fi?",
    "How often should the HEPA filter be replaced?",
    "What happens after five failed sign-ins?",
    "How do I clear a paper jam?",
    "怎么连接 Wi-Fi？",
    "粉盒可以打印多少页？",
    "更换硒鼓后要做什么？",
]


@pytest.fixture(scope="session")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not torch_installed():
        pytest.skip("the ONNX export needs torch (the dev install has it)")
    from folio.embedding_export import export_onnx

    out = tmp_path_factory.mktemp("onnx") / "model.onnx"
    export_onnx(resolve_model_path(MODEL), out)
    return out


@pytest.fixture(scope="module")
def onnx_embedder(exported: Path) -> OnnxEmbedder:
    embedder = open_embedder(Settings(embed_backend="onnx", embed_onnx=exported))
    assert isinstance(embedder, OnnxEmbedder)
    return embedder


# --- choosing the backend --------------------------------------------------------------------


def test_auto_picks_onnx_for_queries_and_torch_bf16_for_ingest(tmp_path: Path) -> None:
    export = tmp_path / "model.onnx"
    assert choose("auto", export, has_torch=True)[0] is EmbedBackend.TORCH  # no export yet
    export.write_bytes(b"stand-in")
    backend, why = choose("auto", export, has_torch=True)
    assert backend is EmbedBackend.ONNX and "export exists" in why
    ingest = dict(workload=Workload.INGEST, has_torch=True)
    backend, why = choose("auto", export, native_bf16=True, **ingest)
    assert backend is EmbedBackend.TORCH and "bf16" in why
    assert choose("auto", export, native_bf16=False, **ingest)[0] is EmbedBackend.ONNX
    # an explicit fp32 ingest is not the bf16 case: the export is the faster fp32
    assert choose("auto", export, precision="fp32", native_bf16=True, **ingest)[0] is (
        EmbedBackend.ONNX
    )
    assert choose("auto", export, has_torch=False)[0] is EmbedBackend.ONNX
    assert choose("auto", export, device="cuda", has_torch=True)[0] is EmbedBackend.TORCH
    assert choose("auto", export, precision="bf16", has_torch=True)[0] is EmbedBackend.TORCH
    assert choose("onnx", export, has_torch=True)[0] is EmbedBackend.ONNX
    assert choose("torch", export, has_torch=True)[0] is EmbedBackend.TORCH


def test_the_plan_names_the_ingest_runtime_when_it_differs(tmp_path: Path) -> None:
    plan = {
        "embedder": "m", "backend": "onnx", "precision": "fp32", "precision_note": "auto: query",
        "ingest_threads": 1, "query_threads": 1,
        "ingest_backend": "torch", "ingest_precision": "bf16",
    }  # fmt: skip
    assert describe_plan(plan).endswith("; the ingest worker in bf16 on torch")
    same = {**plan, "ingest_backend": "onnx", "ingest_precision": "fp32"}
    assert "ingest worker" not in describe_plan(same)


def test_a_backend_that_cannot_run_is_one_line_saying_what_to_do(tmp_path: Path) -> None:
    missing = tmp_path / "model.onnx"
    with pytest.raises(BackendUnavailable, match="folio embedder --export") as caught:
        choose("auto", missing, has_torch=False)
    assert "\n" not in str(caught.value) and str(missing) in str(caught.value)
    with pytest.raises(BackendUnavailable, match="FOLIO_EMBED_BACKEND=onnx"):
        choose("onnx", missing, has_torch=True)
    with pytest.raises(BackendUnavailable, match="not installed"):
        choose("torch", missing, has_torch=False)


def test_export_defaults_to_the_model_directory_and_the_setting_moves_it(tmp_path: Path) -> None:
    model_dir = resolve_model_path(MODEL)
    assert onnx_file(Settings()) == default_onnx_file(model_dir) == model_dir / "onnx/model.onnx"
    assert onnx_file(Settings(embed_onnx=tmp_path / "m.onnx")) == tmp_path / "m.onnx"


def test_reranker_without_torch_is_refused_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    import retrieval.rerank as rerank

    monkeypatch.setattr(rerank, "torch_installed", lambda: False)
    with pytest.raises(BackendUnavailable, match="FOLIO_RERANKER_MODEL needs torch"):
        rerank.Reranker(resolve_model_path(MODEL))


# --- the export ------------------------------------------------------------------------------


@needs_torch
def test_export_is_byte_identical_when_made_twice(exported: Path, tmp_path: Path) -> None:
    from folio.embedding_export import export_onnx, sha256

    again = export_onnx(resolve_model_path(MODEL), tmp_path / "model.onnx")
    assert again == sha256(exported)
    assert (tmp_path / "model.onnx.sha256").read_text().split()[0] == again
    assert (tmp_path / "model.onnx").stat().st_mode & 0o044 == 0o044  # another user reads it


def test_onnx_embedder_reports_backend_and_plan(onnx_embedder: OnnxEmbedder) -> None:
    settings = Settings(embed_threads=2)
    plan = compute_plan(onnx_embedder, settings)
    assert plan["backend"] == "onnx" and plan["precision"] == "fp32"
    assert describe_plan(plan).startswith(f"embedding {MODEL} in fp32 on ONNX Runtime")


# --- the same vectors --------------------------------------------------------------------------


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_onnx_vectors_match_torch_for_english_and_chinese_short_and_long(
    onnx_embedder: OnnxEmbedder, precision: str
) -> None:
    torch_embedder = Embedder(MODEL, precision=precision)
    assert onnx_embedder.name == torch_embedder.name == MODEL  # what the index records
    assert onnx_embedder.dim == torch_embedder.dim == 384
    assert onnx_embedder.max_tokens == torch_embedder.max_tokens == 256
    assert max(onnx_embedder.count_tokens(TEXTS)) > 256  # truncation is exercised
    assert onnx_embedder.count_tokens(TEXTS) == torch_embedder.count_tokens(TEXTS)
    ours = onnx_embedder.embed(TEXTS, batch_size=3, threads=2)
    theirs = torch_embedder.embed(TEXTS)
    assert ours.dtype == np.float32 and ours.shape == theirs.shape
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    cosines = (ours * theirs).sum(axis=1)
    assert cosines.min() >= 0.9999, cosines
    query = onnx_embedder.embed_query(QUESTIONS[-1])
    assert float(query @ torch_embedder.embed_query(QUESTIONS[-1])) >= 0.9999


def test_batching_and_padding_do_not_change_a_vector(onnx_embedder: OnnxEmbedder) -> None:
    together = onnx_embedder.embed(TEXTS, batch_size=4)
    alone = np.stack([onnx_embedder.embed_query(t) for t in TEXTS])
    np.testing.assert_allclose(together, alone, atol=2e-5)
    assert onnx_embedder.embed([]).shape == (0, 384)


# --- one index, either backend -------------------------------------------------------------------


@pytest.fixture(scope="module")
def indexes(tmp_path_factory: pytest.TempPathFactory, exported: Path) -> dict[str, tuple]:
    """An index of the samples per backend, each with its own embedder."""
    built = {}
    for backend in ("torch", "onnx"):
        settings = Settings(
            data_dir=tmp_path_factory.mktemp(backend) / "index",
            embed_backend=backend,
            embed_onnx=exported,
            embed_precision="fp32",
        )
        index, embedder = open_index(settings)
        assert embedder.backend == backend
        results = ingest_paths([SAMPLES], settings, index=index, embedder=embedder)
        assert [r.status for r in results if r.status != "skipped"] == ["ingested"] * 3
        built[backend] = (settings, index, embedder)
    return built


def _vectors(index) -> dict[str, np.ndarray]:  # noqa: ANN001
    got = index.collection.get(include=["embeddings"])
    return dict(zip(got["ids"], np.asarray(got["embeddings"], dtype=np.float32), strict=True))


def test_indexes_built_with_either_backend_hold_the_same_vectors(indexes) -> None:  # noqa: ANN001
    by_torch, by_onnx = _vectors(indexes["torch"][1]), _vectors(indexes["onnx"][1])
    assert by_torch.keys() == by_onnx.keys() and len(by_torch) >= 20
    cosines = [float(by_torch[k] @ by_onnx[k]) for k in by_torch]
    assert min(cosines) >= 0.9999, sorted(cosines)[:3]


def _top_pages(hits) -> list[tuple[str, int | None]]:  # noqa: ANN001
    return [(p.doc_name, p.page) for p in hits.passages[:3]]


@pytest.mark.parametrize("built", ["torch", "onnx"])
def test_index_of_one_backend_searched_with_the_other_finds_the_same_pages(
    indexes,  # noqa: ANN001
    built: str,
) -> None:
    settings, index, own_embedder = indexes[built]
    other_embedder = indexes["onnx" if built == "torch" else "torch"][2]
    for question in QUESTIONS:
        own = search(index, own_embedder, settings, question, k=3)
        crossed = search(index, other_embedder, settings, question, k=3)
        assert _top_pages(own), question
        assert _top_pages(crossed) == _top_pages(own), question
        assert abs(crossed.dense_best - own.dense_best) < 1e-3, question


# --- int8 (opt-in: FOLIO_EMBED_PRECISION=int8) ---------------------------------------------------


def test_int8_runs_on_onnx_only_and_needs_its_own_export(tmp_path: Path) -> None:
    fp32 = tmp_path / "model.onnx"
    int8 = int8_file(fp32)
    assert int8 == tmp_path / "model_qint8.onnx"
    with pytest.raises(BackendUnavailable, match="--export --int8"):
        choose("auto", int8, precision="int8", has_torch=True)
    int8.write_bytes(b"stand-in")
    assert choose("auto", int8, precision="int8", has_torch=True)[0] is EmbedBackend.ONNX
    with pytest.raises(BackendUnavailable, match="ONNX Runtime only"):
        choose("torch", int8, precision="int8", has_torch=True)
    settings = Settings(embed_onnx=fp32, embed_precision="int8")
    assert onnx_file(settings, settings.embed_precision) == int8


@pytest.fixture(scope="module")
def int8_embedder(exported: Path) -> OnnxEmbedder:
    from folio.embedding_export import quantize_int8

    quantize_int8(exported, int8_file(exported))
    embedder = open_embedder(Settings(embed_onnx=exported, embed_precision="int8"))
    assert isinstance(embedder, OnnxEmbedder)
    return embedder


def test_int8_vectors_are_close_but_not_interchangeable_so_the_index_name_differs(
    int8_embedder: OnnxEmbedder, onnx_embedder: OnnxEmbedder, tmp_path: Path
) -> None:
    assert int8_embedder.precision == "int8" and int8_embedder.name == f"{MODEL}-int8"
    cosines = (int8_embedder.embed(TEXTS) * onnx_embedder.embed(TEXTS)).sum(axis=1)
    assert cosines.min() >= 0.95, cosines  # 0.98 at worst on the dev and zh-dev questions
    assert cosines.min() < 0.9999  # really quantised
    settings = Settings(data_dir=tmp_path / "index")
    index, _ = open_index(settings, onnx_embedder)
    sample = SAMPLES / "it-helpdesk-handbook.docx"
    ingest_paths([sample], settings, index=index, embedder=onnx_embedder)
    index.close()
    from folio.index import IndexMismatch

    with pytest.raises(IndexMismatch, match="-int8.*set FOLIO_EMBED_PRECISION=auto"):
        int8_index, _ = open_index(settings, int8_embedder)
        search(int8_index, int8_embedder, settings, QUESTIONS[0])
