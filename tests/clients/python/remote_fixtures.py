"""Processes for the remote-engine tests: the Alfresco and CQ simulators and a gateway over them.

Every process is a real binary of the workspace, started on a loopback port the kernel
picks (port 0), waited for within a bounded time, and stopped when its fixture ends,
whatever the test's outcome.

Binaries: FLOWGATE_BIN (default <target dir>/debug/flowgate); the simulators
`flowgate-alfresco-sim` and `flowgate-cq-sim` are taken from the same directory. All three
come from `cargo build --workspace --all-features --bins`; a simulator missing from the
cargo target directory is built on first use.

The gateway's users get random passwords per test session, hashed once per session with
`flowgate hash-password` (password on stdin). The remote engines are reached with the
simulators' `admin` service account, so the gateway users only need to exist under the
same names in the simulator (for actor checks), not share its passwords.
"""

import os
import re
import secrets
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
from nuxeo.client import Nuxeo
from nuxeo.endpoint import APIEndpoint
from nuxeo.models import Workflow
from urllib3.util.retry import Retry

ROOT = Path(__file__).resolve().parents[3]
START_TIMEOUT_S = 30
STOP_TIMEOUT_S = 10
HASH_TIMEOUT_S = 60

GATEWAY_LISTENING = re.compile(r"flowgate listening on (http://127\.0\.0\.1:\d+/\S*)")
ALFRESCO_LISTENING = re.compile(r"alfresco simulator listening at (http://127\.0\.0\.1:\d+/\S*)")
CQ_LISTENING = re.compile(
    r"flowgate-cq-sim: profile \S+ listening on (http://127\.0\.0\.1:\d+/?\S*)"
)

# Gateway users: name -> groups. The same names exist in both simulators (Alfresco: jdoe,
# bob; CQ: jdoe, editor1), and the groups mirror theirs (Alfresco GROUP_reviewers, CQ authors).
GATEWAY_USERS = {
    "jdoe": ["members", "reviewers", "authors"],
    "bob": ["members", "reviewers"],
    "editor1": ["authors"],
}


def flowgate_bin():
    explicit = os.environ.get("FLOWGATE_BIN")
    if explicit:
        return Path(explicit)
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    return target / "debug" / "flowgate"


# Simulator binary -> the package that builds it (behind its `sim` feature).
SIM_PACKAGES = {"flowgate-alfresco-sim": "flowgate-alfresco", "flowgate-cq-sim": "flowgate-cq"}
BUILD_TIMEOUT_S = 1800


def sim_bin(name):
    """A simulator binary next to the gateway binary (built when missing from the target dir)."""
    path = flowgate_bin().parent / name
    default_dir = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "debug"
    if not path.exists() and path.parent.resolve() == default_dir.resolve():
        subprocess.run(
            ["cargo", "build", "-p", SIM_PACKAGES[name], "--features", "sim", "--bin", name],
            cwd=ROOT,
            check=True,
            timeout=BUILD_TIMEOUT_S,
        )
    if not path.exists():
        pytest.fail(
            f"{name} not found at {path}: run `cargo build --workspace --all-features --bins`"
        )
    return path


class Proc:
    """A child process whose output goes to a log file, stopped by `stop()`."""

    def __init__(self, name, argv, log_dir, env=None):
        self.name = name
        self.log_path = Path(log_dir) / f"{name}.log"
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [str(a) for a in argv],
                cwd=ROOT,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
            )

    def log_tail(self, lines=40):
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def wait_for(self, pattern, timeout=START_TIMEOUT_S):
        """The first group of `pattern` once the process printed it; a failure after `timeout`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = pattern.search(self.log_path.read_text(errors="replace"))
            if m:
                return m.group(1)
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        code = self.proc.poll()
        self.stop()
        pytest.fail(f"{self.name} did not start (exit code {code}):\n{self.log_tail()}")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(STOP_TIMEOUT_S)


@pytest.fixture(scope="session")
def gateway_credentials():
    """name -> (password, argon2 hash): one random password per user, hashed once per session."""
    binary = flowgate_bin()
    if not binary.exists():
        pytest.fail(f"flowgate binary not found at {binary}")
    creds = {}
    for name in GATEWAY_USERS:
        password = secrets.token_urlsafe(12)
        out = subprocess.run(
            [str(binary), "hash-password"],
            input=password + "\n",
            capture_output=True,
            text=True,
            timeout=HASH_TIMEOUT_S,
            check=True,
        )
        hashed = out.stdout.strip().splitlines()[-1]
        assert hashed.startswith("$argon2"), out.stdout
        creds[name] = (password, hashed)
    return creds


@pytest.fixture
def processes():
    """Starts processes for one test and stops them all at its end (logs printed on failure)."""
    log_dir = tempfile.mkdtemp(prefix="flowgate-remote-")
    started = []

    def start(name, argv, env=None):
        p = Proc(name, argv, log_dir, env=env)
        started.append(p)
        return p

    start.log_dir = log_dir
    try:
        yield start
    finally:
        for p in reversed(started):
            p.stop()
        for p in started:
            # Shown by pytest only for failing tests.
            print(f"--- {p.name} log ({p.log_path}) ---\n{p.log_tail()}")


@pytest.fixture
def alfresco_sim(processes):
    """Base URL of a fresh Alfresco simulator (`.../alfresco/`)."""
    p = processes("alfresco-sim", [sim_bin("flowgate-alfresco-sim"), "--port", "0"])
    return p.wait_for(ALFRESCO_LISTENING)


def start_cq_sim(processes, profile):
    """Base URL of a fresh CQ simulator imitating `profile`."""
    argv = [sim_bin("flowgate-cq-sim"), "--port", "0", "--profile", profile]
    p = processes(f"cq-sim-{profile}", argv)
    return p.wait_for(CQ_LISTENING)


def _toml_str(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def gateway_toml(engine_tables, credentials):
    """A gateway configuration: the embedded engine as default, `engine_tables`, and the users."""
    lines = [
        "[log]",
        'level = "warn"',
        "[server]",
        "request_timeout_ms = 15000",
        "[routing]",
        "fanout_timeout_ms = 8000",
        "[engines.local]",
        'kind = "embedded"',
        "default = true",
        f"models_dir = {_toml_str(str(ROOT / 'config' / 'models'))}",
        engine_tables.strip(),
    ]
    for name, groups in GATEWAY_USERS.items():
        lines += [
            "[[auth.users]]",
            f"name = {_toml_str(name)}",
            f"password_hash = {_toml_str(credentials[name][1])}",
            "groups = [" + ", ".join(_toml_str(g) for g in groups) + "]",
        ]
    return "\n".join(lines) + "\n"


def start_gateway(processes, config_text):
    """Writes `config_text`, runs `flowgate serve` on it; returns the base URL (…/nuxeo/)."""
    config = Path(processes.log_dir) / "flowgate.toml"
    config.write_text(config_text)
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWGATE__")}
    env.pop("FLOWGATE_CONFIG", None)
    p = processes(
        "flowgate",
        [flowgate_bin(), "serve", "--config", config, "--bind", "127.0.0.1:0"],
        env=env,
    )
    return p.wait_for(GATEWAY_LISTENING)


def client(base, user, credentials):
    """The official client logged in as `user`, with bounded timeouts and a short retry back-off."""
    return Nuxeo(
        host=base,
        auth=(user, credentials[user][0]),
        retries=Retry(
            total=2,
            backoff_factor=0.05,
            allowed_methods=frozenset(["GET"]),
            status_forcelist=[429, 500, 503, 504],
            raise_on_status=False,
        ),
        timeout=(5, 30),
    )


def start_on_path(nx, doc_path, model, variables=None):
    """Starts `model` on the document at `doc_path` (`POST path{doc_path}/@workflow`).

    The client's `workflows.start(model, document)` posts to `id/{uid}/@workflow`; this is
    the same request through the client's own endpoint machinery, addressed by path.
    """
    data = {"workflowModelName": model, "entity-type": "workflow"}
    if variables:
        data["variables"] = variables
    wf = APIEndpoint.post(
        nx.workflows, data, endpoint=nx.client.api_path, path=f"path{doc_path}/@workflow"
    )
    assert isinstance(wf, Workflow), wf
    return wf


def wait_for_state(nx, workflow_id, state, timeout=10):
    """`nx.workflows.get(id)` until its state is `state`; the last workflow read otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        wf = nx.workflows.get(workflow_id)
        if wf.state == state or time.monotonic() >= deadline:
            return wf
        time.sleep(0.1)
