"""Re-encrypt every encrypted field under the newest key of FIELD_ENCRYPTION_KEYS.

Rotation: put a new key first in FIELD_ENCRYPTION_KEYS, deploy, run this, then
remove the old key. Rows already under the newest key are skipped, so it can resume.

`--files` also goes through the stored files (mindpost.core.encrypted_storage): it rewraps
each encrypted file's data key under the newest key (the header only, not the body) and
encrypts legacy plaintext files written before file encryption was on. `--files-only`
skips the fields.
"""

from __future__ import annotations

from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from django.apps import apps
from django.conf import settings
from django.core.files.storage import default_storage
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, transaction

from mindpost.core import crypto
from mindpost.core.encrypted_storage import EncryptedStorage
from mindpost.core.fields import EncryptedTextField

BATCH = 500


class Command(BaseCommand):
    help = "Re-encrypt encrypted fields (and with --files, stored files) under the newest FIELD_ENCRYPTION_KEYS key."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--files", action="store_true", help="Also rewrap and encrypt stored files.")
        parser.add_argument("--files-only", action="store_true", help="Only the stored files, not the fields.")

    def handle(self, *args: Any, **options: Any) -> None:
        newest = Fernet(settings.FIELD_ENCRYPTION_KEYS[0].strip().encode())
        if not options["files_only"]:
            self._fields(newest)
        if options["files"] or options["files_only"]:
            self._files(newest)

    def _files(self, newest: Fernet) -> None:
        # default_storage is a LazyObject; isinstance sees through it.
        if not isinstance(default_storage, EncryptedStorage):
            raise CommandError("The default storage is not mindpost.core.encrypted_storage.EncryptedStorage.")
        storage = default_storage
        counts = {"rewrapped": 0, "encrypted": 0, "current": 0, "plaintext": 0, "failed": 0}
        # Every user file lives under users/<id>/ (mindpost.core.userdata.user_prefix).
        for name in storage.walk("users"):
            try:
                state = storage.state(name, newest=newest)
                if state == "stale":
                    storage.rewrap(name)
                    counts["rewrapped"] += 1
                elif state == "plaintext" and storage.encrypts:
                    storage.encrypt_existing(name)
                    counts["encrypted"] += 1
                else:
                    counts[state] += 1
            except (crypto.DecryptionError, OSError) as exc:
                counts["failed"] += 1
                self.stderr.write(f"{name}: {exc}")
        self.stdout.write(
            f"Files: {counts['rewrapped']} rewrapped, {counts['encrypted']} encrypted, "
            f"{counts['current']} already current, {counts['plaintext']} left in plaintext, {counts['failed']} failed."
        )
        if counts["failed"]:
            raise CommandError(f"{counts['failed']} files could not be processed; see above.")

    def _fields(self, newest: Fernet) -> None:
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
