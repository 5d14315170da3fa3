"""gunicorn settings for Kabar: `gunicorn -c config/gunicorn.conf.py config.wsgi`.

Every value can be overridden by the environment variable named beside it.
"""

import multiprocessing
import os

# Loopback by default: the app is meant to sit behind a reverse proxy (TLS, compression,
# slow clients). Set GUNICORN_BIND=0.0.0.0:8000 in a container whose port the proxy reaches.
bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:" + os.environ.get("PORT", "8000"))
# Threaded workers: a client that sends its request slowly holds one thread, not a whole
# worker, so a few slow clients cannot stall everybody else (sync workers need a buffering
# proxy in front for that). Django views here are I/O light (stored HTML, cached pages).
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "gthread")
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "30"))
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "5"))
# Workers are not recycled (0): a restart costs warm connections and in-process caches
# (templates, URL patterns). Set a number to recycle after that many requests.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "0"))
max_requests_jitter = int(os.environ.get("GUNICORN_MAX_REQUESTS_JITTER", "0"))
# "-": standard output; empty: no access log (a proxy in front usually keeps one).
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-") or None
errorlog = os.environ.get("GUNICORN_ERROR_LOG", "-")
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
