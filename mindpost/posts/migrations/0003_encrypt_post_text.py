"""Encrypt post text at rest: Post.content and Post.parts become Fernet tokens.

The columns are converted in place (parts: jsonb -> text holding the JSON), then every
existing row is encrypted with the newest FIELD_ENCRYPTION_KEYS key. Reversible: going
back decrypts the rows first. Raw SQL, so the field classes never see half-converted rows.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from django.db import migrations

import mindpost.core.fields
from mindpost.core import crypto

BATCH = 500


def _convert(schema_editor: Any, change: Callable[[str, str], tuple[str, str]]) -> None:
    qn = schema_editor.connection.ops.quote_name
    table = qn("posts_post")
    last = None
    with schema_editor.connection.cursor() as cursor:
        while True:
            cursor.execute(
                f"SELECT id, content, parts FROM {table} "  # noqa: S608 - quoted identifiers only
                + ("WHERE id > %s " if last is not None else "")
                + f"ORDER BY id LIMIT {BATCH}",
                [last] if last is not None else [],
            )
            rows = cursor.fetchall()
            if not rows:
                return
            for pk, content, parts in rows:
                last = pk
                new_content, new_parts = change(content or "", parts or "[]")
                cursor.execute(
                    f"UPDATE {table} SET content = %s, parts = %s WHERE id = %s",  # noqa: S608
                    [new_content, new_parts, pk],
                )


def encrypt_rows(apps: Any, schema_editor: Any) -> None:
    def encrypt(content: str, parts: str) -> tuple[str, str]:
        return crypto.encrypt(content), crypto.encrypt(json.dumps(json.loads(parts), ensure_ascii=False))

    _convert(schema_editor, encrypt)


def decrypt_rows(apps: Any, schema_editor: Any) -> None:
    def decrypt(content: str, parts: str) -> tuple[str, str]:
        return crypto.decrypt(content), crypto.decrypt(parts)

    _convert(schema_editor, decrypt)


class Migration(migrations.Migration):
    dependencies = [
        ("posts", "0002_oauthstate_confirmation"),
    ]

    operations = [
        migrations.AlterField(
            model_name="post",
            name="content",
            field=mindpost.core.fields.EncryptedTextField(),
        ),
        migrations.AlterField(
            model_name="post",
            name="parts",
            field=mindpost.core.fields.EncryptedJSONField(blank=True, default=list),
        ),
        migrations.RunPython(encrypt_rows, decrypt_rows),
    ]
