"""Helpers for the portal's browser tests: a customer's session in the browser, a real token over HTTP."""

from urllib.parse import urlparse

import requests
from django.test import Client

from accounts.services import api_client_create


def log_in(page, live_server, user) -> None:
    """The session Django's login creates (Client.force_login runs django.contrib.auth.login), as a cookie
    in the browser context: the pages do not depend on the login pages."""
    client = Client()
    client.force_login(user)
    cookie = client.cookies["sessionid"]
    page.context.add_cookies([{"name": "sessionid", "value": cookie.value, "url": live_server.url}])


def token_for(live_server, user, *, scope: str = "read predict") -> str:
    """A client-credentials application owned by `user` (an API key) and an access token from /o/token/."""
    credentials = api_client_create(username=user.username, application_name=f"{user.username} key")
    response = requests.post(
        f"{live_server.url}/o/token/",
        data={"grant_type": "client_credentials", "scope": scope},
        auth=(credentials.client_id, credentials.client_secret),
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def predict(live_server, token: str, features: dict, model: str = "iris") -> dict:
    response = requests.post(
        f"{live_server.url}/api/v1/models/{model}/predict",
        json={"features": features},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert response.status_code == 201, response.text
    return response.json()


def block_the_internet(context, live_server) -> list[str]:
    """Aborts every request not to the live server; returns the list of URLs refused (to assert it stays empty)."""
    host = urlparse(live_server.url).hostname
    refused: list[str] = []

    def route(route):
        if urlparse(route.request.url).hostname in (host, "localhost", "127.0.0.1"):
            route.continue_()
        else:
            refused.append(route.request.url)
            route.abort()

    context.route("**/*", route)
    return refused
