"""Chat reads notes through notes' selectors only (docs/architecture.md: one hop per app)."""

from __future__ import annotations

import ast
from pathlib import Path

CHAT = Path(__file__).resolve().parents[2] / "mindpost" / "chat"
ALLOWED = "mindpost.notes.selectors"


def notes_imports(source: str) -> list[str]:
    """Every notes module a source file imports, by its full name."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            # `from mindpost.notes import selectors` imports the module named by the alias.
            package = node.module == "mindpost.notes"
            names = [f"{node.module}.{alias.name}" if package else node.module for alias in node.names]
        else:
            continue
        found.extend(name for name in names if name == "mindpost.notes" or name.startswith("mindpost.notes."))
    return found


def test_chat_imports_nothing_from_notes_but_its_selectors() -> None:
    files = sorted(CHAT.rglob("*.py"))
    assert files
    offending = {
        str(path.relative_to(CHAT)): names
        for path in files
        if (names := [name for name in notes_imports(path.read_text()) if name != ALLOWED])
    }
    assert offending == {}


def test_the_check_sees_every_form_of_import() -> None:
    source = (
        "from mindpost.notes.models import Note\n"
        "import mindpost.notes.search\n"
        "from mindpost.notes import selectors, blind_index\n"
        "def f():\n    from mindpost.notes.tags import normalise_tag\n"
    )
    assert sorted(notes_imports(source)) == [
        "mindpost.notes.blind_index",
        "mindpost.notes.models",
        "mindpost.notes.search",
        "mindpost.notes.selectors",
        "mindpost.notes.tags",
    ]
