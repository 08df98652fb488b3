"""FOLIO_EMBED_PRECISION: the hardware rule, and bf16 and fp32 vectors being interchangeable.

The interchangeability tests build two real indexes of the sample manuals (real PDFs and a DOCX,
English and Chinese, the packaged MiniLM, embedded Chroma), one embedded in bf16 and one in
fp32, and search each with queries embedded in both precisions.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from folio.embedding import Embedder, compute_plan, describe_plan
from folio.precision import CpuInfo, Precision, _proc_flags, explain, native_bf16, resolve
from folio.settings import Settings, settings_error
from ingest.pipeline import ingest_paths
from retrieval.search import search
from services.build import open_index

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "samples"
QUESTIONS = [
    "How do I reset the filter indicator?",
    "What does error E2 mean?",
    "How do I connect the purifier to Wi-Fi?",
    "How loud is the purifier in sleep mode?",
    "How often should the HEPA filter be replaced?",
    "What happens after five failed sign-ins?",
    "How do I clear a paper jam?",
    "How long must a password be?",
    "怎么连接 Wi-Fi？",
    "粉盒可以打印多少页？",
    "更换硒鼓后要做什么？",
]

EPYC = frozenset({"avx512f", "avx512_vnni", "avx512_bf16"})


# --- the hardware rule ----------------------------------------------------------------------


def test_native_bf16_needs_the_flag_and_avx512_kernels() -> None:
    assert native_bf16(CpuInfo("AVX512", EPYC))
    assert native_bf16(CpuInfo("AVX512", frozenset({"avx512f", "amx_bf16", "amx_tile"})))
    assert not native_bf16(CpuInfo("AVX512", frozenset({"avx512f", "avx512_vnni"})))
    # torch held to AVX2 kernels (ATEN_CPU_CAPABILITY=avx2) would not use the bf16 units
    assert not native_bf16(CpuInfo("AVX2", EPYC))
    assert not native_bf16(CpuInfo("DEFAULT", frozenset()))


def test_auto_picks_by_hardware_and_explicit_choices_are_kept() -> None:
    with_bf16, without = CpuInfo("AVX512", EPYC), CpuInfo("AVX2", frozenset({"avx2"}))
    assert resolve("auto", with_bf16) is Precision.BF16
    assert resolve("auto", without) is Precision.FP32
    assert resolve("fp32", with_bf16) is Precision.FP32
    assert resolve("bf16", without) is Precision.BF16
    assert resolve("bf16", with_bf16, device="cuda") is Precision.FP32
    assert "avx512_bf16" in explain("auto", cpu=with_bf16)
    assert "emulated" in explain("bf16", cpu=without)


def test_cpu_flags_read_from_proc_cpuinfo_format(tmp_path: Path) -> None:
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nflags\t\t: fpu sse2 AVX512_BF16 avx512f\n\nprocessor\t: 1\n")
    assert _proc_flags(info) == frozenset({"fpu", "sse2", "avx512_bf16", "avx512f"})
    assert _proc_flags(tmp_path / "missing") is None


def test_bad_precision_setting_is_one_line_naming_it() -> None:
    with pytest.raises(Exception) as caught:  # noqa: PT011 - pydantic's ValidationError
        Settings(embed_precision="fp16")
    line = settings_error(caught.value)
    assert line.startswith("FOLIO_EMBED_PRECISION: ") and "'fp16'" in line and "bf16" in line
    assert "\n" not in line


def test_embed_threads_default_to_every_core_of_the_process() -> None:
    import os

    assert Settings().embed_threads == len(os.sched_getaffinity(0))
    assert Settings(embed_threads=1).embed_threads == 1


def test_plan_names_precision_and_threads() -> None:
    settings = Settings(embed_precision="fp32", embed_threads=3, query_threads=1)
    embedder = Embedder(settings.embedding_model, precision=settings.embed_precision)
    plan = compute_plan(embedder, settings)
    assert plan["precision"] == "fp32" and plan["ingest_threads"] == 3
    assert describe_plan(plan).startswith("embedding all-MiniLM-L6-v2 in fp32")


# --- bf16 and fp32 vectors in one index --------------------------------------------------------


@pytest.fixture(scope="module")
def indexes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple]:
    """An index of the samples per precision, each with its own embedder."""
    built = {}
    for precision in ("bf16", "fp32"):
        settings = Settings(
            data_dir=tmp_path_factory.mktemp(precision) / "index",
            embed_precision=precision,
            embed_backend="torch",  # both on torch: auto takes ONNX for fp32 where exported
        )
        index, embedder = open_index(settings)
        results = ingest_paths([SAMPLES], settings, index=index, embedder=embedder)
        assert [r.status for r in results if r.status != "skipped"] == ["ingested"] * 3
        built[precision] = (settings, index, embedder)
    return built


def _vectors(index) -> dict[str, np.ndarray]:  # noqa: ANN001
    got = index.collection.get(include=["embeddings"])
    return dict(zip(got["ids"], np.asarray(got["embeddings"], dtype=np.float32), strict=True))


def test_bf16_vectors_match_fp32_on_real_chunks(indexes) -> None:  # noqa: ANN001
    bf16, fp32 = _vectors(indexes["bf16"][1]), _vectors(indexes["fp32"][1])
    assert bf16.keys() == fp32.keys() and len(bf16) >= 20
    assert indexes["bf16"][2].precision is Precision.BF16
    cosines = [float(bf16[k] @ fp32[k]) for k in bf16]
    assert min(cosines) >= 0.9999, sorted(cosines)[:3]
    assert any(not np.array_equal(bf16[k], fp32[k]) for k in bf16)  # bf16 really ran


def _top_pages(hits) -> list[tuple[str, int | None]]:  # noqa: ANN001
    return [(p.doc_name, p.page) for p in hits.passages[:3]]


@pytest.mark.parametrize("built", ["bf16", "fp32"])
def test_index_of_one_precision_searched_with_the_other_finds_the_same_pages(
    indexes,  # noqa: ANN001
    built: str,
) -> None:
    settings, index, _ = indexes[built]
    other = "fp32" if built == "bf16" else "bf16"
    own_embedder, other_embedder = indexes[built][2], indexes[other][2]
    for question in QUESTIONS:
        own = search(index, own_embedder, settings, question, k=3)
        crossed = search(index, other_embedder, settings, question, k=3)
        assert _top_pages(crossed) == _top_pages(own), question
        assert abs(crossed.dense_best - own.dense_best) < 1e-3, question
