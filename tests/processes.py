"""Run Kabar's own processes (manage.py commands, the site) on a private SQLite file, as a user does."""

import os
import subprocess
import sys

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
