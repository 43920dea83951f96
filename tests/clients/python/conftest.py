"""Fixtures that run a real flowgate process for the official Python client tests.

Every test gets its own gateway on a free loopback port, started from the debug binary
with the shared test configuration (tests/clients/flowgate-clients.toml), and stopped when
the test ends, whatever its outcome. The clients talk to it exactly as they would talk to
a Nuxeo server: only the base URL differs.

Environment:
  FLOWGATE_BIN     path of the flowgate binary (default: <target dir>/debug/flowgate,
                   built with `cargo build -p flowgate --bin flowgate` when missing)
  FLOWGATE_CONFIG  configuration file (default: tests/clients/flowgate-clients.toml)
"""

import os
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
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


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _answers_http(url):
    """True once anything answers HTTP at `url` (any status counts)."""
    try:
        with urllib.request.urlopen(url, timeout=1):
            return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False


class Gateway:
    """One running flowgate process."""

    def __init__(self, proc, port, log_path):
        self.proc = proc
        self.port = port
        self.log_path = log_path
        # What a Nuxeo client is given as its server URL: host + the `/nuxeo/` context.
        self.base = f"http://127.0.0.1:{port}/nuxeo/"

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


def _start_gateway(log_dir):
    binary = _binary()
    if not binary.exists():
        pytest.fail(f"flowgate binary not found at {binary}")
    last_error = "did not start"
    for attempt in range(3):
        port = _free_port()
        log_path = Path(log_dir) / f"flowgate-{port}.log"
        log = open(log_path, "wb")
        proc = subprocess.Popen(
            [str(binary), "serve", "--config", str(CONFIG), "--bind", f"127.0.0.1:{port}"],
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        gateway = Gateway(proc, port, log_path)
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                break
            if _answers_http(f"http://127.0.0.1:{port}/nuxeo/runningstatus"):
                return gateway
            time.sleep(0.05)
        gateway.stop()
        last_error = f"attempt {attempt + 1}: exit code {proc.returncode}\n{gateway.log_tail()}"
    pytest.fail(f"flowgate did not start with {CONFIG}: {last_error}")


@pytest.fixture
def gateway():
    """A fresh flowgate for one test; its log tail is printed when the test fails."""
    log_dir = tempfile.mkdtemp(prefix="flowgate-pytest-")
    gw = _start_gateway(log_dir)
    try:
        yield gw
    finally:
        gw.stop()
        # Shown by pytest only for failing tests.
        print(f"--- flowgate log ({gw.log_path}) ---\n{gw.log_tail()}")


@pytest.fixture
def connect(gateway):
    """Returns a factory: connect("jdoe") -> official client logged in as jdoe.

    Every test user's password is its user name (see flowgate-clients.toml). The client
    keeps its retry policy on the same statuses as its default (429/500/503/504) but with a
    short back-off, so that a server error still shows up as a replayed request without
    making the test wait half a minute.
    """

    def make(user, password=None):
        return Nuxeo(
            host=gateway.base,
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

    return make
