"""Every HTML page sends a Content-Security-Policy and loads script only from this origin (no CDN).

GraphiQL and Swagger UI used to load their bundles from a CDN (swagger-ui-dist@latest without SRI),
so offline both pages were blank, and no page sent a CSP. Now the bundles are our own static files
(drf-spectacular-sidecar; GraphiQL vendored under mlapi/static/mlapi/vendor/), every page sends a
policy whose script-src allows only 'self' (and a per-request nonce), and no page has an inline script
or inline event handler that policy would block.
"""

import base64
import hashlib
import re
from datetime import UTC, date, datetime
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.contrib.staticfiles import finders
from graphene_django.views import GraphQLView

from billing.models import PricingTier
from billing.services.invoices import invoice_finalize, invoice_generate

ROOT = Path(__file__).resolve().parents[2]
EXECUTABLE_SCRIPT_TYPES = {"", "text/javascript", "application/javascript", "module"}
VENDORED = {  # static path -> graphene-django's pinned SRI for the same file on its CDN
    "mlapi/vendor/graphiql-2.4.7/graphiql.min.js": GraphQLView.graphiql_sri,
    "mlapi/vendor/graphiql-2.4.7/graphiql.min.css": GraphQLView.graphiql_css_sri,
    "mlapi/vendor/react-17.0.2/react.production.min.js": GraphQLView.react_sri,
    "mlapi/vendor/react-dom-17.0.2/react-dom.production.min.js": GraphQLView.react_dom_sri,
}


class _Page(HTMLParser):
    """What a browser would fetch or run from one HTML document."""

    def __init__(self):
        super().__init__()
        self.external = []  # (tag, url, attributes) of scripts and stylesheets
        self.inline_scripts = []  # (type, nonce, text) of <script> without src
        self.event_handlers = []  # on*="..." attributes
        self.data_blocks = {}  # id -> text of non-executable <script type=...>
        self._open_script = None

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        self.event_handlers += [f"{tag} {name}" for name, _ in attrs if name.startswith("on")]
        if tag == "script" and attributes.get("src"):
            self.external.append(("script", attributes["src"], attributes))
        elif tag == "script":
            self._open_script = (attributes.get("type", "").lower(), attributes.get("nonce"), attributes.get("id"), [])
        elif tag == "link" and "stylesheet" in (attributes.get("rel") or ""):
            self.external.append(("link", attributes["href"], attributes))

    def handle_data(self, data):
        if self._open_script is not None:
            self._open_script[3].append(data)

    def handle_endtag(self, tag):
        if tag == "script" and self._open_script is not None:
            kind, nonce, element_id, parts = self._open_script
            text = "".join(parts)
            if kind in EXECUTABLE_SCRIPT_TYPES:
                self.inline_scripts.append((kind, nonce, text))
            elif element_id:
                self.data_blocks[element_id] = text
            self._open_script = None


def _policy(response) -> dict[str, list[str]]:
    header = response.headers.get("Content-Security-Policy")
    assert header, f"no Content-Security-Policy on {response.request['PATH_INFO']}"
    directives = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            directives[words[0]] = words[1:]
    return directives


def _check_page(response) -> _Page:
    """The policy is strict for script, and the page needs nothing it forbids."""
    assert response.status_code == 200, response.status_code
    assert response["Content-Type"].startswith("text/html")
    policy = _policy(response)
    script_src = policy["script-src"]
    assert [source for source in script_src if not source.startswith("'nonce-")] == ["'self'"], script_src
    assert policy["object-src"] == ["'none'"] and policy["base-uri"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["default-src"] == ["'self'"]
    page = _Page()
    page.feed(response.content.decode())
    for tag, url, _ in page.external:
        parts = urlsplit(url)
        assert not parts.scheme and not parts.netloc, f"{tag} from another host: {url}"
        assert url.startswith("/"), url
    assert page.event_handlers == [], page.event_handlers
    nonces = {source[len("'nonce-") : -1] for source in script_src if source.startswith("'nonce-")}
    for _kind, nonce, text in page.inline_scripts:
        assert nonce in nonces, f"inline script the policy blocks: {text[:80]!r}"
    return page


def _static_files_exist(page: _Page) -> None:
    for _, url, _ in page.external:
        path = urlsplit(url).path
        if path.startswith("/static/"):
            assert finders.find(path[len("/static/") :]), f"missing static file {path}"


# ---------------------------------------------------------------- GraphiQL


def test_graphiql_loads_only_our_own_pinned_bundle(client, db):
    # when
    response = client.get("/graphql/", HTTP_ACCEPT="text/html")
    # then
    page = _check_page(response)
    _static_files_exist(page)
    scripts = [url for tag, url, _ in page.external if tag == "script"]
    assert [Path(urlsplit(url).path).name for url in scripts] == [
        "react.production.min.js",
        "react-dom.production.min.js",
        "graphiql.min.js",
        "graphiql-init.js",
    ]
    assert page.inline_scripts == []
    assert b"cdn." not in response.content and b"https://" not in response.content


def test_vendored_files_match_their_pinned_integrity():
    # given: the page's integrity attributes
    template = (ROOT / "templates" / "graphene" / "graphiql.html").read_text()
    for static_path, upstream_sri in VENDORED.items():
        # when
        digest = base64.b64encode(hashlib.sha256(Path(finders.find(static_path)).read_bytes()).digest()).decode()
        # then: the file is byte-identical to the one graphene-django pins, and the page demands that hash
        assert f"sha256-{digest}" == upstream_sri, static_path
        assert re.search(rf"{re.escape(static_path)}' %}}\"\s+integrity=\"sha256-{re.escape(digest)}\"", template)
        assert Path(finders.find(static_path)).stat().st_size < 2 * 1024 * 1024


def test_graphiql_opens_with_a_working_example_and_the_bearer_header(client, db, iris_model, issue_token, staff_user):
    # given
    response = client.get("/graphql/", HTTP_ACCEPT="text/html")
    page = _check_page(response)
    example = page.data_blocks["graphiql-example-query"]
    # then: the headers editor starts with the place of the token
    assert 'data-default-headers=\'{"Authorization": "Bearer &lt;token&gt;"}\'' in response.content.decode()
    # and both example operations run as they are, with a real token
    token = issue_token(staff_user)
    for operation in ("DemoModels", "PredictIris"):
        result = client.post(
            "/graphql/",
            {"query": example, "operationName": operation},
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {token}",
        ).json()
        assert "errors" not in result, result
        if operation == "DemoModels":
            assert [edge["node"]["name"] for edge in result["data"]["models"]["edges"]] == ["iris"]
        else:
            payload = result["data"]["createPrediction"]
            assert payload["errors"] == [] and payload["prediction"]["output"] is not None


# ---------------------------------------------------------------- Swagger UI


def test_swagger_ui_comes_from_the_sidecar_with_its_script_from_this_view(client, db):
    # when
    response = client.get("/api/docs/")
    # then
    page = _check_page(response)
    _static_files_exist(page)
    scripts = [url for tag, url, _ in page.external if tag == "script"]
    assert [Path(urlsplit(url).path).name for url in scripts[:2]] == [
        "swagger-ui-bundle.js",
        "swagger-ui-standalone-preset.js",
    ]
    assert all("/static/drf_spectacular_sidecar/" in url for url in scripts[:2])
    assert page.inline_scripts == []
    assert b"<style" not in response.content
    # and the start-up script is this view's own, as JavaScript
    init = client.get(scripts[2])
    assert init.status_code == 200 and init["Content-Type"].startswith("application/javascript")
    assert b"SwaggerUIBundle" in init.content


# ---------------------------------------------------------------- admin and the invoice page


def test_admin_login_sends_the_policy(client, db):
    _static_files_exist(_check_page(client.get("/admin/login/")))


@pytest.mark.parametrize(
    "path",
    [
        "/admin/",
        "/admin/predictions/registeredmodel/",
        "/admin/predictions/registeredmodel/add/",
        "/admin/billing/invoice/",
    ],
)
def test_admin_pages_send_the_policy_and_need_no_inline_script(admin_client, path):
    _static_files_exist(_check_page(admin_client.get(path)))


def test_model_upload_page_warns_that_joblib_is_code(admin_client, iris_model):
    # when
    add = admin_client.get("/admin/predictions/registeredmodel/add/")
    change = admin_client.get(f"/admin/predictions/registeredmodel/{iris_model.pk}/change/")
    # then: the warning is on the upload form only
    assert add.status_code == 200 and change.status_code == 200
    assert b'id="artifact-code-warning"' in add.content and b"is code." in add.content
    assert b'id="artifact-code-warning"' not in change.content


def test_invoice_page_sends_the_policy_and_prints_without_an_inline_handler(client, make_user, record_usage):
    # given: a finalized invoice, its owner signed in
    owner = make_user("invoiced", tier=PricingTier.objects.get(name="pro"))
    record_usage(owner, at=datetime(2026, 10, 7, tzinfo=UTC), predictions=3)
    invoice, _ = invoice_generate(user=owner, period=date(2026, 10, 1))
    invoice = invoice_finalize(invoice=invoice)
    client.force_login(owner)
    # when
    response = client.get(f"/billing/invoices/{invoice.pk}/")
    # then
    page = _check_page(response)
    _static_files_exist(page)
    assert b"data-print" in response.content
    assert any(url.endswith("/print-button.js") for tag, url, _ in page.external)


def test_json_answers_carry_the_policy_too(client, db):
    assert "Content-Security-Policy" in client.get("/healthz").headers


def _directives(header: str) -> dict[str, set[str]]:
    return {part.split()[0]: set(part.split()[1:]) for part in header.split("; ")}


def test_the_policy_built_once_is_django_csps_own_and_follows_the_settings(client, settings):
    # given: django-csp's own middleware, for the reference
    from csp.middleware import CSPMiddleware as DjangoCsp
    from django.http import HttpResponse
    from django.test import RequestFactory

    def reference(path):
        request = RequestFactory().get(path)
        middleware = DjangoCsp(lambda r: HttpResponse())
        middleware.process_request(request)
        return middleware.process_response(request, HttpResponse())["Content-Security-Policy"]

    # when / then: an API answer (no nonce used) carries exactly the policy django-csp builds
    served = client.get("/healthz")["Content-Security-Policy"]
    assert _directives(served) == _directives(reference("/healthz"))
    # and: a change of the settings changes the header at once
    changed = {"DIRECTIVES": {**settings.CONTENT_SECURITY_POLICY["DIRECTIVES"], "img-src": ["'self'"]}}
    settings.CONTENT_SECURITY_POLICY = changed
    served = client.get("/healthz")["Content-Security-Policy"]
    assert _directives(served)["img-src"] == {"'self'"} and _directives(served) == _directives(reference("/healthz"))


def test_a_response_that_uses_the_nonce_gets_its_own_nonce_in_the_policy(rf):
    # given: a view with a nonce'd inline script, behind the project's CSP middleware
    from django.http import HttpResponse

    from mlapi.middleware import CSPMiddleware

    middleware = CSPMiddleware(lambda request: HttpResponse(f'<script nonce="{request.csp_nonce}"></script>'))
    # when: two responses
    responses = [middleware(rf.get("/page/")) for _ in range(2)]
    # then: each policy allows that response's own nonce, and only it
    nonces = []
    for response in responses:
        script_src = _directives(response["Content-Security-Policy"])["script-src"]
        (nonce,) = (value for value in script_src if value.startswith("'nonce-"))
        assert f'nonce="{nonce[7:-1]}"' in response.content.decode()
        nonces.append(nonce)
    assert nonces[0] != nonces[1]
