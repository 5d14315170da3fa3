"""A health check for load balancers and orchestrators: is the database and the cache up?"""

import logging

from django.core.cache import cache
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

logger = logging.getLogger(__name__)


def _check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def _check_cache() -> None:
    cache.set("kabar:healthz", "ok", timeout=10)
    if cache.get("kabar:healthz") != "ok":
        raise RuntimeError("the cache did not return what was just stored")


@never_cache
@require_GET
def healthz(request):
    """Return 200 when the database and the cache answer, else 503 naming what failed."""
    checks = {}
    for name, check in (("database", _check_database), ("cache", _check_cache)):
        try:
            check()
        except Exception as exc:  # any failure of a backing service means "unhealthy"
            logger.warning("healthz: %s is down: %s", name, exc)
            checks[name] = f"error: {exc.__class__.__name__}"
        else:
            checks[name] = "ok"
    healthy = all(value == "ok" for value in checks.values())
    return JsonResponse({"status": "ok" if healthy else "error", **checks}, status=200 if healthy else 503)
