"""Request bodies on kept-alive HTTP connections: every endpoint consumes (or refuses, closing the
connection) the whole body it was sent, so the next request on the same connection is read from
its own first byte. A body left unread used to be parsed as the start of the next request line
(the plugin's Cancel showed "HTTP 501: Unsupported method ('{}GET')")."""
from __future__ import annotations

import http.client
import json

JOB = {"mode": "generate", "bars": 1, "settings": {"seed": 1}}


def send(conn: http.client.HTTPConnection, method: str, path: str, body: bytes | None) -> tuple[int, dict, bool]:
    headers = {"Content-Type": "application/json"}
    conn.request(method, path, body=body, headers=headers)
    response = conn.getresponse()
    data = response.read()
    return response.status, json.loads(data) if data else {}, response.will_close


def test_every_endpoint_with_a_body_then_a_get_on_one_connection(daemon):
    host, port = daemon.http.server_address[:2]
    conn = http.client.HTTPConnection(host, port, timeout=30)
    status, job, _ = send(conn, "POST", "/jobs", json.dumps(JOB).encode())
    assert status == 202
    first_socket = conn.sock
    body = b'{"any": "body", "padding": "' + b"x" * 300 + b'"}'
    requests = [
        ("GET", "/health", body, 200),
        ("GET", "/capabilities", body, 200),
        ("GET", "/settings", body, 200),
        ("POST", "/settings", b"{}", 200),
        ("POST", "/settings", b'{"temperature": 99}', 400),
        ("POST", "/jobs", json.dumps(JOB).encode(), 202),
        ("POST", "/jobs", b"{not json", 400),
        ("POST", "/jobs", b'{"mode": "nonsense"}', 400),
        ("GET", f"/jobs/{job['id']}", body, 200),
        ("POST", f"/jobs/{job['id']}/cancel", b"{}", 200),          # the plugin's Cancel sends "{}"
        ("POST", f"/jobs/{job['id']}/cancel", body, 200),
        ("GET", f"/jobs/{job['id']}/result", body, (200, 409)),      # finished or cancelled first
        ("GET", "/jobs/no-such-job", body, 404),
        ("POST", "/jobs/no-such-job/cancel", b"{}", 404),
        ("GET", "/no/such/endpoint", body, 404),
        ("PUT", "/health", body, 405),
        ("DELETE", "/jobs", body, 405),
        ("OPTIONS", "/jobs", body, 405),
        ("POST", "/health", b"{}", 405),
    ]
    for method, path, payload, expected in requests:
        status, answer, closing = send(conn, method, path, payload)
        assert status in (expected if isinstance(expected, tuple) else (expected,)), (method, path, answer)
        assert not closing, f"{method} {path} closed the connection"
        status, health, _ = send(conn, "GET", "/health", None)
        assert status == 200 and health["ok"] is True, f"after {method} {path}: {status} {health}"
        assert conn.sock is first_socket, f"after {method} {path} the connection was not kept alive"
    conn.close()


def test_a_body_that_cannot_be_read_whole_is_refused_and_the_connection_closed(daemon):
    host, port = daemon.http.server_address[:2]
    conn = http.client.HTTPConnection(host, port, timeout=30)
    conn.putrequest("GET", "/health")
    conn.putheader("Content-Length", "many")
    conn.endheaders()
    response = conn.getresponse()
    assert response.status == 400 and "Content-Length" in json.loads(response.read())["error"]
    assert response.will_close
    conn.close()
    conn = http.client.HTTPConnection(host, port, timeout=30)
    conn.putrequest("POST", "/settings")
    conn.putheader("Content-Length", str(10**9))
    conn.endheaders()
    response = conn.getresponse()
    assert response.status == 413 and response.will_close
    conn.close()
