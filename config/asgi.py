import os

from django.core.asgi import get_asgi_application

from mindpost.core import bootstrap

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
bootstrap.ensure_dev_secrets()  # development only, before settings read them
django_application = get_asgi_application()

# Imported after Django is set up: both read settings.
from mindpost.core.overload import ConcurrencyLimit  # noqa: E402
from mindpost.notes.asgi import BodySizeLimit  # noqa: E402

# Oversized uploads are refused before Django reads (and spools) the whole body; a declared
# oversize costs nothing, so it is answered even before a slot is taken.
# Then at most WEB_MAX_CONCURRENT_REQUESTS requests per process reach Django; the rest wait
# briefly or get 503 `overloaded` (mindpost/core/overload.py).
application = BodySizeLimit(ConcurrencyLimit.from_settings(django_application))
