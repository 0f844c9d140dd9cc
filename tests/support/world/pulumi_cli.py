"""The real Pulumi CLI, run as a user runs it, against a file backend with nothing downloaded."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from toolchain.manifest import REPO_ROOT, link_bin_dir


class PulumiError(RuntimeError):
    """A pulumi command failed; the message carries the command and its output."""


def pulumi_env(home: Path, state: Path, passphrase: str, bin_dir: Path) -> dict[str, str]:
    path = os.pathsep.join([str(bin_dir), str(REPO_ROOT / ".venv" / "bin"), os.environ["PATH"]])
    return {
        "PATH": path,
        "PULUMI_HOME": str(home),
        "PULUMI_BACKEND_URL": f"file://{state}",
        "PULUMI_CONFIG_PASSPHRASE": passphrase,
        "PULUMI_SKIP_UPDATE_CHECK": "true",
        "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
        "PULUMI_SKIP_CONFIRMATIONS": "true",
        "PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK": "true",
        "PULUMI_DIY_BACKEND_NO_LEGACY_WARNING": "true",
        "PULUMI_PYTHON_CMD": str(REPO_ROOT / ".venv" / "bin" / "python"),
        "NO_COLOR": "1",
    }


@dataclass
class PulumiCli:
    project: Path
    workdir: Path
    passphrase: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    timeout: float = 900.0

    _env: dict[str, str] | None = field(default=None, init=False, repr=False)

    @property
    def env(self) -> dict[str, str]:
        if self._env is None:
            home, state = self.workdir / "pulumi-home", self.workdir / "state"
            home.mkdir(parents=True, exist_ok=True)
            state.mkdir(parents=True, exist_ok=True)
            bin_dir = link_bin_dir(self.workdir / "bin")
            self._env = {**os.environ, **pulumi_env(home, state, self.passphrase, bin_dir)}
        return self._env

    @property
    def log_path(self) -> Path:
        return self.workdir / "logs" / "pulumi.log"

    def run(self, *args: str, stdin: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
        cmd = ["pulumi", *args, "--non-interactive"]
        proc = subprocess.run(
            cmd,
            cwd=self.project,
            env=self.env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=self.timeout,
            check=False,
        )
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("a") as log:
            log.write(f"$ {' '.join(cmd)}  (exit {proc.returncode})\n{proc.stdout}\n{proc.stderr}\n")
        if check and proc.returncode != 0:
            raise PulumiError(
                f"`pulumi {' '.join(args)}` exited {proc.returncode}\n--- stdout\n{proc.stdout[-6000:]}"
                f"\n--- stderr\n{proc.stderr[-4000:]}"
            )
        return proc

    def set_secret(self, path: str, value: str) -> None:
        """`pulumi config set --secret --path` with the value on stdin (never on a command line)."""
        self.run("config", "set", "--secret", "--path", path, stdin=value)

    def outputs(self, *, show_secrets: bool = False) -> dict[str, Any]:
        args = ["stack", "output", "--json", *(["--show-secrets"] if show_secrets else [])]
        return dict(json.loads(self.run(*args).stdout))

    def export(self) -> dict[str, Any]:
        return dict(json.loads(self.run("stack", "export").stdout))


class BackgroundUp:
    """`pulumi up --yes --skip-preview` as a child process, so a test can act (as the guests would) while it
    runs. Its output goes to ``log`` as it comes, so a wait that times out can say what the up was doing;
    with ``json`` it is the engine's events (`up --json`)."""

    def __init__(self, cli: PulumiCli, stack: str, log: Path, *, json: bool = False) -> None:
        self.log = log
        log.parent.mkdir(parents=True, exist_ok=True)
        self._out = log.open("w")
        cmd = ["pulumi", "up", "--yes", "--skip-preview", *(["--json"] if json else []), "--stack", stack]
        self.proc = subprocess.Popen(
            [*cmd, "--non-interactive"], cwd=cli.project, env=cli.env, stdout=self._out, stderr=subprocess.STDOUT
        )

    def tail(self) -> str:
        """The end of the output, and the engine's diagnostics (the errors) when it printed any: after a
        failed update they come before the long outputs listing that would push them out of the end."""
        text = self.log.read_text()
        start = text.find("Diagnostics:")
        if start < 0:
            return text[-4000:]
        end = text.find("\nOutputs:", start)
        diagnostics = text[start : end if end > 0 else None][:8000]
        return f"{diagnostics}\n[...]\n{text[-1500:]}"

    def alive(self) -> bool:
        return self.proc.poll() is None

    def check_alive(self) -> None:
        code = self.proc.poll()
        if code is not None:
            raise AssertionError(f"pulumi up exited {code} early:\n{self.tail()}")

    def join(self, timeout: float = 900.0) -> str:
        """Wait for the up, assert it succeeded; its whole output."""
        code = self.proc.wait(timeout)
        self._out.close()
        assert code == 0, f"pulumi up exited {code}:\n{self.tail()}"
        return self.log.read_text()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # as Ctrl-C: the CLI cancels and releases its lock
            try:
                self.proc.wait(120)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(30)
        self._out.close()
