"""A storage wrapper that encrypts files at rest around any Django storage backend.

Configured in settings as the default storage, wrapping the real backend (filesystem,
GCS or S3), so every user file — note audio, post images, and the account export that
reads them back — goes through it:

    STORAGES["default"] = {
        "BACKEND": "mindpost.core.encrypted_storage.EncryptedStorage",
        "OPTIONS": {"inner": {"BACKEND": "...", "OPTIONS": {...}}, "encrypt": True},
    }

Writes are encrypted with mindpost.core.filecrypt (unless `encrypt` is False: then they
stay plaintext, for operators who rely on bucket-side encryption alone). Reads detect the
header, so files written before encryption was switched on still open as they are.
`size()` is the plaintext size. Direct storage URLs would hand out ciphertext, so encrypted
files are served through our own views (see mindpost.notes.storage.delivery_mode).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from datetime import datetime
from typing import IO, Any, Literal, cast

from cryptography.fernet import Fernet
from django.conf import settings
from django.core.files import File
from django.core.files.storage import FileSystemStorage, Storage
from django.utils.module_loading import import_string

from mindpost.core import filecrypt

# Ciphertext is spooled in memory up to this size before it goes to a temporary file.
_SPOOL_BYTES = 8 * 1024 * 1024

FileState = Literal["plaintext", "current", "stale"]


class EncryptedStorage(Storage):
    def __init__(self, *, inner: dict[str, Any], encrypt: bool = True) -> None:
        self.inner: Storage = import_string(inner["BACKEND"])(**inner.get("OPTIONS", {}))
        self.encrypts = encrypt

    def __getattr__(self, name: str) -> Any:
        # Backend specifics (bucket, credentials, location, ...) stay reachable.
        if name == "inner":
            raise AttributeError(name)
        return getattr(self.inner, name)

    # --- reads and writes ---------------------------------------------------------

    def _open(self, name: str, mode: str = "rb") -> File:
        if any(flag in mode for flag in "wa+"):
            raise ValueError("Encrypted storage files are read-only once saved; save a new file instead.")
        raw = self.inner.open(name, "rb")
        try:
            plain = filecrypt.open_plaintext(raw)
        except BaseException:
            raw.close()
            raise
        return File(cast(IO[bytes], plain), name=name)

    def _save(self, name: str, content: File) -> str:
        if not self.encrypts:
            return str(self.inner._save(name, content))  # type: ignore[attr-defined]
        with self._encrypted(content) as sealed:
            return str(self.inner._save(name, sealed))  # type: ignore[attr-defined]

    @contextlib.contextmanager
    def _encrypted(self, content: IO[bytes]) -> Iterator[File]:
        with tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES) as spool:
            if hasattr(content, "seek"):
                content.seek(0)
            filecrypt.encrypt_stream(content, spool)
            spool.seek(0)
            yield File(spool, name=os.path.basename(str(getattr(content, "name", "") or "file")))

    def size(self, name: str) -> int:
        with self.inner.open(name, "rb") as raw:
            raw.seek(0)
            prefix = raw.read(len(filecrypt.MAGIC))
            if not filecrypt.is_encrypted(prefix):
                return int(self.inner.size(name))
            raw.seek(0)
            header = filecrypt.read_header(raw)
            return filecrypt.plaintext_size(ciphertext_size=int(self.inner.size(name)), header=header)

    def path(self, name: str) -> str:
        # A local path would point at ciphertext: callers must open() the file instead.
        raise NotImplementedError("Encrypted storage has no plaintext file paths; use open().")

    # --- everything else is the backend's ------------------------------------------

    def delete(self, name: str) -> None:
        self.inner.delete(name)

    def exists(self, name: str) -> bool:
        return bool(self.inner.exists(name))

    def listdir(self, path: str) -> tuple[list[str], list[str]]:
        return self.inner.listdir(path)

    def url(self, name: str | None) -> str:
        return str(self.inner.url(name))

    def get_valid_name(self, name: str) -> str:
        return str(self.inner.get_valid_name(name))

    def get_alternative_name(self, file_root: str, file_ext: str) -> str:
        return str(self.inner.get_alternative_name(file_root, file_ext))

    def get_available_name(self, name: str, max_length: int | None = None) -> str:
        return str(self.inner.get_available_name(name, max_length=max_length))

    def generate_filename(self, filename: str | os.PathLike[str]) -> str:
        return str(self.inner.generate_filename(filename))

    def get_accessed_time(self, name: str) -> datetime:
        return self.inner.get_accessed_time(name)

    def get_created_time(self, name: str) -> datetime:
        return self.inner.get_created_time(name)

    def get_modified_time(self, name: str) -> datetime:
        return self.inner.get_modified_time(name)

    # --- maintenance (manage.py reencrypt --files) -----------------------------------

    def walk(self, directory: str) -> Iterator[str]:
        """Every stored file under `directory`."""
        try:
            dirs, files = self.inner.listdir(directory)
        except FileNotFoundError:
            return
        for name in files:
            yield f"{directory}/{name}" if directory else name
        for name in dirs:
            yield from self.walk(f"{directory}/{name}" if directory else name)

    def state(self, name: str, *, newest: Fernet) -> FileState:
        """plaintext (legacy), current (key wrapped under `newest`) or stale (an older key)."""
        with self.inner.open(name, "rb") as raw:
            raw.seek(0)
            if not filecrypt.is_encrypted(raw.read(len(filecrypt.MAGIC))):
                return "plaintext"
            raw.seek(0)
            header = filecrypt.read_header(raw)
        return "current" if header.is_wrapped_with_newest_key(newest) else "stale"

    def encrypt_existing(self, name: str) -> None:
        """Encrypt a legacy plaintext file in place (same name)."""
        with self.inner.open(name, "rb") as raw:
            raw.seek(0)
            if filecrypt.is_encrypted(raw.read(len(filecrypt.MAGIC))):
                return
            raw.seek(0)
            with self._encrypted(raw) as sealed:
                self._replace(name, sealed)

    def rewrap(self, name: str) -> None:
        """Wrap a file's data key under the newest key; the body is not re-encrypted."""
        with self.inner.open(name, "rb") as raw:
            raw.seek(0)
            header = filecrypt.read_header(raw)
            fresh = header.rewrapped()
            if isinstance(self.inner, FileSystemStorage) and len(fresh) == len(header):
                # Same length (Fernet tokens of a 32-byte key always are): patch the header only.
                raw.close()
                with open(self.inner.path(name), "r+b") as target:
                    target.write(fresh.to_bytes())
                    target.flush()
                    os.fsync(target.fileno())
                return
            # Object stores can't patch: copy once with the new header.
            with tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES) as spool:
                spool.write(fresh.to_bytes())
                raw.seek(len(header))
                while block := raw.read(1024 * 1024):
                    spool.write(block)
                spool.seek(0)
                self._replace(name, File(spool, name=os.path.basename(name)))

    def _replace(self, name: str, content: File) -> None:
        """Overwrite `name` with `content`: atomically on a filesystem, as one upload on GCS/S3."""
        if isinstance(self.inner, FileSystemStorage):
            target = self.inner.path(name)
            handle, temporary = tempfile.mkstemp(dir=os.path.dirname(target), prefix=".mindpost-")
            try:
                with os.fdopen(handle, "wb") as out:
                    for block in content.chunks():
                        out.write(block)
                    out.flush()
                    os.fsync(out.fileno())
                if settings.FILE_UPLOAD_PERMISSIONS is not None:
                    os.chmod(temporary, settings.FILE_UPLOAD_PERMISSIONS)
                os.replace(temporary, target)
            except BaseException:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(temporary)
                raise
            return
        # GCS and S3 uploads replace the object under the same name in one step.
        saved = self.inner._save(name, content)  # type: ignore[attr-defined]
        if saved != name:
            raise RuntimeError(f"Storage saved {name!r} as {saved!r}; expected an overwrite.")


def is_encrypting(storage: Any) -> bool:
    """Whether `storage` (the default storage, say) encrypts the files it saves."""
    return isinstance(storage, EncryptedStorage) and storage.encrypts
