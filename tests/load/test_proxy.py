"""A lecture hall: two app servers behind Debian's nginx with the README's configuration (deploy/nginx.conf).

Students arrive through the proxy, each gets a route cookie on the first visit, and every later request of theirs,
the websocket and each image, must reach the server their session lives on; between them the students must use
both servers.
"""

import re
import shutil
import socket
import subprocess
import time
import urllib.request
from contextlib import ExitStack
from pathlib import Path

import pytest

from bench.harness import ROOT, free_port, running_server
from bench.session import Session

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
STUDENTS = 12  # with random routes, the chance that all land on one of two servers is 2 in 4,096

pytestmark = pytest.mark.skipif(not Path(NGINX).exists(),
                                reason="Debian's nginx is not installed (apt-get install nginx-light); .ci/run installs it")


def proxy_config(ports: list[int], listen: int, folder) -> str:
    """deploy/nginx.conf with these servers and port, its pid in ``folder`` and a log of each request's route."""
    text = (ROOT / "deploy" / "nginx.conf").read_text()
    servers = "".join(f"        server 127.0.0.1:{port};\n" for port in ports)
    text = re.sub(r"(        server 127\.0\.0\.1:\d+;\n)+", servers, text)
    text = text.replace("listen 8500;", f"listen 127.0.0.1:{listen};")
    text = text.replace("pid /tmp/latent-explorer-nginx.pid;", f"pid {folder}/nginx.pid;")
    return text.replace("access_log off;", "log_format route '$cookie_latent_route $upstream_addr $uri';\n"
                                           f"    access_log {folder}/access.log route;")


def wait_for_port(port: int, timeout: float = 30) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise TimeoutError(f"nginx did not listen on {port}")


def first_visit(url: str) -> str:
    """The route cookie the proxy sets on a student's first page load."""
    with urllib.request.urlopen(url + "/", timeout=60) as response:
        (cookie,) = [c.split(";")[0] for c in response.headers.get_all("Set-Cookie") if c.startswith("latent_route=")]
    return cookie


def test_two_servers_behind_nginx_keep_each_student_on_one(tmp_path):
    with ExitStack() as stack:
        servers = [stack.enter_context(running_server()) for _ in range(2)]
        ports = [int(url.rsplit(":", 1)[1]) for url, _ in servers]
        listen = free_port()
        config = tmp_path / "nginx.conf"
        config.write_text(proxy_config(ports, listen, tmp_path))
        proxy = subprocess.Popen([NGINX, "-e", "stderr", "-c", str(config), "-g", "daemon off;"],
                                 stderr=open(tmp_path / "nginx.err", "w"))
        stack.callback(proxy.wait, 30)
        stack.callback(proxy.terminate)
        wait_for_port(listen)
        url = f"http://127.0.0.1:{listen}"
        cookies = []
        for _ in range(STUDENTS):
            cookie = first_visit(url)
            with Session(url, timeout=300, cookie=cookie) as student:
                run = student.open("Samples")
            assert run.problems == [] and run.images, (cookie, run.problems)
            cookies.append(cookie.split("=", 1)[1])
    routes: dict[str, set[str]] = {}
    for line in (tmp_path / "access.log").read_text().splitlines():
        route, upstream, _ = line.split(" ", 2)
        if route in cookies:
            routes.setdefault(route, set()).add(upstream)
    assert set(routes) == set(cookies)  # every student's later requests carried the cookie
    assert all(len(upstreams) == 1 for upstreams in routes.values()), routes  # sticky
    assert {u for upstreams in routes.values() for u in upstreams} == {f"127.0.0.1:{p}" for p in ports}
