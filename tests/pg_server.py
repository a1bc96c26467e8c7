"""A throwaway PostgreSQL server for the tests: initdb into a folder, start it on a loopback port, stop it.

Used twice, so the recipe lives once:
- by `.ci/run`: `python -m tests.pg_server start DIR` prints the server's URL (and keeps it
  in DIR/url); `python -m tests.pg_server stop DIR` stops it;
- by the pytest fixture in tests/history/conftest.py when no server URL is given.

The server listens on 127.0.0.1 only (a free port picked here) and on a Unix socket inside
DIR; TCP logins need a password (scram-sha-256), so tests can prove a wrong password is
refused. PostgreSQL refuses to run as root: as root the folder is handed to the `postgres`
user that Debian's package creates, and the server programs run as that user.
fsync is off: a test database need not survive a power cut.
"""

from __future__ import annotations

import os
import pwd
import re
import secrets
import shutil
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

SERVICE_USER = "postgres"
SUPERUSER = "amlaudit"
_DEBIAN_BINDIRS = Path("/usr/lib/postgresql")


class ServerUnavailable(Exception):
    """No PostgreSQL server programs here, or they could not start one; the message says which."""


@dataclass(frozen=True, slots=True)
class Server:
    directory: Path
    url: str  # postgresql://amlaudit:PASSWORD@127.0.0.1:PORT/postgres


def find_bindir() -> Path | None:
    """The folder holding initdb and pg_ctl: Debian's newest version, else whatever is on PATH."""
    if _DEBIAN_BINDIRS.is_dir():
        def version(path: Path) -> tuple[int, ...]:
            return tuple(int(x) for x in re.findall(r"\d+", path.parent.name)) or (0,)

        candidates = sorted((p for p in _DEBIAN_BINDIRS.glob("*/bin") if (p / "initdb").exists()), key=version)
        if candidates:
            return candidates[-1]
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(found).resolve().parent
    return None


def _as_owner() -> dict[str, object]:
    """subprocess arguments that drop root to the service user; nothing when not root."""
    if os.geteuid() != 0:
        return {}
    try:
        entry = pwd.getpwnam(SERVICE_USER)
    except KeyError:
        raise ServerUnavailable(f"running as root and there is no {SERVICE_USER!r} user to run PostgreSQL as") from None
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _run(command: list[str], cwd: Path) -> None:
    completed = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False, **_as_owner())  # type: ignore[call-overload]
    if completed.returncode != 0:
        detail = (completed.stderr or completed.stdout).strip().splitlines()
        raise ServerUnavailable(f"{Path(command[0]).name} failed: {detail[-1] if detail else completed.returncode}")


def start(directory: Path, attempts: int = 3) -> Server:
    bindir = find_bindir()
    if bindir is None:
        raise ServerUnavailable("no PostgreSQL server programs (initdb, pg_ctl) are installed")
    directory.mkdir(parents=True, exist_ok=True)
    password = secrets.token_hex(16)
    data, sockets = directory / "data", directory / "sockets"
    sockets.mkdir(exist_ok=True)
    pwfile = directory / "pwfile"
    pwfile.write_text(password + "\n")
    pwfile.chmod(0o600)
    owner = _as_owner()
    if owner:
        for path in (directory, sockets, pwfile):
            os.chown(path, owner["user"], owner["group"])  # type: ignore[arg-type]
    _run([str(bindir / "initdb"), "-D", str(data), "-U", SUPERUSER, f"--pwfile={pwfile}", "--auth-local=trust",
          "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C", "--no-sync"], directory)
    pwfile.unlink()
    last_error: ServerUnavailable | None = None
    for _ in range(attempts):  # the port is free when picked; another process may take it first
        port = _free_port()
        options = f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=60"
        try:
            _run([str(bindir / "pg_ctl"), "-D", str(data), "-l", str(directory / "server.log"), "-w", "-t", "60",
                  "-o", options, "start"], directory)
        except ServerUnavailable as exc:
            last_error = exc
            continue
        url = f"postgresql://{SUPERUSER}:{password}@127.0.0.1:{port}/postgres"
        (directory / "url").write_text(url + "\n")
        return Server(directory=directory, url=url)
    raise last_error or ServerUnavailable("the server did not start")


def stop(directory: Path) -> None:
    bindir = find_bindir()
    if bindir is None or not (directory / "data" / "postmaster.pid").exists():
        return
    _run([str(bindir / "pg_ctl"), "-D", str(directory / "data"), "-m", "fast", "-w", "-t", "60", "stop"], directory)


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in ("start", "stop"):
        print("usage: python -m tests.pg_server start|stop DIR", file=sys.stderr)
        return 2
    directory = Path(argv[1]).resolve()
    try:
        if argv[0] == "start":
            print(start(directory).url)
        else:
            stop(directory)
    except ServerUnavailable as exc:
        print(f"pg_server: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
