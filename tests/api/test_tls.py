"""The API over HTTPS with its own certificate: `openbms run --tls-cert --tls-key` and ApiSettings."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from openbms.api import ApiSettings
from tests.api.conftest import MakeApi
from tests.fixtures.tls import client_context, self_signed
from tests.runtime.test_app import FAST_SITE


async def test_the_api_serves_https_with_hsts_and_refuses_plain_http(make_api: MakeApi, tmp_path):
    cert, key = self_signed(tmp_path)
    api = await make_api(tls_cert=str(cert), tls_key=str(key))
    assert api.url.startswith("https://127.0.0.1:")
    async with httpx.AsyncClient(base_url=api.url, verify=client_context(cert), timeout=30) as client:
        r = await client.get("/api/v1/health")
        assert r.status_code == 200, r.text
        assert r.headers["strict-transport-security"] == f"max-age={365 * 86400}"
        r = await client.post("/api/v1/auth/login", json={"email": "a@example.com", "password": "x" * 12})
        assert r.status_code == 401
        assert "strict-transport-security" in r.headers  # errors too
    plain = api.url.replace("https://", "http://")
    async with httpx.AsyncClient(base_url=plain, timeout=30) as client:
        with pytest.raises(httpx.HTTPError):
            await client.get("/api/v1/health")


async def test_without_tls_no_hsts_header_is_sent(make_api: MakeApi):
    api = await make_api()
    r = await api.client.get("/api/v1/health")
    assert r.status_code == 200
    assert "strict-transport-security" not in r.headers


async def test_a_certificate_from_someone_else_is_not_trusted_by_a_checking_client(make_api: MakeApi,
                                                                                    tmp_path):
    cert, key = self_signed(tmp_path)
    other, _ = self_signed(tmp_path, "other")
    api = await make_api(tls_cert=str(cert), tls_key=str(key))
    async with httpx.AsyncClient(base_url=api.url, verify=client_context(other), timeout=30) as client:
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            await client.get("/api/v1/health")


async def test_a_key_that_does_not_match_the_certificate_stops_the_start_and_names_the_files(
        make_api: MakeApi, tmp_path):
    cert, _ = self_signed(tmp_path)
    _, other_key = self_signed(tmp_path, "other")
    expected = re.escape(f"cannot use the TLS certificate {cert} with the key {other_key}")
    with pytest.raises(RuntimeError, match=expected):
        await make_api(tls_cert=str(cert), tls_key=str(other_key))


def test_tls_needs_both_files_and_they_must_exist(tmp_path):
    cert, _key = self_signed(tmp_path)
    with pytest.raises(ValueError, match="the certificate is set but not the key"):
        ApiSettings(tls_cert=str(cert))
    with pytest.raises(ValueError, match="the key is set but not the certificate"):
        ApiSettings(tls_key=str(cert))
    with pytest.raises(ValueError, match=r"TLS key file .*missing\.key does not exist"):
        ApiSettings(tls_cert=str(cert), tls_key=str(tmp_path / "missing.key"))


def test_openbms_run_with_tls_files_serves_https(tmp_path: Path):
    cert, key = self_signed(tmp_path)
    site = tmp_path / "site"
    site.mkdir()
    (site / "site.yaml").write_text(FAST_SITE)
    proc = subprocess.Popen(
        [sys.executable, "-m", "openbms.cli", "run", "-d", str(site), "--port", "0",
         "--status-every", "0.5", "--tls-cert", str(cert), "--tls-key", str(key)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env={**os.environ, "COLUMNS": "200"})
    assert proc.stdout is not None
    lines: list[str] = []
    health = None
    try:
        for line in proc.stdout:
            lines.append(line)
            m = re.match(r"Dashboard: (\S+)/ ", line)
            if m:
                assert m.group(1).startswith("https://127.0.0.1:"), line
                health = httpx.get(f"{m.group(1)}/api/v1/health", verify=client_context(cert), timeout=30)
                break
        proc.send_signal(signal.SIGTERM)
        rest, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
    output = "".join(lines) + rest
    assert health is not None, output
    assert health.status_code == 200, health.text
    assert health.headers["strict-transport-security"].startswith("max-age=")
    assert proc.returncode == 0, output


def test_openbms_run_with_a_certificate_and_no_key_says_so_and_starts_nothing(tmp_path: Path):
    cert, _key = self_signed(tmp_path)
    (tmp_path / "site.yaml").write_text(FAST_SITE)
    done = subprocess.run(
        [sys.executable, "-m", "openbms.cli", "run", "-d", str(tmp_path), "--port", "0",
         "--tls-cert", str(cert)],
        capture_output=True, text=True, timeout=120, env={**os.environ, "COLUMNS": "200"})
    assert done.returncode == 1, done.stdout + done.stderr
    assert "TLS needs a certificate and a key" in done.stderr
    assert not (tmp_path / "data").exists()  # nothing started
