"""Notes pipeline: time from upload to `ready` for a ~60 s speech clip, with the local models.

    .venv/bin/python bench/pipeline.py [--runs 5] [--write-docs]

What it does, on a throwaway database of the embedded PostgreSQL (created and dropped here):
  1. makes ~60 s of speech with espeak-ng and encodes it as webm/opus (what browsers record);
  2. starts a real worker (`manage.py procrastinate worker`) with the local backends
     (Whisper base int8 + multilingual-e5-small) and warms it up with one upload (model load);
  3. uploads the clip through POST /api/brain-dumps/ `--runs` times, and times each from the
     start of the request until the note is `ready` (polling the database every 50 ms);
  4. reports the median and the spread, the request's own share (checks + decode + store),
     and the worker's peak RSS (VmHWM from /proc, which includes the loaded models).

Needs espeak-ng (apt-get install -y espeak-ng) and the model wheels of `make test`.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DOCS = ROOT / "docs" / "benchmarks.md"
SECTION = "## Notes pipeline"

from bench._docs import machine  # noqa: E402

SPEECH = (
    "Quick note before I forget. This morning I met Nikos at the harbour in Nafplio. He builds wooden "
    "boats the old way, with oak for the frame and pine for the planks, and he said one small boat takes "
    "him almost a year. He wants to teach a short course next spring for people who have never held a "
    "plane or a chisel. I should ask him about the price and whether the course is in English or in "
    "Greek. Also, the insurance renewal is due on the fourteenth, policy number four four seven one, "
    "and the bank wants the new address before then. Call them on Monday. Finally, an idea for a post: "
    "most of what we call craft is patience that nobody sees. Nikos sands each plank three times, and "
    "he says the boat remembers every shortcut. Hashtag travel. Hashtag ideas."
)


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def make_clip(directory: Path) -> tuple[bytes, float]:
    from tests.notes import audio_files

    wav = audio_files.speech_wav(SPEECH, directory / "speech.wav", words_per_minute=130)
    samples, rate = audio_files.read_wav(wav)
    return audio_files.encode(samples, rate, "webm"), len(samples) / rate


def write_docs(markdown: str) -> None:
    """Replace our block inside "## Notes pipeline" (others write other sections of the file)."""
    start, end = "<!-- bench:notes-pipeline -->", "<!-- /bench:notes-pipeline -->"
    block = f"{start}\n{markdown.strip()}\n{end}"
    text = DOCS.read_text() if DOCS.exists() else "# Benchmarks\n"
    if start in text and end in text:
        text = re.sub(re.escape(start) + r".*?" + re.escape(end), lambda _: block, text, flags=re.S)
    elif SECTION in text:
        head, tail = text.split(SECTION, 1)
        match = re.search(r"^## ", tail, flags=re.M)
        rest = tail[match.start() :] if match else ""
        body = tail[: match.start()] if match else tail
        text = head + SECTION + body.rstrip("\n") + "\n\n" + block + "\n" + ("\n" + rest if rest else "")
    else:
        text = text.rstrip("\n") + f"\n\n{SECTION}\n\n{block}\n"
    DOCS.write_text(text)
    print(f"wrote the figures to {DOCS}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args()
    started_on = machine()  # the load before our own work starts

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ["TEST_DB_NAME"] = "bench_mindpost_notes"
    os.environ["LOG_LEVEL"] = "WARNING"
    import django

    from mindpost.core import bootstrap

    bootstrap.ensure_dev_secrets()  # an entry point, like manage.py
    django.setup()
    from django.conf import settings
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.db import connection
    from django.test.utils import setup_test_environment
    from rest_framework.test import APIClient

    from mindpost.accounts.models import User
    from mindpost.notes.models import Note, NoteStatus

    setup_test_environment()
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    workdir = Path(tempfile.mkdtemp(prefix="mindpost-bench-"))
    media = workdir / "media"
    media.mkdir()
    settings.MEDIA_ROOT = media
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(media)}},
    }
    clip, clip_seconds = make_clip(workdir)
    print(f"clip: {clip_seconds:.1f} s of espeak-ng speech, {len(clip) / 1024:.0f} KiB webm/opus")

    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    params = connection.settings_dict
    worker_env = {
        **{k: v for k, v in os.environ.items() if k != "TEST_DB_NAME"},
        "DATABASE_URL": f"postgres://{params['USER'] or 'postgres'}@/{params['NAME']}?host={quote(params['HOST'])}",
        "MEDIA_ROOT": str(media),
        "STORAGE_BACKEND": "filesystem",
        "TRANSCRIBE_BACKEND": "local",
        "EMBED_BACKEND": "local",
        "LOG_LEVEL": "WARNING",
    }
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "procrastinate", "worker", "-q", "notes", "-p", "0.2"],
        cwd=ROOT,
        env=worker_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        user = User.objects.create_user(email="bench@example.com", password=None)
        client = APIClient()
        client.force_authenticate(user)

        def one_run() -> tuple[float, float]:
            started = time.perf_counter()
            response = client.post(
                "/api/brain-dumps/", {"audio_file": SimpleUploadedFile("clip.webm", clip)}, format="multipart"
            )
            request_done = time.perf_counter()
            assert response.status_code == 201, response.content
            note_id = response.json()["id"]
            while True:
                status = Note.objects.filter(pk=note_id).values_list("status", flat=True).first()
                if status != NoteStatus.PROCESSING:
                    break
                if worker.poll() is not None:
                    raise SystemExit("the worker died")
                if time.perf_counter() - started > 600:
                    raise SystemExit("timed out")
                time.sleep(0.05)
            finished = time.perf_counter()
            assert status == NoteStatus.READY, Note.objects.get(pk=note_id).failure_code
            return finished - started, request_done - started

        cold, _ = one_run()
        print(f"cold run (loads the models in the worker): {cold:.1f} s")
        totals, requests = [], []
        for index in range(args.runs):
            total, request = one_run()
            totals.append(total)
            requests.append(request)
            print(f"run {index + 1}: upload -> ready {total:.2f} s (request {request:.2f} s)")
        peak = peak_rss_mb(worker.pid)
        note = Note.objects.filter(user=user).first()
        words = len(note.transcription.split()) if note else 0
        passages = note.passages.count() if note else 0
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(timeout=30)
        connection.creation.destroy_test_db(old_name, verbosity=0)

    median = statistics.median(totals)
    print(
        f"\nmedian upload -> ready: {median:.2f} s over {args.runs} runs "
        f"(min {min(totals):.2f}, max {max(totals):.2f}); request part median {statistics.median(requests):.2f} s; "
        f"worker peak RSS {peak:.0f} MB; {words} words, {passages} passages"
    )
    if args.write_docs:
        write_docs(
            f"""`bench/pipeline.py` — {started_on}.

A {clip_seconds:.0f} s speech clip (espeak-ng, webm/opus, {len(clip) / 1024:.0f} KiB) uploaded through
`POST /api/brain-dumps/` to a real worker with the local models (Whisper base int8, multilingual-e5-small),
timed from the start of the request until the note is `ready`; the worker was warmed up by one upload first.

| measure | value |
|---|---|
| upload → ready, median of {args.runs} | **{median:.2f} s** (min {min(totals):.2f}, max {max(totals):.2f}) |
| of which the request (checks, one decode, storing; returns `processing`) | {statistics.median(requests):.2f} s |
| first upload after the worker started (loads both models) | {cold:.1f} s |
| worker peak RSS (VmHWM, models loaded) | {peak:.0f} MB |
| transcript / passages | {words} words / {passages} passages |

Transcription dominates; chunking, tagging, the blind index and the pgvector insert are milliseconds."""
        )


if __name__ == "__main__":
    main()
