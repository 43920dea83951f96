"""Fixtures that run a real flowgate process for the official Python client tests.

Every test gets its own gateway on a loopback port the kernel picks (port 0), started from the debug binary
with the shared test configuration (tests/clients/flowgate-clients.toml), and stopped when
the test ends, whatever its outcome. The clients talk to it exactly as they would talk to
a Nuxeo server: only the base URL differs.

Environment:
  FLOWGATE_BIN     path of the flowgate binary (default: <target dir>/debug/flowgate,
                   built with `cargo build -p flowgate --bin flowgate` when missing)
  FLOWGATE_CONFIG  configuration file (default: tests/clients/flowgate-clients.toml)
"""

import os
import re
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
from nuxeo.client import Nuxeo
from urllib3.util.retry import Retry

ROOT = Path(__file__).resolve().parents[3]
CONFIG = Path(os.environ.get("FLOWGATE_CONFIG", ROOT / "tests/clients/flowgate-clients.toml"))
START_TIMEOUT_S = 30
STOP_TIMEOUT_S = 10


def _binary():
    explicit = os.environ.get("FLOWGATE_BIN")
    if explicit:
        return Path(explicit)
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    binary = target / "debug" / "flowgate"
    if not binary.exists():
        subprocess.run(
            ["cargo", "build", "-p", "flowgate", "--bin", "flowgate"],
            cwd=ROOT,
            check=True,
            timeout=1800,
        )
    return binary


LISTENING = re.compile(r"flowgate listening on (http://127\.0\.0\.1:(\d+)/\S*)")


def _announced_port(log_path):
    """The port from the line the gateway prints once it accepts connections, or None."""
    try:
        m = LISTENING.search(Path(log_path).read_text(errors="replace"))
    except OSError:
        return None
    return int(m.group(2)) if m else None


class Gateway:
    """One running flowgate process."""

    def __init__(self, proc, port, log_path):
        self.proc = proc
        self.port = port
        self.log_path = log_path
        # What a Nuxeo client is given as its server URL: host + the `/nuxeo/` context.
        self.base = f"http://127.0.0.1:{port}/nuxeo/" if port else None

    def connect(self, user, password=None):
        """The official client logged in as `user` on this gateway."""
        return client(self.base, user, password)

    def log_tail(self, lines=60):
        try:
            text = Path(self.log_path).read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(STOP_TIMEOUT_S)


def _start_gateway(log_dir, env=None, config=None):
    """Starts the gateway; `env` adds environment variables (settings overrides),
    `config` replaces the shared configuration file."""
    binary = _binary()
    if not binary.exists():
        pytest.fail(f"flowgate binary not found at {binary}")
    log_path = Path(log_dir) / "flowgate.log"
    with open(log_path, "wb") as log:
        # Port 0: the kernel picks a free port, the gateway announces it on stdout.
        proc = subprocess.Popen(
            [str(binary), "serve", "--config", str(config or CONFIG), "--bind", "127.0.0.1:0"],
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
        )
    gateway = Gateway(proc, None, log_path)
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline and proc.poll() is None:
        port = _announced_port(log_path)
        if port:
            gateway.port = port
            gateway.base = f"http://127.0.0.1:{port}/nuxeo/"
            return gateway
        time.sleep(0.02)
    gateway.stop()
    pytest.fail(
        f"flowgate did not start with {config or CONFIG} (exit code {proc.returncode}):\n{gateway.log_tail()}"
    )


@pytest.fixture
def gateway():
    """A fresh flowgate for one test; its log tail is printed when the test fails."""
    import replicas

    if replicas.enabled():
        gw = replicas.Pair(_start_gateway, CONFIG, pytest.fail)
    else:
        log_dir = tempfile.mkdtemp(prefix="flowgate-pytest-")
        gw = _start_gateway(log_dir)
    try:
        yield gw
    finally:
        gw.stop()
        # Shown by pytest only for failing tests.
        print(f"--- flowgate log ({gw.log_path}) ---\n{gw.log_tail()}")


@pytest.fixture
def start_gateway():
    """Returns a factory: start_gateway(extra_toml, env) -> a gateway whose settings are
    the shared configuration plus `extra_toml` (e.g. `[[webhooks]]` tables), with the
    environment variables `env`; every gateway started is stopped when the test ends."""
    started = []

    def start(extra_toml="", env=None):
        log_dir = tempfile.mkdtemp(prefix="flowgate-pytest-")
        config = Path(log_dir) / "flowgate.toml"
        config.write_text(CONFIG.read_text() + "\n" + extra_toml)
        gw = _start_gateway(log_dir, env=env, config=config)
        started.append(gw)
        return gw

    yield start
    for gw in started:
        gw.stop()
        print(f"--- flowgate log ({gw.log_path}) ---\n{gw.log_tail()}")


def client(base, user, password=None):
    """The official client logged in as `user` on the gateway at `base` (see `connect`)."""
    return Nuxeo(
        host=base,
        auth=(user, password if password is not None else user),
        retries=Retry(
            total=2,
            backoff_factor=0.05,
            allowed_methods=frozenset(["GET", "POST", "PUT", "DELETE"]),
            status_forcelist=[429, 500, 503, 504],
            raise_on_status=False,
        ),
        timeout=(5, 30),
    )


@pytest.fixture
def connect(gateway):
    """Returns a factory: connect("jdoe") -> official client logged in as jdoe.

    Every test user's password is its user name (see flowgate-clients.toml). The client
    keeps its retry policy on the same statuses as its default (429/500/503/504) but with a
    short back-off, so that a server error still shows up as a replayed request without
    making the test wait half a minute.
    """

    def make(user, password=None):
        return client(gateway.base, user, password)

    return make
