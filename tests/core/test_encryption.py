from __future__ import annotations

from collections.abc import Iterator

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection, models
from django.test.utils import isolate_apps

from mindpost.core import crypto
from mindpost.core.fields import EncryptedTextField
from mindpost.core.management.commands.reencrypt import Command as ReencryptCommand

pytestmark = pytest.mark.django_db


@pytest.fixture
def secret_model() -> Iterator[type[models.Model]]:
    with isolate_apps("tests"):

        class Secret(models.Model):  # noqa: DJ008
            text = EncryptedTextField(null=True)

            class Meta:
                app_label = "tests"
                db_table = "test_secret"

        with connection.schema_editor() as editor:
            editor.create_model(Secret)
        yield Secret
        with connection.schema_editor() as editor:
            editor.delete_model(Secret)


def raw(pk: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT text FROM test_secret WHERE id = %s", [pk])
        return str(cursor.fetchone()[0])


def test_round_trip_and_ciphertext_at_rest(secret_model) -> None:
    row = secret_model.objects.create(text="I met Nikos in Athens")
    stored = raw(row.pk)
    assert "Nikos" not in stored
    assert stored.startswith("gAAAA")  # a Fernet token
    assert secret_model.objects.get(pk=row.pk).text == "I met Nikos in Athens"
    assert secret_model.objects.create(text=None).text is None
    empty = secret_model.objects.create(text="")
    assert raw(empty.pk) != ""  # even the empty string is encrypted
    assert secret_model.objects.get(pk=empty.pk).text == ""


def test_unknown_key_fails_loudly(secret_model, settings) -> None:
    row = secret_model.objects.create(text="private")
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    with pytest.raises(crypto.DecryptionError):
        secret_model.objects.get(pk=row.pk)


def test_plaintext_in_column_is_not_returned(secret_model) -> None:
    row = secret_model.objects.create(text="x")
    with connection.cursor() as cursor:
        cursor.execute("UPDATE test_secret SET text = 'legacy plaintext' WHERE id = %s", [row.pk])
    with pytest.raises(crypto.DecryptionError):
        secret_model.objects.get(pk=row.pk)


def test_rotation_reencrypts_under_newest_key(secret_model, settings) -> None:
    old_key = settings.FIELD_ENCRYPTION_KEYS[0]
    rows = [secret_model.objects.create(text=f"note {i}") for i in range(3)]
    new_key = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [new_key, old_key]
    # Both keys read old values during the transition.
    assert secret_model.objects.get(pk=rows[0].pk).text == "note 0"

    command = ReencryptCommand()
    assert command._rotate("test_secret", "id", "text", Fernet(new_key.encode())) == 3
    # Running again is a no-op: rows already under the newest key are skipped.
    assert command._rotate("test_secret", "id", "text", Fernet(new_key.encode())) == 0

    settings.FIELD_ENCRYPTION_KEYS = [new_key]  # the old key can now be dropped
    assert [secret_model.objects.get(pk=r.pk).text for r in rows] == ["note 0", "note 1", "note 2"]


def test_reencrypt_command_runs(capsys) -> None:
    call_command("reencrypt")
    assert "Done:" in capsys.readouterr().out


def test_decrypted_short_values_are_cached_per_key_list_and_long_ones_are_not(settings) -> None:
    short, long = crypto.encrypt("Dentist on Friday"), crypto.encrypt("word " * 2000)
    crypto._decrypt_cached.cache_clear()
    assert crypto.decrypt(short) == crypto.decrypt(short) == "Dentist on Friday"
    assert crypto._decrypt_cached.cache_info().hits == 1
    assert crypto.decrypt(long) == "word " * 2000
    assert crypto._decrypt_cached.cache_info().currsize == 1  # the long one is not kept

    # A removed key is never answered from the cache.
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(short)


def test_uncached_blocks_decrypt_without_filling_the_cache() -> None:
    token = crypto.encrypt("Bulk read")
    crypto._decrypt_cached.cache_clear()
    with crypto.uncached():
        assert crypto.decrypt(token) == "Bulk read"
    assert crypto._decrypt_cached.cache_info().currsize == 0
    assert crypto.decrypt(token) == "Bulk read"
    assert crypto._decrypt_cached.cache_info().currsize == 1
