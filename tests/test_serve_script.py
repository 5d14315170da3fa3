"""scripts/serve.sh as a service manager or a user's `kill` runs it: its processes end with it."""

import os
import signal
import socket
import sys
import time
from pathlib import Path

from tests.processes import Site, free_port, site_env


def live_processes_in_group(group: int) -> dict[int, str]:
    """Return the processes (pid → command line) of a process group that are alive (zombies are not)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
        except OSError:
            continue  # ended while being looked at
        state, _parent, process_group = stat.rsplit(")", 1)[1].split()[:3]
        if int(process_group) == group and state != "Z":
            found[int(entry.name)] = command
    return found


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def port_is_closed(address: str) -> bool:
    host, port = address.rsplit(":", 1)
    with socket.socket() as probe:
        return probe.connect_ex((host, int(port))) != 0


def test_sigterm_to_serve_sh_stops_the_server_and_the_worker(tmp_path):
    env = site_env(tmp_path) | {
        "KABAR_ADDR": f"127.0.0.1:{free_port()}",
        "VENV": str(Path(sys.executable).parent.parent),  # serve.sh runs this interpreter's environment
    }
    site = Site(env, tmp_path / "serve.log")  # a session of its own: serve.sh leads its process group
    try:
        site.wait_until_ready()
        group = site.process.pid
        before = live_processes_in_group(group)
        commands = " | ".join(before.values())
        assert "scripts/serve.sh" in commands, commands
        assert "manage.py run_worker" in commands, commands
        assert "manage.py runserver" in commands, commands

        started = time.monotonic()
        os.kill(site.process.pid, signal.SIGTERM)  # serve.sh alone, not its group
        assert site.process.wait(15) == 128 + signal.SIGTERM, site.log_text()
        while (left := live_processes_in_group(group)) and time.monotonic() - started < 5:
            time.sleep(0.1)
        assert left == {}, f"still running after serve.sh ended: {left}"
        assert [pid for pid in before if alive(pid)] == []  # none left its group to live on elsewhere
        assert port_is_closed(env["KABAR_ADDR"])
        assert time.monotonic() - started < 5
    finally:
        site.stop()
