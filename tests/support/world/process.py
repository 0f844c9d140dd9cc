"""One real process of the test world: arguments, a work dir, a log file, a health check.

As envtest and kwok keep them: each process logs to ``<workdir>/logs/<name>.log``; start
fails fast (with the log's tail) if the process dies before its health check passes, and
stop sends SIGTERM, then SIGKILL after a timeout, to the whole process group.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path


class ProcessError(RuntimeError):
    """A world process failed to start or died; the message carries its log's tail."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def log_tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log)"


def http_ok(url: str, context: ssl.SSLContext | None = None, timeout: float = 2.0) -> bool:
    """True when a GET answers 200 (used as a readiness probe)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout, context=context) as r:  # noqa: S310 (loopback URLs)
            return int(r.status) == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError, ssl.SSLError, OSError):
        return False


def unverified_tls() -> ssl.SSLContext:
    """For health probes of the world's own processes, whose serving certificates are self-made."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


@dataclass
class Process:
    name: str
    args: list[str]
    workdir: Path
    ready: Callable[[], bool]
    env: dict[str, str] | None = None
    start_timeout: float = 90.0
    stop_timeout: float = 15.0
    proc: subprocess.Popen[bytes] | None = field(default=None, init=False)

    @property
    def log_path(self) -> Path:
        return self.workdir / "logs" / f"{self.name}.log"

    def start(self) -> None:
        binary = Path(self.args[0])
        if not binary.is_file():
            raise ProcessError(f"{self.name}: {binary} is missing; run scripts/toolchain.sh to build it")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                self.args,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.workdir,
                env={**os.environ, **(self.env or {})},
                start_new_session=True,  # its own group: stop() reaches its children too
            )
        deadline = time.monotonic() + self.start_timeout
        while True:
            rc = self.proc.poll()
            if rc is not None:
                raise ProcessError(f"{self.name} exited with {rc} before it was ready:\n{log_tail(self.log_path)}")
            if self.ready():
                return
            if time.monotonic() > deadline:
                self.stop()
                raise ProcessError(f"{self.name} not ready after {self.start_timeout:.0f}s:\n{log_tail(self.log_path)}")
            time.sleep(0.2)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=self.stop_timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.proc = None
