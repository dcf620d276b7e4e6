"""Article and feed fetching refuses internal addresses (finding 11): after DNS resolution,
on every redirect hop, from `content parse`, `content import` and the feed poller alike, unless
`[feeds] allow_private = true`."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline.cli import main
from pipeline.content import addresses
from pipeline.content.addresses import public_address
from pipeline.errors import ContentError

FEED = (Path(__file__).resolve().parents[1] / "fixtures/content/feeds/clinic-blog.rss").read_bytes()


class _Server:
    """A feed server on `host` that records the paths asked for; /away redirects to `target`."""

    def __init__(self, host: str, target: str = "") -> None:
        self.requests: list[str] = []
        recorded = self.requests

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                recorded.append(self.path)
                if self.path == "/away":
                    self.send_response(302)
                    self.send_header("Location", target)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/rss+xml")
                self.send_header("Content-Length", str(len(FEED)))
                self.end_headers()
                self.wfile.write(FEED)

            def log_message(self, *args) -> None:
                """Quiet."""

        self.server = ThreadingHTTPServer((host, 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture
def internal() -> Iterator[_Server]:
    server = _Server("127.0.0.1")
    yield server
    server.stop()


@pytest.fixture
def run(workspace_db: Path):
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(main, ["--workspace", str(workspace_db), *args])

    assert invoke("db", "upgrade").exit_code == 0
    return invoke


@pytest.mark.timeout(30)
@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "0x7f000001", "2130706433"])
def test_loopback_in_any_spelling_is_refused_before_connecting(run, internal, host):
    for command in ("parse", "import"):
        result = run("content", command, f"http://{host}:{internal.port}/feed.rss")
        assert result.exit_code == 1, result.output
        assert "refused to fetch" in result.output and "allow_private = true" in result.output
        assert len(result.output.strip().splitlines()) == 1
    assert internal.requests == []


@pytest.mark.timeout(30)
def test_the_metadata_address_is_refused(run):
    result = run("content", "parse", "http://169.254.169.254/latest/meta-data/")
    assert result.exit_code == 1
    assert "refused to fetch from 169.254.169.254 (169.254.169.254)" in result.output


@pytest.mark.timeout(30)
def test_allow_private_lets_the_clinics_own_network_through(run, workspace_db, internal):
    config = workspace_db / "clinic.toml"
    config.write_text(config.read_text() + "\n[feeds]\nallow_private = true\n")
    result = run("content", "parse", f"http://localhost:{internal.port}/feed.rss")
    assert result.exit_code == 0, result.output
    assert internal.requests == ["/feed.rss"]


@pytest.fixture
def outside(internal, monkeypatch) -> Iterator[_Server]:
    """A server standing for one on the internet: on 127.0.0.2, which the address rule is told
    to treat as public; it redirects /away to the internal server."""
    real_is_public = addresses.is_public
    monkeypatch.setattr(
        addresses, "is_public", lambda address: address == "127.0.0.2" or real_is_public(address)
    )
    server = _Server("127.0.0.2", target=f"http://127.0.0.1:{internal.port}/secret")
    yield server
    server.stop()


@pytest.mark.timeout(30)
def test_a_redirect_to_an_internal_address_is_refused_at_that_hop(run, outside, internal):
    fetched = run("content", "parse", f"http://127.0.0.2:{outside.port}/feed.rss")
    assert fetched.exit_code == 0, fetched.output
    redirected = run("content", "parse", f"http://127.0.0.2:{outside.port}/away")
    assert redirected.exit_code == 1
    assert "refused to fetch from 127.0.0.1" in redirected.output
    assert outside.requests == ["/feed.rss", "/away"]
    assert internal.requests == []


@pytest.mark.timeout(60)
def test_the_feed_poller_refuses_internal_feeds(workspace_db, internal, engine, caplog):
    from pipeline.config import load_settings
    from pipeline.worker.jobs import poll_feeds

    config = workspace_db / "clinic.toml"
    config.write_text(
        config.read_text() + f'\n[feeds]\nurls = ["http://localhost:{internal.port}/f.rss"]\n'
    )
    outcome = poll_feeds(engine, load_settings(workspace_db))
    assert outcome.startswith("feeds polled: 0 new")
    assert "not imported: refused to fetch from localhost (127.0.0.1)" in caplog.text
    assert internal.requests == []


@pytest.mark.parametrize("host", ["localhost", "0x7f000001", "2130706433", "::1"])
def test_public_address_resolves_before_judging(host):
    with pytest.raises(ContentError, match="refused to fetch"):
        public_address(host, 80)
