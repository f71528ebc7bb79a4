"""Write a benchmark's figures into docs/benchmarks.md under "## Search and chat".

Several benchmarks (and other people's) share that file, so each script owns one block between
`<!-- bench:NAME -->` markers inside the section and replaces only that block.
"""

from __future__ import annotations

import os
import platform
import re
from datetime import UTC, datetime
from pathlib import Path

DOCS = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
SECTION = "## Search and chat"


def machine() -> str:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (
        f"{datetime.now(UTC):%Y-%m-%d}, {os.cpu_count()} cores {cpu}".rstrip()
        + f", {platform.system()} {platform.release()}, Python {platform.python_version()}, load {load:.1f} at start"
    )


def write_block(name: str, markdown: str, *, section: str = SECTION) -> None:
    """Replace the block NAME, or add it at the end of `section` (made at the end when missing)."""
    start, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
    block = f"{start}\n{markdown.strip()}\n{end}"
    text = DOCS.read_text() if DOCS.exists() else "# Benchmarks\n"
    if start in text and end in text:
        text = re.sub(re.escape(start) + r".*?" + re.escape(end), lambda _: block, text, flags=re.S)
    elif section in text:
        # Append at the end of our section (before the next "## " heading, if any).
        head, tail = text.split(section, 1)
        match = re.search(r"^## ", tail, flags=re.M)
        if match:
            text = head + section + tail[: match.start()].rstrip("\n") + "\n\n" + block + "\n\n" + tail[match.start() :]
        else:
            text = head + section + tail.rstrip("\n") + "\n\n" + block + "\n"
    else:
        text = text.rstrip("\n") + f"\n\n{section}\n\n{block}\n"
    DOCS.write_text(text)
    print(f"wrote the {name} figures to {DOCS}")
