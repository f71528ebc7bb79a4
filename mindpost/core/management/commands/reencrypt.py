"""Re-encrypt every encrypted field under the newest key of FIELD_ENCRYPTION_KEYS.

Rotation: put a new key first in FIELD_ENCRYPTION_KEYS, deploy, run this, then
remove the old key. Rows already under the newest key are skipped, so it can resume.
"""

from __future__ import annotations

from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from django.apps import apps
from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import connection, transaction

from mindpost.core import crypto
from mindpost.core.fields import EncryptedTextField

BATCH = 500


class Command(BaseCommand):
    help = "Re-encrypt all encrypted fields under the newest FIELD_ENCRYPTION_KEYS key."

    def handle(self, *args: Any, **options: Any) -> None:
        newest = Fernet(settings.FIELD_ENCRYPTION_KEYS[0].strip().encode())
        total = 0
        for model in apps.get_models():
            for field in model._meta.concrete_fields:
                if isinstance(field, EncryptedTextField) and model._meta.pk is not None:
                    count = self._rotate(model._meta.db_table, str(model._meta.pk.column), str(field.column), newest)
                    total += count
                    self.stdout.write(f"{model._meta.label}.{field.name}: {count} re-encrypted")
        self.stdout.write(self.style.SUCCESS(f"Done: {total} values re-encrypted."))

    def _rotate(self, table: str, pk: str, column: str, newest: Fernet) -> int:
        qn = connection.ops.quote_name
        count = 0
        last: Any = None
        while True:
            with transaction.atomic(), connection.cursor() as cursor:
                where = f"WHERE {qn(column)} IS NOT NULL" + (f" AND {qn(pk)} > %s" if last is not None else "")
                cursor.execute(
                    f"SELECT {qn(pk)}, {qn(column)} FROM {qn(table)} {where} ORDER BY {qn(pk)} LIMIT {BATCH} "
                    "FOR UPDATE",
                    [last] if last is not None else [],
                )
                rows = cursor.fetchall()
                if not rows:
                    return count
                for row_pk, token in rows:
                    last = row_pk
                    try:
                        newest.decrypt(token.encode())
                        continue  # already under the newest key
                    except InvalidToken:
                        pass
                    cursor.execute(
                        f"UPDATE {qn(table)} SET {qn(column)} = %s WHERE {qn(pk)} = %s",
                        [crypto.rotate(token), row_pk],
                    )
                    count += 1
