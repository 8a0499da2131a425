"""A real nginx on loopback (plain HTTP and TLS with a certificate from a test CA made at test time)
serving files from a folder, and the test CA itself. nginx runs in the foreground without a master
process, as the user running the tests, and is stopped by the fixture that started it (or by the
kernel, should the test process die first).
scripts/system-deps.sh installs it."""

from __future__ import annotations

import ctypes
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

from ..conftest import free_port
from ..servers import stop, wait_port

CHAT_ANSWER = ('{"id":"chatcmpl-nginx","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,'
               '"message":{"role":"assistant","content":"from nginx"},"finish_reason":"stop"}],'
               '"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}')


class LocalCA:
    """A CA certificate and a server certificate it signed for localhost and 127.0.0.1 (openssl CLI)."""

    def __init__(self, folder: Path) -> None:
        self.ca, self.ca_key = folder / "ca.pem", folder / "ca.key"
        self.cert, self.key = folder / "server.pem", folder / "server.key"
        ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        openssl(["req", "-x509", *ec, "-days", "2", "-subj", "/CN=Switchpoint Test CA",
                 "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
                 "-keyout", str(self.ca_key), "-out", str(self.ca)])
        request = folder / "server.csr"
        openssl(["req", "-new", *ec, "-subj", "/CN=localhost", "-keyout", str(self.key), "-out", str(request)])
        extensions = folder / "server.ext"
        extensions.write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
        openssl(["x509", "-req", "-in", str(request), "-CA", str(self.ca), "-CAkey", str(self.ca_key),
                 "-CAcreateserial", "-days", "2", "-extfile", str(extensions), "-out", str(self.cert)])


def die_with_parent() -> None:
    """In the child before exec: Linux sends it SIGTERM when the test process ends, however it ends."""
    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def openssl(args: list[str]) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def nginx_conf(folder: Path, http: str) -> Path:
    """folder/nginx.conf: one foreground nginx process whose pid, log and temporary files stay in
    `folder`, serving the `http` block's contents."""
    temp = folder / "temp"
    temp.mkdir()
    conf = folder / "nginx.conf"
    conf.write_text(f"""
daemon off;
master_process off;
worker_processes 1;
pid {folder / "nginx.pid"};
error_log {folder / "error.log"} warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
{http}
}}
""")
    return conf


class Nginx:
    """Serves `root` at /plain/ (as is, Content-Length) and /gz/ (gzip when asked: chunked), answers
    POST /v1/chat/completions with a fixed chat completion, and redirects /moved."""

    def __init__(self, folder: Path, root: Path, ca: LocalCA) -> None:
        binary = shutil.which("nginx") or shutil.which("/usr/sbin/nginx")
        if binary is None:
            pytest.skip("nginx is not installed (scripts/system-deps.sh installs it)")
        self.port, self.tls_port = free_port(), free_port()
        conf = nginx_conf(folder, f"""
    default_type application/octet-stream;
    keepalive_requests 10000;
    gzip_types *;
    gzip_min_length 0;
    gzip_comp_level 1;
    gzip_proxied any;
    gzip_http_version 1.0;
    server {{
        listen 127.0.0.1:{self.port};
        listen 127.0.0.1:{self.tls_port} ssl;
        ssl_certificate {ca.cert};
        ssl_certificate_key {ca.key};
        root {root};
        location /plain/ {{ alias {root}/; gzip off; }}
        location /gz/ {{ alias {root}/; gzip on; }}
        location = /v1/chat/completions {{ default_type application/json; return 200 '{CHAT_ANSWER}'; }}
        location = /moved {{ return 301 /plain/; }}
    }}
""")
        self.log = folder / "error.log"
        self.proc = subprocess.Popen([binary, "-c", str(conf), "-p", str(folder), "-e", str(self.log)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=die_with_parent)
        wait_port(self.port, self.proc, "nginx")
        wait_port(self.tls_port, self.proc, "nginx")

    def url(self, path: str, tls: bool = False, host: str = "127.0.0.1") -> str:
        return f"https://{host}:{self.tls_port}{path}" if tls else f"http://{host}:{self.port}{path}"

    def stop(self) -> None:
        stop(self.proc)
