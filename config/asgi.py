import os

from django.core.asgi import get_asgi_application

from mindpost.core import bootstrap

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
bootstrap.ensure_dev_secrets()  # development only, before settings read them
django_application = get_asgi_application()

# Imported after Django is set up: both read settings.
from django.conf import settings  # noqa: E402

from mindpost.core.overload import ConcurrencyLimit  # noqa: E402
from mindpost.notes.asgi import BodySizeLimit  # noqa: E402

if settings.EMBED_BACKEND == "local":
    # Search embeds each new question here, in the web process: the engines are made and touched
    # now (~0.2 s), not by the first searches (mindpost.ai.embed.warm says what that cost).
    from mindpost.ai import embed

    embed.warm()

# Oversized uploads are refused before Django reads (and spools) the whole body; a declared
# oversize costs nothing, so it is answered even before a slot is taken.
# Then at most WEB_MAX_CONCURRENT_REQUESTS requests per process reach Django; the rest wait
# briefly or get 503 `overloaded` (mindpost/core/overload.py).
application = BodySizeLimit(ConcurrencyLimit.from_settings(django_application))
