import os

from django.core.wsgi import get_wsgi_application

from mindpost.core import bootstrap

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
bootstrap.ensure_dev_secrets()  # development only, before settings read them
application = get_wsgi_application()
