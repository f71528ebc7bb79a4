"""Chunked AEAD file encryption (mindpost.core.filecrypt) and the encrypting storage wrapper."""

from __future__ import annotations

import io
import random
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command

from mindpost.core import filecrypt

C = filecrypt.CHUNK_SIZE
SEALED = C + filecrypt.TAG_SIZE


def encrypted_backend(location: Path, *, encrypt: bool = True) -> dict[str, Any]:
    inner = {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(location)}}
    return {
        "BACKEND": "mindpost.core.encrypted_storage.EncryptedStorage",
        "OPTIONS": {"inner": inner, "encrypt": encrypt},
    }


def data(size: int, seed: int = 7) -> bytes:
    return random.Random(seed).randbytes(size)


def reader(blob: bytes) -> filecrypt.DecryptingReader:
    return filecrypt.DecryptingReader(io.BytesIO(blob))


@pytest.fixture
def keys(settings: Any) -> list[str]:
    fresh = [Fernet.generate_key().decode()]
    settings.FIELD_ENCRYPTION_KEYS = fresh
    return fresh


@pytest.fixture
def store(settings: Any, tmp_path: Path) -> Path:
    media = tmp_path / "media"
    media.mkdir()
    settings.STORAGES = {**settings.STORAGES, "default": encrypted_backend(media)}
    return media


@pytest.mark.parametrize("size", [0, 1, C - 1, C, C + 1, 2 * C, 3 * C + 5])
def test_round_trip_around_chunk_boundaries(keys: list[str], size: int) -> None:
    plain = data(size)
    blob = filecrypt.encrypt_bytes(plain)
    handle = reader(blob)
    assert handle.size == size
    assert handle.read() == plain
    assert handle.read(10) == b""
    # The plaintext size follows from the ciphertext size: one tag per chunk, at least one chunk.
    chunks = max(1, -(-size // C))
    assert len(blob) == len(handle.header) + size + chunks * filecrypt.TAG_SIZE


@pytest.mark.parametrize("chunk_size", [1, 7, 16])
def test_round_trip_with_tiny_chunks(keys: list[str], chunk_size: int) -> None:
    for size in (0, 1, chunk_size - 1, chunk_size, chunk_size + 1, 5 * chunk_size + 3):
        plain = data(size)
        assert reader(filecrypt.encrypt_bytes(plain, chunk_size=chunk_size)).read() == plain


def test_random_seeks_and_ranges_equal_the_plaintext_slice(keys: list[str]) -> None:
    plain = data(5 * C + 1234)
    handle = reader(filecrypt.encrypt_bytes(plain))
    rng = random.Random(1)
    for _ in range(200):
        start = rng.randrange(0, len(plain) + 10)
        length = rng.randrange(0, 3 * C)
        handle.seek(start)
        assert handle.tell() == start
        assert handle.read(length) == plain[start : start + length]
    assert handle.seek(-100, 2) == len(plain) - 100
    assert handle.read() == plain[-100:]
    handle.seek(10)
    assert handle.seek(5, 1) == 15
    with pytest.raises(ValueError, match="negative"):
        handle.seek(-1)


def test_a_range_read_decrypts_only_the_chunks_it_needs(keys: list[str]) -> None:
    plain = data(10 * C)
    blob = bytearray(filecrypt.encrypt_bytes(plain))
    header = len(reader(bytes(blob)).header)
    # Corrupt chunk 0: a range inside chunk 5 still reads, because chunk 0 is never touched.
    blob[header + 5] ^= 1
    handle = reader(bytes(blob))
    handle.seek(5 * C + 100)
    assert handle.read(100) == plain[5 * C + 100 : 5 * C + 200]
    handle.seek(0)
    with pytest.raises(filecrypt.FileDecryptionError):
        handle.read(1)


def test_ciphertext_does_not_contain_the_plaintext(keys: list[str]) -> None:
    plain = b"my secret diary entry about Nafplio " * 5000
    blob = filecrypt.encrypt_bytes(plain)
    assert b"Nafplio" not in blob
    assert plain[:64] not in blob
    assert blob.startswith(filecrypt.MAGIC)


def _tampered(blob: bytes, position: int) -> bytes:
    changed = bytearray(blob)
    changed[position] ^= 0x01
    return bytes(changed)


def test_tampering_truncating_or_reordering_is_detected(keys: list[str]) -> None:
    plain = data(3 * C + 500)
    blob = filecrypt.encrypt_bytes(plain)
    header = len(reader(blob).header)

    def fails(candidate: bytes) -> None:
        with pytest.raises(filecrypt.FileDecryptionError):
            reader(candidate).read()

    fails(_tampered(blob, header + C + 3))  # a byte of chunk 1
    fails(_tampered(blob, len(blob) - 1))  # the last tag
    fails(_tampered(blob, 12))  # the nonce prefix in the header (authenticated as AAD)
    fails(blob[: header + 3 * SEALED])  # the whole last chunk cut off: chunk 2 isn't final
    fails(blob[:-1])  # one byte short
    fails(blob[: header + 5])  # not even a tag left
    fails(blob[:header])  # no chunks at all
    # Two whole chunks swapped.
    body = blob[header:]
    chunks = [body[i : i + SEALED] for i in range(0, len(body), SEALED)]
    fails(blob[:header] + chunks[1] + chunks[0] + b"".join(chunks[2:]))
    # The last chunk dropped and the one before moved into its place.
    fails(blob[:header] + chunks[0] + chunks[1] + chunks[3])
    # Chunks from another file (another data key) don't fit.
    other = filecrypt.encrypt_bytes(plain)
    fails(blob[:header] + other[header : header + SEALED] + blob[header + SEALED :])


def test_empty_file_truncated_to_its_header_is_detected(keys: list[str]) -> None:
    blob = filecrypt.encrypt_bytes(b"")
    header = len(reader(blob).header)
    assert reader(blob).read() == b""
    with pytest.raises(filecrypt.FileDecryptionError):
        reader(blob[:header])


def test_unknown_key_is_an_error_not_garbage(keys: list[str], settings: Any) -> None:
    blob = filecrypt.encrypt_bytes(b"hello")
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    with pytest.raises(filecrypt.FileDecryptionError):
        reader(blob)


def test_rotation_rewraps_the_header_only(keys: list[str], settings: Any) -> None:
    k1 = keys[0]
    k2 = Fernet.generate_key().decode()
    plain = data(2 * C + 9)
    blob = filecrypt.encrypt_bytes(plain)

    settings.FIELD_ENCRYPTION_KEYS = [k2, k1]
    handle = reader(blob)
    assert handle.read() == plain
    assert not handle.header.is_wrapped_with_newest_key(Fernet(k2.encode()))
    fresh = handle.header.rewrapped()
    assert fresh.is_wrapped_with_newest_key(Fernet(k2.encode()))
    assert len(fresh) == len(handle.header)
    rotated = fresh.to_bytes() + blob[len(handle.header) :]

    settings.FIELD_ENCRYPTION_KEYS = [k2]
    assert reader(rotated).read() == plain
    with pytest.raises(filecrypt.FileDecryptionError):
        reader(blob)


# --- the storage wrapper ----------------------------------------------------------------


def test_storage_encrypts_on_save_and_decrypts_on_open(keys: list[str], store: Path) -> None:
    plain = b"RIFF....WAVEfmt pretend audio " * 4000
    name = default_storage.save("users/u1/notes/a.wav", ContentFile(plain))
    raw = (store / name).read_bytes()
    assert raw.startswith(filecrypt.MAGIC)
    assert b"pretend audio" not in raw
    assert default_storage.size(name) == len(plain)
    with default_storage.open(name) as handle:
        assert handle.size == len(plain)
        handle.seek(70_000)
        assert handle.read(100) == plain[70_000:70_100]
        handle.seek(0)
        assert handle.read() == plain
    assert default_storage.exists(name)
    default_storage.delete(name)
    assert not default_storage.exists(name)


def test_legacy_plaintext_files_still_open(keys: list[str], store: Path) -> None:
    (store / "users" / "u1").mkdir(parents=True)
    legacy = b"\x89PNG\r\n\x1a\nold image"  # PNG-style magic, but not ours
    (store / "users" / "u1" / "old.png").write_bytes(legacy)
    assert default_storage.size("users/u1/old.png") == len(legacy)
    with default_storage.open("users/u1/old.png") as handle:
        assert handle.size == len(legacy)
        handle.seek(8)
        assert handle.read() == b"old image"


def test_encryption_off_writes_plaintext_but_reads_both(keys: list[str], store: Path, settings: Any) -> None:
    encrypted = default_storage.save("users/u1/a.bin", ContentFile(b"sealed"))
    settings.STORAGES = {**settings.STORAGES, "default": encrypted_backend(store, encrypt=False)}
    plain = default_storage.save("users/u1/b.bin", ContentFile(b"open"))
    assert (store / plain).read_bytes() == b"open"
    with default_storage.open(encrypted) as handle:
        assert handle.read() == b"sealed"


def test_reencrypt_files_encrypts_legacy_and_rewraps_old_keys(keys: list[str], store: Path, settings: Any) -> None:
    k1 = keys[0]
    old = default_storage.save("users/u1/notes/old-key.webm", ContentFile(data(C + 10)))
    legacy_path = store / "users" / "u2" / "posts" / "p" / "legacy.png"
    legacy_path.parent.mkdir(parents=True)
    legacy_path.write_bytes(b"legacy plaintext image")
    body_before = (store / old).read_bytes()

    k2 = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [k2, k1]
    out = io.StringIO()
    call_command("reencrypt", "--files-only", stdout=out)
    assert "1 rewrapped, 1 encrypted, 0 already current" in out.getvalue()

    # Only the header changed: the body was not re-encrypted.
    body_after = (store / old).read_bytes()
    header = len(reader(body_before).header)
    assert body_after[header:] == body_before[header:]
    assert body_after[:header] != body_before[:header]
    assert legacy_path.read_bytes().startswith(filecrypt.MAGIC)

    settings.FIELD_ENCRYPTION_KEYS = [k2]  # the old key is gone
    with default_storage.open(old) as handle:
        assert handle.read() == data(C + 10)
    with default_storage.open("users/u2/posts/p/legacy.png") as handle:
        assert handle.read() == b"legacy plaintext image"

    again = io.StringIO()
    call_command("reencrypt", "--files-only", stdout=again)
    assert "0 rewrapped, 0 encrypted, 2 already current" in again.getvalue()


def test_reencrypt_files_reports_unreadable_files(keys: list[str], store: Path, settings: Any) -> None:
    default_storage.save("users/u1/a.bin", ContentFile(b"x"))
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    with pytest.raises(CommandError):
        call_command("reencrypt", "--files-only", stdout=io.StringIO(), stderr=io.StringIO())


def test_reencrypt_files_needs_the_encrypting_storage(keys: list[str], settings: Any, tmp_path: Path) -> None:
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(tmp_path)}},
    }
    with pytest.raises(CommandError):
        call_command("reencrypt", "--files-only", stdout=io.StringIO())


def test_default_settings_wrap_the_backend() -> None:
    from django.conf import settings

    default: Any = settings.STORAGES["default"]
    assert default["BACKEND"] == "mindpost.core.encrypted_storage.EncryptedStorage"
    assert default["OPTIONS"]["encrypt"] is settings.FILE_ENCRYPTION is True
