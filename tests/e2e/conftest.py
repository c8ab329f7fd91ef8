"""Fixtures for Bosun's end-to-end suite.

Every test talks to a real ``bosun server`` process over HTTPS, through the
real kubectl 1.32 binary, raw HTTP (``requests`` with the admin client
certificate) or the official ``kubernetes`` Python client.

* ``server`` (session): bosun on the embedded store in a temp data dir.
* ``etcd_server`` (session): an etcd process plus bosun with ``--store etcd``.
* ``backend`` (parametrized over both): for the subset of tests that must
  pass on both stores.
* ``ns`` / ``backend_ns``: a fresh namespace per test.
* ``sim_cluster``: a server of the test's own (scheduler and controllers
  running) to which the test adds simulated nodes with ``.sim(prefix, n)``.
* ``kubectl(*args, input=None, check=True)``: kubectl 1.32 with KUBECONFIG
  set to the embedded server's admin kubeconfig; returns stdout/stderr/rc.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import pytest

from support import (
    ETCD,
    Api,
    KubectlResult,
    Server,
    SimCluster,
    make_namespace,
    start_bosun,
    start_etcd,
    stop_process,
)


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    base = tmp_path_factory.mktemp("bosun-embedded")
    # API-server tests own their pods' status: the scheduler (tested on
    # servers of its own in test_scheduler.py) stays off here.
    srv = start_bosun(base / "data", extra=["--disable-scheduler", "--controllers=garbagecollector,namespace"])
    yield srv
    stop_process(srv.proc)


@pytest.fixture(scope="session")
def etcd_server(tmp_path_factory):
    if not Path(ETCD).exists():
        raise RuntimeError(f"etcd binary not found at {ETCD}")
    base = tmp_path_factory.mktemp("bosun-etcd")
    etcd_proc, client_url = start_etcd(base)
    try:
        srv = start_bosun(base / "data", extra=["--store", "etcd", "--etcd-endpoints", client_url, "--disable-scheduler", "--controllers=garbagecollector,namespace"], store="etcd")
    except BaseException:
        stop_process(etcd_proc)
        raise
    yield srv
    stop_process(srv.proc)
    stop_process(etcd_proc)


@pytest.fixture(params=["embedded", "etcd"])
def backend(request) -> Server:
    """The server for one store backend: tests using this run on both."""
    return request.getfixturevalue("server" if request.param == "embedded" else "etcd_server")


@pytest.fixture
def api(server) -> Api:
    return server.api


@pytest.fixture
def kubectl(server):
    """kubectl(*args, input=None, check=True) against the embedded server."""

    def run(*args: str, input: Optional[str] = None, check: bool = True, **kw) -> KubectlResult:
        return server.kubectl(*args, input=input, check=check, **kw)

    return run


@pytest.fixture
def ns(server) -> str:
    """A fresh namespace on the embedded server for one test."""
    return make_namespace(server)


@pytest.fixture
def backend_ns(backend) -> str:
    return make_namespace(backend)


@pytest.fixture
def sim_cluster(tmp_path) -> SimCluster:
    srv = start_bosun(tmp_path / "data")
    c = SimCluster(srv, tmp_path)
    yield c
    c.stop()
