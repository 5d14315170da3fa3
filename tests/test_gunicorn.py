"""The project's gunicorn config: loopback by default, and slow clients do not stall a normal request."""

import os
import runpy
import socket
import subprocess
import sys
import threading
import time
import urllib.request

from tests.conftest import REPO
from tests.test_production import PRODUCTION_ENV, _closed_port

CONFIG = REPO / "config" / "gunicorn.conf.py"


def _config(monkeypatch, **env) -> dict:
    for name in ("GUNICORN_BIND", "PORT", "GUNICORN_WORKER_CLASS", "GUNICORN_THREADS"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(CONFIG))


def test_binds_loopback_with_threaded_workers_by_default(monkeypatch):
    config = _config(monkeypatch)
    assert (config["bind"], config["worker_class"], config["threads"]) == ("127.0.0.1:8000", "gthread", 4)
    assert _config(monkeypatch, PORT="9000")["bind"] == "127.0.0.1:9000"
    assert _config(monkeypatch, GUNICORN_BIND="0.0.0.0:8080")["bind"] == "0.0.0.0:8080"


def _slow_client(port: int, stop: threading.Event, started: threading.Event) -> None:
    """Send a request's head one byte at a time, slower than any real client, until told to stop."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        head = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 1000
        sock.sendall(head[:20])
        started.set()
        for byte in head[20:]:
            if stop.wait(0.25):
                return
            try:
                sock.sendall(bytes([byte]))
            except OSError:
                return


def test_two_slow_clients_do_not_block_a_normal_request(tmp_path):
    port = _closed_port()
    env = {
        **{k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"},
        **PRODUCTION_ENV,
        "SECURE_SSL_REDIRECT": "0",
        "PORT": str(port),  # the config's own default bind, 127.0.0.1
        # One worker, the config's default threads: with GUNICORN_WORKER_CLASS=sync and
        # GUNICORN_THREADS=1 the first slow client holds the only worker and this test times out.
        "WEB_CONCURRENCY": "1",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "STATIC_ROOT": str(tmp_path / "static"),
    }
    for name in ("GUNICORN_BIND", "GUNICORN_WORKER_CLASS", "GUNICORN_THREADS"):
        env.pop(name, None)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=REPO, env=env, check=True, timeout=120)
    command = [sys.executable, "-m", "gunicorn", "-c", "config/gunicorn.conf.py", "config.wsgi"]
    server = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    stop = threading.Event()
    try:
        url = f"http://127.0.0.1:{port}/healthz"
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(url, timeout=2).close()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.2)
        slow = []
        for _ in range(2):
            started = threading.Event()
            client = threading.Thread(target=_slow_client, args=(port, stop, started), daemon=True)
            client.start()
            assert started.wait(5)
            slow.append(client)
        time.sleep(0.5)  # the worker has read the slow clients' first bytes

        began = time.monotonic()
        with urllib.request.urlopen(url, timeout=10) as response:
            status = response.status
        elapsed = time.monotonic() - began
        assert all(client.is_alive() for client in slow)  # still dripping while the request was served
    finally:
        stop.set()
        server.terminate()
        output = server.communicate(timeout=30)[0].decode()
    assert status == 200
    assert elapsed < 2, f"a normal request waited {elapsed:.1f} s behind two slow clients"
    assert f"Listening at: http://127.0.0.1:{port}" in output
    assert "Using worker: gthread" in output
