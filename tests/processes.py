"""Run Kabar's own processes (manage.py commands, the site) on a private SQLite file, as a user does."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urljoin

import pytest
import urllib3

from tests.conftest import REPO


def site_env(tmp_path) -> dict:
    """Return an environment for Kabar processes: the embedded default on files under `tmp_path`."""
    env = {k: v for k, v in os.environ.items() if k not in {"DJANGO_ALLOW_ASYNC_UNSAFE", "REDIS_URL"}}
    return env | {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "MEDIA_ROOT": str(tmp_path / "media"),
        "CACHE_DIR": str(tmp_path / "cache"),
        "TASKS_BACKEND": "database",
        "IMAGE_CACHE_ALLOWED_NETWORKS": "127.0.0.0/8",
        "IMAGE_CACHE_ALLOWED_PORTS": "1024-65535",  # the test servers' ports
        "IMAGE_CACHE_READ_TIMEOUT": "90",
        "DJANGO_SETTINGS_MODULE": "config.settings",
    }


def manage(env, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run `manage.py *args` in a process of its own; return it, finished."""
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout
    )


def manage_shell(env, code: str) -> str:
    """Return what `code` prints when run by `manage.py shell` in a process of its own."""
    result = manage(env, "shell", "-v", "0", "-c", code, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Site:
    """The site started by scripts/serve.sh, and a plain HTTP client for it (no cookies, no redirects)."""

    def __init__(self, env: dict, log_path):
        self.env = env
        self.base = f"http://{env['KABAR_ADDR']}"
        self.http = urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(connect=5, read=60))
        self.log = open(log_path, "w")  # noqa: SIM115 - closed in stop()
        # A session of its own, so that stopping it stops the server, its autoreloader child and the worker.
        self.process = subprocess.Popen(
            ["bash", "scripts/serve.sh"],
            cwd=REPO,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_until_ready(self, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, "scripts/serve.sh stopped: " + self.log_text()
            try:
                if self.get("/healthz").status == 200:
                    return
            except urllib3.exceptions.HTTPError:
                pass
            time.sleep(0.5)
        pytest.fail("the site did not answer /healthz in time: " + self.log_text())

    def log_text(self) -> str:
        self.log.flush()
        return Path(self.log.name).read_text()[-3000:]

    def get(self, path: str) -> urllib3.BaseHTTPResponse:
        return self.http.request("GET", urljoin(self.base, path), redirect=False)

    def text(self, path: str) -> str:
        response = self.get(path)
        assert response.status == 200, (path, response.status)
        return response.data.decode()

    def stop(self) -> None:
        """Stop serve.sh's session as Ctrl-C would, then make sure none of its processes is left."""
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(self.process.pid, sig)
            except ProcessLookupError:
                break
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                continue
            time.sleep(0.5)  # the worker and the server leave after serve.sh
        self.log.close()
