"""Image checks by content (not by name or declared type) before anything is stored."""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from typing import IO

from django.conf import settings
from PIL import Image, UnidentifiedImageError

from mindpost.core.errors import Invalid

# Pillow format name → MIME type; anything else is refused.
ALLOWED_FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg", "GIF": "image/gif", "WEBP": "image/webp"}
# Refuse decompression bombs early: no real post image comes close to this.
MAX_PIXELS = 40_000_000


@dataclass(frozen=True)
class CheckedImage:
    content: bytes
    image_format: str
    content_type: str
    width: int
    height: int
    name: str


def check_image(*, upload: IO[bytes], name: str = "image") -> CheckedImage:
    """Read an upload and prove it is a PNG/JPEG/GIF/WEBP within the size limit."""
    limit = int(settings.X_MAX_IMAGE_BYTES)
    content = upload.read(limit + 1)
    if len(content) > limit:
        raise Invalid(
            f"{name}: images can be at most {limit // (1024 * 1024)} MB.",
            code="image_too_large",
            fields={"uploads": [f"{name} is larger than {limit} bytes."]},
        )
    if not content:
        raise Invalid(f"{name} is empty.", code="invalid_image", fields={"uploads": [f"{name} is empty."]})
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(content)) as probe:
                image_format = str(probe.format or "")
                width, height = probe.size
                if width * height > MAX_PIXELS:
                    raise Image.DecompressionBombError("too many pixels")
                probe.verify()  # checks the structure without decoding every pixel
            # verify() leaves the image unusable; decode once to catch truncated data.
            with Image.open(io.BytesIO(content)) as decoded:
                decoded.load()
    except (
        UnidentifiedImageError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
        OSError,
        ValueError,
        SyntaxError,
    ) as exc:
        raise Invalid(
            f"{name} is not a readable image.",
            code="invalid_image",
            fields={"uploads": [f"{name} is not a PNG, JPEG, GIF or WEBP image."]},
        ) from exc
    if image_format not in ALLOWED_FORMATS:
        raise Invalid(
            f"{name}: {image_format or 'this'} images are not supported.",
            code="unsupported_image_type",
            fields={"uploads": ["Use PNG, JPEG, GIF or WEBP."]},
        )
    return CheckedImage(
        content=content,
        image_format=image_format,
        content_type=ALLOWED_FORMATS[image_format],
        width=width,
        height=height,
        name=name,
    )
