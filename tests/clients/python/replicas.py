"""Two flowgate replicas on one PostgreSQL schema behind nginx (round robin, a new
upstream connection per request, so consecutive requests alternate between the
replicas). Used by the `gateway` fixture when FLOWGATE_TEST_REPLICAS=2: the whole client
suite then runs against the pair as it would against one gateway.
"""

import os
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

NGINX = os.environ.get("NGINX", "/usr/sbin/nginx")


def enabled():
    return os.environ.get("FLOWGATE_TEST_REPLICAS", "1") == "2"


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Pair:
    """Two gateways and the nginx in front of them; looks like one `Gateway`."""

    def __init__(self, start_gateway, base_config, fail):
        url = os.environ.get("FLOWGATE_TEST_DATABASE_URL")
        if not url:
            fail("FLOWGATE_TEST_REPLICAS=2 needs FLOWGATE_TEST_DATABASE_URL (scripts/postgres.sh)")
        self.url = url
        self.schema = "py_" + uuid.uuid4().hex
        self.dir = Path(tempfile.mkdtemp(prefix="flowgate-pair-"))
        config = self.dir / "flowgate.toml"
        config.write_text(
            base_config.read_text()
            + f'\n[engines.local]\nkind = "embedded"\ndefault = true\nstorage = "postgres"\n'
            f'database_schema = "{self.schema}"\npool_size = 4\n'
        )
        env = {"FLOWGATE__ENGINES__LOCAL__DATABASE_URL": url}
        self.replicas = []
        self.nginx = None
        try:
            for i in range(2):
                log_dir = self.dir / f"replica-{i}"
                log_dir.mkdir()
                self.replicas.append(start_gateway(log_dir, env=env, config=config))
            self.port = _free_port()
            self.nginx = self._start_nginx(fail)
        except BaseException:
            # A pair that did not come up leaves no replica (nor its connections) behind.
            self.stop()
            raise
        self.base = f"http://127.0.0.1:{self.port}/nuxeo/"
        self.log_path = self.replicas[0].log_path

    def _start_nginx(self, fail):
        conf = self.dir / "nginx.conf"
        servers = "".join(f"server 127.0.0.1:{g.port};" for g in self.replicas)
        conf.write_text(
            f"daemon off; pid {self.dir}/nginx.pid; error_log {self.dir}/nginx-error.log;\n"
            "events { worker_connections 256; }\n"
            f"http {{ access_log off; client_body_temp_path {self.dir}/body; "
            f"proxy_temp_path {self.dir}/proxy; fastcgi_temp_path {self.dir}/fcgi; "
            f"uwsgi_temp_path {self.dir}/uwsgi; scgi_temp_path {self.dir}/scgi;\n"
            f"  upstream flowgate {{ {servers} }}\n"
            f"  server {{ listen 127.0.0.1:{self.port};\n"
            "    location / { proxy_pass http://flowgate; proxy_set_header Host $http_host;\n"
            "                 proxy_next_upstream off; proxy_read_timeout 60s; } } }\n"
        )
        proc = subprocess.Popen(
            [NGINX, "-c", str(conf), "-p", str(self.dir)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return proc
            except OSError:
                if proc.poll() is not None:
                    break
                time.sleep(0.05)
        proc.kill()
        fail(f"nginx did not start: {(self.dir / 'nginx-error.log').read_text(errors='replace')}")

    def connect(self, user, password=None):
        from conftest import client

        return client(self.base, user, password)

    def log_tail(self, lines=60):
        return "\n".join(
            f"--- replica {i} ---\n{g.log_tail(lines)}" for i, g in enumerate(self.replicas)
        )

    def stop(self):
        if self.nginx is not None and self.nginx.poll() is None:
            self.nginx.terminate()
            try:
                self.nginx.wait(10)
            except subprocess.TimeoutExpired:
                self.nginx.kill()
        for g in self.replicas:
            g.stop()
        subprocess.run(
            ["psql", self.url, "-q", "-c", f"DROP SCHEMA IF EXISTS {self.schema} CASCADE"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=30,
        )
