"""Chunked authenticated encryption of stored files (audio, images); see docs/decisions/0004.

Layout of an encrypted file:

    magic (8) | version (1) | chunk size (4, BE) | nonce prefix (8) | key length (2, BE) | wrapped key
    chunk 0 | chunk 1 | ... | chunk n-1

The wrapped key is a Fernet token (MultiFernet over FIELD_ENCRYPTION_KEYS) of a random
256-bit data key for this file only. Rotation rewraps that token and leaves the body alone.
Each chunk is `chunk size` bytes of plaintext (the last one fewer, possibly none) sealed
with AES-256-GCM: nonce = prefix || chunk index (4, BE); the AAD is the fixed header plus
the chunk index and a final-chunk flag, so truncation, reordering and splicing fail the tag.
Every file has at least one chunk, so even an empty file has a final chunk to check.

The plaintext size follows from the ciphertext size alone, so a reader can seek to any
offset and decrypt only the chunks a byte range touches.
"""

from __future__ import annotations

import io
import os
import secrets
import struct
from typing import IO

from cryptography.exceptions import InvalidTag
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from mindpost.core import crypto

# PNG-style: a non-ASCII first byte and CR LF / ^Z / LF catch text-mode mangling.
MAGIC = b"\x89MPE\r\n\x1a\n"
VERSION = 1
CHUNK_SIZE = 64 * 1024
TAG_SIZE = 16
_FIXED = struct.Struct(">8sBI8sH")  # magic, version, chunk size, nonce prefix, wrapped key length
_MAX_CHUNK = 16 * 1024 * 1024


class FileDecryptionError(crypto.DecryptionError):
    """An encrypted file is corrupt, truncated, tampered with, or its key is not configured."""


def is_encrypted(prefix: bytes) -> bool:
    """Whether the first bytes of a stored file carry the encrypted-file magic."""
    return prefix[: len(MAGIC)] == MAGIC


class Header:
    """The parsed header of an encrypted file."""

    def __init__(self, *, chunk_size: int, nonce_prefix: bytes, wrapped_key: bytes) -> None:
        self.chunk_size = chunk_size
        self.nonce_prefix = nonce_prefix
        self.wrapped_key = wrapped_key

    @property
    def fixed(self) -> bytes:
        """The authenticated part (everything but the wrapped key, which rotation may change)."""
        return _FIXED.pack(MAGIC, VERSION, self.chunk_size, self.nonce_prefix, len(self.wrapped_key))

    def to_bytes(self) -> bytes:
        return self.fixed + self.wrapped_key

    def __len__(self) -> int:
        return _FIXED.size + len(self.wrapped_key)

    def data_key(self) -> bytes:
        try:
            key = crypto.fernet().decrypt(self.wrapped_key)
        except InvalidToken as exc:
            raise FileDecryptionError(
                "An encrypted file's key cannot be unwrapped with FIELD_ENCRYPTION_KEYS "
                "(was a key removed before `manage.py reencrypt --files` ran?)."
            ) from exc
        if len(key) != 32:
            raise FileDecryptionError("An encrypted file's data key has the wrong length.")
        return key

    def is_wrapped_with_newest_key(self, newest: Fernet) -> bool:
        try:
            newest.decrypt(self.wrapped_key)
        except InvalidToken:
            return False
        return True

    def rewrapped(self) -> Header:
        """The same header with the data key wrapped under the newest key."""
        try:
            token = crypto.fernet().rotate(self.wrapped_key)
        except InvalidToken as exc:
            raise FileDecryptionError("An encrypted file's key cannot be unwrapped for rotation.") from exc
        return Header(chunk_size=self.chunk_size, nonce_prefix=self.nonce_prefix, wrapped_key=token)


def read_header(raw: IO[bytes]) -> Header:
    """Parse the header at the current position (the start of the file)."""
    fixed = _read_exactly(raw, _FIXED.size)
    if len(fixed) < _FIXED.size or not is_encrypted(fixed):
        raise FileDecryptionError("Not an encrypted file (no header).")
    _magic, version, chunk_size, nonce_prefix, key_length = _FIXED.unpack(fixed)
    if version != VERSION:
        raise FileDecryptionError(f"Unsupported encrypted file version {version}.")
    if not 0 < chunk_size <= _MAX_CHUNK:
        raise FileDecryptionError("Corrupt encrypted file header (chunk size).")
    wrapped_key = _read_exactly(raw, key_length)
    if len(wrapped_key) != key_length:
        raise FileDecryptionError("Truncated encrypted file header.")
    return Header(chunk_size=chunk_size, nonce_prefix=nonce_prefix, wrapped_key=wrapped_key)


def new_header(*, chunk_size: int = CHUNK_SIZE) -> tuple[Header, bytes]:
    """A fresh header and its (unwrapped) random data key."""
    key = AESGCM.generate_key(bit_length=256)
    wrapped = crypto.fernet().encrypt(key)
    return Header(chunk_size=chunk_size, nonce_prefix=secrets.token_bytes(8), wrapped_key=wrapped), key


def _nonce(header: Header, index: int) -> bytes:
    if index >= 2**32:
        raise FileDecryptionError("Encrypted file has too many chunks.")
    return header.nonce_prefix + struct.pack(">I", index)


def _aad(header: Header, index: int, final: bool) -> bytes:
    return header.fixed + struct.pack(">QB", index, 1 if final else 0)


def encrypt_stream(source: IO[bytes], target: IO[bytes], *, chunk_size: int = CHUNK_SIZE) -> int:
    """Encrypt `source` (read to its end) into `target`; returns the plaintext size."""
    header, key = new_header(chunk_size=chunk_size)
    aead = AESGCM(key)
    target.write(header.to_bytes())
    index = 0
    total = 0
    current = _read_exactly(source, chunk_size)
    while True:
        # Read one chunk ahead: the final flag must be known when sealing.
        upcoming = _read_exactly(source, chunk_size) if len(current) == chunk_size else b""
        final = not upcoming
        target.write(aead.encrypt(_nonce(header, index), current, _aad(header, index, final)))
        total += len(current)
        if final:
            return total
        current = upcoming
        index += 1


def encrypt_bytes(data: bytes, *, chunk_size: int = CHUNK_SIZE) -> bytes:
    out = io.BytesIO()
    encrypt_stream(io.BytesIO(data), out, chunk_size=chunk_size)
    return out.getvalue()


def plaintext_size(*, ciphertext_size: int, header: Header) -> int:
    """The plaintext size of an encrypted file of `ciphertext_size` bytes (header included)."""
    body = ciphertext_size - len(header)
    sealed = header.chunk_size + TAG_SIZE
    chunks = max(1, -(-body // sealed))
    last = body - (chunks - 1) * sealed
    if body < TAG_SIZE or not TAG_SIZE <= last <= sealed:
        raise FileDecryptionError("Encrypted file is truncated or corrupt (bad length).")
    return body - chunks * TAG_SIZE


class DecryptingReader(io.RawIOBase):
    """A read-only, seekable view of the plaintext of an encrypted file.

    Reads decrypt (and authenticate) only the chunks they touch; the last decrypted chunk
    is kept, so sequential small reads decrypt each chunk once. `read(n)` returns n bytes
    unless the end is reached. Closing it closes the underlying file.
    """

    def __init__(self, raw: IO[bytes]) -> None:
        super().__init__()
        self._raw = raw
        raw.seek(0)
        self.header = read_header(raw)
        self._aead = AESGCM(self.header.data_key())
        ciphertext_size = raw.seek(0, os.SEEK_END)
        self.size = plaintext_size(ciphertext_size=ciphertext_size, header=self.header)
        self._chunks = max(1, -(-self.size // self.header.chunk_size))
        self._position = 0
        self._cached: tuple[int, bytes] | None = None
        self.name = getattr(raw, "name", None)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        if whence == os.SEEK_SET:
            position = offset
        elif whence == os.SEEK_CUR:
            position = self._position + offset
        elif whence == os.SEEK_END:
            position = self.size + offset
        else:
            raise ValueError(f"invalid whence ({whence})")
        if position < 0:
            raise ValueError("negative seek position")
        self._position = position
        return position

    def _chunk(self, index: int) -> bytes:
        if self._cached and self._cached[0] == index:
            return self._cached[1]
        size = self.header.chunk_size
        sealed = size + TAG_SIZE
        final = index == self._chunks - 1
        length = (self.size - index * size if final else size) + TAG_SIZE
        self._raw.seek(len(self.header) + index * sealed)
        ciphertext = _read_exactly(self._raw, length)
        try:
            plaintext = self._aead.decrypt(_nonce(self.header, index), ciphertext, _aad(self.header, index, final))
        except InvalidTag as exc:
            raise FileDecryptionError(f"Encrypted file chunk {index} failed authentication.") from exc
        self._cached = (index, plaintext)
        return plaintext

    def read(self, size: int | None = -1) -> bytes:
        if self.closed:
            raise ValueError("I/O operation on closed file.")
        end = self.size if size is None or size < 0 else min(self.size, self._position + size)
        parts: list[bytes] = []
        chunk_size = self.header.chunk_size
        while self._position < end:
            index, offset = divmod(self._position, chunk_size)
            data = self._chunk(index)[offset : offset + (end - self._position)]
            parts.append(data)
            self._position += len(data)
        return b"".join(parts)

    def readall(self) -> bytes:
        return self.read(-1)

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            try:
                self._raw.close()
            finally:
                super().close()


def open_plaintext(raw: IO[bytes]) -> DecryptingReader | IO[bytes]:
    """A plaintext view of a stored file: decrypting if it has the header, the file itself
    (rewound) if it is a legacy plaintext file written before encryption was on."""
    raw.seek(0)
    prefix = _read_exactly(raw, len(MAGIC))
    raw.seek(0)
    if is_encrypted(prefix):
        return DecryptingReader(raw)
    return raw


def _read_exactly(handle: IO[bytes], size: int) -> bytes:
    """Read `size` bytes unless the end comes first (raw streams may return short reads)."""
    parts: list[bytes] = []
    remaining = size
    while remaining > 0:
        data = handle.read(remaining)
        if not data:
            break
        parts.append(data)
        remaining -= len(data)
    return b"".join(parts)
