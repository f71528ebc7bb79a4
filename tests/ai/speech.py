"""Real speech for tests and benchmarks: the public-domain JFK inaugural clip (11 s, 16 kHz).

It ships inside the pywhispercpp sdist on PyPI. `python -m tests.ai.speech` (run by the
Makefile before pytest) fetches the pinned sdist with pip, extracts the clip into
var/testdata/ and checks its sha256; nothing else in the sdist is kept.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TESTDATA = ROOT / "var" / "testdata"
JFK_WAV = TESTDATA / "jfk.wav"
JFK_SHA256 = "59dfb9a4acb36fe2a2affc14bacbee2920ff435cb13cc314a08c13f66ba7860e"
JFK_TEXT = "And so my fellow Americans, ask not what your country can do for you, ask what you can do for your country."
_SDIST = "pywhispercpp==1.5.1"
_MEMBER = "pywhispercpp-1.5.1/whisper.cpp/samples/jfk.wav"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def jfk_wav() -> Path:
    """The verified clip, fetched once (the sdist download takes a few seconds)."""
    if JFK_WAV.is_file() and _sha256(JFK_WAV) == JFK_SHA256:
        return JFK_WAV
    TESTDATA.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        # --no-binary for this one package only: its build requirements may stay wheels.
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "-q",
                "--no-deps",
                "--no-binary",
                "pywhispercpp",
                _SDIST,
                "-d",
                tmp,
            ],
            check=True,
        )
        sdist = next(Path(tmp).glob("pywhispercpp-*.tar.gz"))
        with tarfile.open(sdist) as archive:
            member = archive.extractfile(_MEMBER)
            if member is None:
                raise RuntimeError(f"{_MEMBER} is not in {sdist.name}")
            data = member.read()
    if hashlib.sha256(data).hexdigest() != JFK_SHA256:
        raise RuntimeError("jfk.wav from the sdist does not have the pinned sha256")
    partial = JFK_WAV.with_suffix(".partial")
    partial.write_bytes(data)
    partial.replace(JFK_WAV)
    return JFK_WAV


def normalise(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower())


def word_error_rate(reference: str, hypothesis: str) -> float:
    """Word-level Levenshtein distance / reference length, after lower-casing and dropping punctuation."""
    ref, hyp = normalise(reference), normalise(hypothesis)
    previous = list(range(len(hyp) + 1))
    for i, ref_word in enumerate(ref, 1):
        current = [i]
        for j, hyp_word in enumerate(hyp, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ref_word != hyp_word)))
        previous = current
    return previous[-1] / max(1, len(ref))


if __name__ == "__main__":
    print(jfk_wav())
