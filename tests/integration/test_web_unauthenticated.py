"""Every staff page and API route refuses a request without a session or token: the routes are
enumerated from the app itself (app.routes, through included routers), so a new page cannot be
added unguarded."""

from __future__ import annotations

import re

from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient

# Reachable without signing in, on purpose: the sign-in form, and the OpenAPI description.
OPEN_PATHS = {
    ("/login", "GET"),
    ("/login", "POST"),
    ("/logout", "POST"),
    ("/api/openapi.json", "GET"),
    # The icon browsers ask for on every page, the sign-in page included.
    ("/favicon.ico", "GET"),
    # Images of email previews: the sandboxed preview frames send no session cookie; only
    # addresses signed by the app are fetched.
    ("/preview-image", "GET"),
}
# Clients and SendGrid reach these with signed tokens or signatures instead of a session.
PUBLIC_MODULES = ("pipeline.web.public", "pipeline.web.webhooks")


def _guarded_routes(app) -> list[tuple[str, str]]:
    routes = []
    for route in iter_route_contexts(app.routes):
        if not route.methods or route.endpoint is None:
            continue  # mounts (static files)
        if route.endpoint.__module__.startswith(PUBLIC_MODULES):
            continue
        for method in sorted(route.methods - {"HEAD"}):
            if (route.path, method) not in OPEN_PATHS:
                routes.append((route.path, method))
    return routes


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)


def test_every_staff_page_and_api_route_refuses_an_anonymous_request(web_app):
    routes = _guarded_routes(web_app)
    assert ("/users", "GET") in routes
    refused = {}
    with TestClient(web_app, base_url="http://127.0.0.1:8000") as client:
        for path, method in routes:
            response = client.request(method, _concrete(path), follow_redirects=False)
            refused[(path, method)] = response.status_code
            if path.startswith("/api"):
                assert response.status_code == 401, (path, method, response.text)
                assert response.headers["www-authenticate"] == "Bearer"
            else:
                assert response.status_code == 303, (path, method, response.text)
                assert response.headers["location"].startswith("/login?next=")
    assert len(refused) == len(routes)


def test_a_bad_api_token_is_refused(web_app):
    api_routes = [route for route in _guarded_routes(web_app) if route[0].startswith("/api")]
    assert ("/api/campaigns", "GET") in api_routes
    with TestClient(web_app, base_url="http://127.0.0.1:8000") as client:
        for path, method in api_routes:
            response = client.request(
                method, _concrete(path), headers={"Authorization": "Bearer cm_not-a-token"}
            )
            assert response.status_code == 401, (path, method)
