"""WSGI entry point: `gunicorn config.wsgi` (config/gunicorn.conf.py) and runserver.

Django's application behind Kabar's page-cache shortcut, which answers cached public pages
before Django's request handling (blog/caching.py, `PageCacheApp`).
"""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

application = get_wsgi_application()

from blog.caching import PageCacheApp  # noqa: E402  (after Django is set up)

application = PageCacheApp(application)
