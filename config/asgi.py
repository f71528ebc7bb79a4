import os

from django.core.asgi import get_asgi_application

from mindpost.notes.asgi import BodySizeLimit

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
# Oversized uploads are refused before Django reads (and spools) the whole body.
application = BodySizeLimit(get_asgi_application())
