"""Name accuracy (issue 11): does the personal vocabulary make Whisper spell the user's names?

espeak-ng speaks 14 short notes holding 25 distinct uncommon names (people and places). Local
Whisper base int8 transcribes each one without a prompt, then with the user's vocabulary (the
prompt that mindpost.notes.vocabulary builds) passed as `initial_prompt`, as `hotwords`, and
as both. For each run it prints name accuracy (names spelled exactly right, case-insensitive /
names spoken) and WER, then writes them into docs/benchmarks.md under "## Name accuracy (issue 11)".

    make bench-names        # or: .venv/bin/python bench/name_accuracy.py [--no-write]

Needs the Whisper model (make models-test) and espeak-ng.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

from bench._docs import machine, write_block  # noqa: E402
from tests.ai import speech  # noqa: E402

SECTION = "## Name accuracy (issue 11)"
MARK = "names"

# (text spoken, names in it). Every name is in the vocabulary below; some come back in later
# notes, the way a misheard friend's name "stays wrong in every later note".
NOTES: list[tuple[str, list[str]]] = [
    ("I met Stavros at the harbour in Nafplio this morning.", ["Stavros", "Nafplio"]),
    ("Siobhan says the workshop with Wojciech moved to Thursday.", ["Siobhan", "Wojciech"]),
    ("Call Aoife about the flat in Ljubljana before Friday.", ["Aoife", "Ljubljana"]),
    ("Niamh and Tadhg are driving down from Galway on Saturday.", ["Niamh", "Tadhg", "Galway"]),
    ("Remember to send Saoirse the photos from Kalamata.", ["Saoirse", "Kalamata"]),
    ("Yiannis recommended a small taverna in Monemvasia.", ["Yiannis", "Monemvasia"]),
    ("The conference in Thessaloniki opens with a talk by Dimitra.", ["Thessaloniki", "Dimitra"]),
    ("Ngozi wants to meet Chidi for lunch next week.", ["Ngozi", "Chidi"]),
    ("Oluwaseun sent the contract to Bartosz yesterday.", ["Oluwaseun", "Bartosz"]),
    ("Zbigniew is flying to Oaxaca in March.", ["Zbigniew", "Oaxaca"]),
    ("Xochitl lent me a book about the shipyards of Gdansk.", ["Xochitl", "Gdansk"]),
    ("Joaquin will pick us up at the station in Leuven.", ["Joaquin", "Leuven"]),
    ("Ask Stavros whether Wojciech can join us in Nafplio.", ["Stavros", "Wojciech", "Nafplio"]),
    ("Siobhan and Yiannis both loved the ferry to Monemvasia.", ["Siobhan", "Yiannis", "Monemvasia"]),
]
VOCABULARY = list(dict.fromkeys(name for _, names in NOTES for name in names))


def speak(text: str, path: Path) -> Path:
    if not shutil.which("espeak-ng"):
        raise SystemExit("espeak-ng is not installed (apt-get install espeak-ng).")
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(path), text], check=True)
    return path


def names_right(names: list[str], hypothesis: str) -> int:
    """How many of the spoken names appear spelled exactly (any case) in the transcript."""
    right = 0
    remaining = hypothesis
    for name in names:
        match = re.search(rf"(?<!\w){re.escape(name)}(?!\w)", remaining, flags=re.IGNORECASE)
        if match:
            right += 1
            remaining = remaining[: match.start()] + remaining[match.end() :]  # one spoken, one counted
    return right


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--no-write", action="store_true", help="Print only; leave docs/benchmarks.md alone.")
    args = parser.parse_args()
    started_at = machine()

    import django

    django.setup()
    from mindpost.ai.models import whisper_model_dir
    from mindpost.ai.transcribe import LocalTranscriber
    from mindpost.notes.vocabulary import prompt_from_terms

    prompt = prompt_from_terms(VOCABULARY)
    cache_dir = Path(os.environ.get("MODEL_CACHE_DIR") or ROOT / "var" / "models")
    model_dir = whisper_model_dir(cache_dir=cache_dir)
    runs = [
        ("no vocabulary", "initial_prompt", None),
        ("vocabulary as initial_prompt", "initial_prompt", prompt),
        ("vocabulary as hotwords", "hotwords", prompt),
        ("vocabulary as both", "both", prompt),
    ]
    spoken = sum(len(names) for _, names in NOTES)
    print(f"{len(NOTES)} notes, {len(VOCABULARY)} distinct names, {spoken} names spoken")
    print(f"prompt ({len(prompt)} chars): {prompt}")
    try:
        from faster_whisper.tokenizer import Tokenizer  # only to report the prompt's real size

        transcriber = LocalTranscriber(model_dir=model_dir)
        tokenizer = Tokenizer(transcriber._model().hf_tokenizer, multilingual=True, task="transcribe", language="en")
        prompt_tokens: int | None = len(tokenizer.encode(" " + prompt))
        print(f"prompt tokens (Whisper tokenizer): {prompt_tokens}")
    except Exception as exc:  # a report detail, never a reason to stop
        print(f"could not count prompt tokens: {exc}")
        prompt_tokens = None

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        clips = [speak(text, Path(tmp) / f"note{i}.wav") for i, (text, _) in enumerate(NOTES)]
        for label, mode, run_prompt in runs:
            transcriber = LocalTranscriber(model_dir=model_dir, prompt_mode=mode)  # type: ignore[arg-type]
            right, wers, started = 0, [], time.perf_counter()
            for clip, (text, names) in zip(clips, NOTES, strict=True):
                hypothesis = transcriber.transcribe(audio=clip, language="en", prompt=run_prompt).text
                right += names_right(names, hypothesis)
                wers.append(speech.word_error_rate(text, hypothesis))
                print(f"  [{label}] {hypothesis}")
            wall = time.perf_counter() - started
            accuracy, wer = right / spoken, sum(wers) / len(wers)
            rows.append((label, right, accuracy, wer, wall))
            print(f"{label}: names {right}/{spoken} = {accuracy:.0%}, mean WER {wer:.1%}, {wall:.1f} s")

    if args.no_write:
        return
    table = "\n".join(
        f"| {label} | {right}/{spoken} | {accuracy:.0%} | {wer:.1%} | {wall:.1f} s |"
        for label, right, accuracy, wer, wall in rows
    )
    tokens = f"{prompt_tokens} Whisper tokens" if prompt_tokens is not None else "token count unavailable"
    write_block(
        MARK,
        f"""### Names spelled right, with and without the user's vocabulary (`bench/name_accuracy.py`)

Measured with `make bench-names` on {started_at}. {len(NOTES)} short notes spoken by espeak-ng
(en-us, 150 wpm) holding {len(VOCABULARY)} distinct uncommon names (Stavros, Nafplio, Siobhan,
Wojciech, Tadhg, Oluwaseun, Xochitl…), {spoken} names spoken in all; local Whisper base int8,
beam 5, language en. The vocabulary is those names as a user would list them in settings,
turned into a prompt by `mindpost.notes.vocabulary.prompt_from_terms` ({len(prompt)} characters,
{tokens}). Name accuracy = names spelled exactly (any case) / names spoken; WER is the mean over
notes. Wall time is for all {len(NOTES)} notes (noisy on a shared machine: compare rows, not runs).

| run | names right | name accuracy | WER | wall |
|---|---|---|---|---|
{table}

MindPost passes the vocabulary as `hotwords` to local Whisper (on a clip under 30 s it is the same
prompt as `initial_prompt`; on longer ones faster-whisper repeats it before every window) and as
`prompt` to an OpenAI-compatible API (see mindpost/ai/transcribe.py).""",
        section=SECTION,
    )


if __name__ == "__main__":
    main()
