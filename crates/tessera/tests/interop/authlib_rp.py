#!/usr/bin/env python3
"""A relying party built with authlib: the OpenID Connect authorization code flow with PKCE
against Tessera's hosted login, without a browser.

authlib's ``OAuth2Session`` (requests integration) builds the authorization request (PKCE
S256, state, nonce) and exchanges the code; ``requests`` plays the browser: it follows the
redirect to the hosted login page, reads the page's JSON configuration (``<script
type="application/json" id="tessera-page">``), drives the login journey over the IDO JSON API
exactly as the page's script does (start with the page's PKCE challenge, then one submit per
waiting step), and POSTs the completion form with the login cookie. The ID token is verified
against the JWKS with joserfc (the JOSE library authlib uses since authlib.jose was
deprecated) and its claims validated by authlib's ``CodeIDToken`` (iss, aud, exp, iat, nonce,
azp, at_hash, auth_time). Then userinfo.

Then a second authorization with ``prompt=none`` and the same cookie jar gets a code without a
login page (SSO). When the input names a ``post_logout_redirect_uri`` it goes on:
RP-initiated logout (id_token_hint, post_logout_redirect_uri, state) redirects back with the
state, and ``prompt=none`` afterwards is ``login_required``.

Input: a JSON object in the environment variable TESSERA_INTEROP (or the first argument):
``issuer``, ``client_id``, ``client_secret`` (null for a public client), ``redirect_uri``,
``username``, ``password``, optional ``post_logout_redirect_uri``.
Output: one JSON line on stdout; on failure ``authlib_rp.py: <reason>`` on stderr, exit 1.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
import warnings
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry

# Every HTTP call ends within this many seconds.
TIMEOUT = 15
# Redirects followed by hand, at most.
MAX_HOPS = 10
# Steps of the login journey answered, at most.
MAX_STEPS = 10
PAGE_CONFIG = re.compile(
    r'<script\s+type="application/json"\s+id="tessera-page"\s*>(.*?)</script>', re.S
)


class Failed(Exception):
    """A check that failed; its message is the reason printed."""


def check(condition: bool, message: str) -> None:
    if not condition:
        raise Failed(message)


def read_input() -> dict:
    text = os.environ.get("TESSERA_INTEROP") or (sys.argv[1] if len(sys.argv) > 1 else "")
    check(bool(text), "TESSERA_INTEROP (a JSON object) is not set")
    data = json.loads(text)
    for key in ("issuer", "client_id", "redirect_uri", "username", "password"):
        check(isinstance(data.get(key), str), f"the input lacks `{key}`")
    return data


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query, keep_blank_values=True).items()}


class Browser:
    """A cookie jar that follows redirects by hand, so every hop is seen (and the one to the
    client's redirect URI is never requested)."""

    def __init__(self, issuer: str):
        self.http = requests.Session()
        self.http.trust_env = False
        self.origin = "{0.scheme}://{0.netloc}".format(urlsplit(issuer))
        self.hops: list[str] = []

    def follow(self, url: str, stop_at: str) -> tuple[requests.Response | None, str]:
        """GETs `url` and follows redirects until one points at `stop_at` (returned without
        being requested: the answer is None) or a page answers (returned with its URL)."""
        for _ in range(MAX_HOPS):
            if url.startswith(stop_at):
                return None, url
            self.hops.append(urlsplit(url).path)
            r = self.http.get(url, allow_redirects=False, timeout=TIMEOUT)
            if r.status_code in (301, 302, 303, 307, 308):
                url = urljoin(url, r.headers["location"])
                continue
            return r, url
        raise Failed(f"more than {MAX_HOPS} redirects from {url}")

    def json_post(self, url: str, body: dict) -> dict:
        # A same-origin fetch from the page: the browser sends Origin with a POST.
        r = self.http.post(url, json=body, headers={"Origin": self.origin}, timeout=TIMEOUT)
        check(r.ok, f"POST {urlsplit(url).path} answered {r.status_code}: {r.text[:300]}")
        return r.json()

    def cookie_names(self) -> list[str]:
        return sorted({c.name for c in self.http.cookies})


class Forms(HTMLParser):
    """The forms of a page by id: their action and their inputs' names and values (what a
    browser would post: hidden inputs included, buttons not)."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.forms: dict[str, dict] = {}
        self._current: dict | None = None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self._current = {"action": a.get("action") or "", "method": a.get("method"), "fields": {}}
            self.forms[a.get("id") or f"form{len(self.forms)}"] = self._current
        elif tag == "input" and self._current is not None and a.get("name"):
            self._current["fields"][a["name"]] = a.get("value") or ""

    def handle_endtag(self, tag):
        if tag == "form":
            self._current = None


def page_config(html: str) -> dict:
    m = PAGE_CONFIG.search(html)
    check(m is not None, "the login page has no <script type=application/json id=tessera-page>")
    return json.loads(m.group(1))


def step_input(answer: dict, username: str, password: str) -> dict:
    """What the user types at a waiting step: a collect step's fields by name, else the
    password step's `{username, password}` (only the password when the step names the user)."""
    data = answer.get("data") or {}
    fields = data.get("fields") if isinstance(data, dict) else None
    if fields:
        values = {"username": username, "password": password}
        out = {}
        for f in fields:
            name = f.get("name")
            check(name in values, f"the login step asks for `{name}`, which this RP cannot fill")
            out[name] = values[name]
        return out
    if isinstance(data, dict) and data.get("username"):
        return {"password": password}
    return {"username": username, "password": password}


def hosted_login(
    browser: Browser, issuer: str, login_url: str, html: str, user: dict
) -> tuple[str, list]:
    """Runs the page's journey; the completion form's answer: the redirect to the client."""
    cfg = page_config(html)
    for key in ("clientId", "journeyId", "codeChallenge"):
        check(isinstance(cfg.get(key), str) and cfg[key], f"the page config lacks `{key}`: {cfg}")
    # The completion form the script fills and submits: its hidden `request` and `csrf`.
    complete = Forms(html).forms.get("tessera-complete")
    check(complete is not None, "the login page has no form#tessera-complete")
    for key in ("request", "csrf", "code"):
        check(key in complete["fields"], f"the completion form lacks `{key}`: {complete}")
    # The page's script passes the login hint on as a journey parameter.
    params = {"login_hint": cfg["loginHint"]} if cfg.get("loginHint") else {}
    answer = browser.json_post(
        f"{issuer}/ido/api/v2/journeys/{cfg['journeyId']}/start?{urlencode({'clientId': cfg['clientId']})}",
        {
            "additionalParams": params,
            "code_challenge": cfg["codeChallenge"],
            "code_challenge_method": "S256",
        },
    )
    steps = []
    for _ in range(MAX_STEPS):
        kind = answer.get("type")
        steps.append(answer.get("journey_step_id"))
        if kind != "client_input_required":
            break
        check(
            not answer.get("error_data"),
            f"step {answer.get('journey_step_id')} refused the input: {answer.get('error_data')}",
        )
        answer = browser.json_post(
            f"{issuer}/ido/api/v2/interactions/{answer['interaction_id']}/submit",
            {
                "option": "client_input",
                "data": step_input(answer, user["username"], user["password"]),
            },
        )
    check(
        answer.get("type") == "journey_success" and isinstance(answer.get("code"), str),
        f"the journey ended with {json.dumps(answer)[:400]}",
    )
    # The page's form POST (a browser sends Origin with it).
    check(
        urlsplit(urljoin(login_url, complete["action"])).path == "/oidc/login/complete",
        f"the completion form posts to {complete['action']}",
    )
    r = browser.http.post(
        urljoin(login_url, complete["action"]),
        data={**complete["fields"], "code": answer["code"]},
        headers={"Origin": browser.origin},
        allow_redirects=False,
        timeout=TIMEOUT,
    )
    check(
        r.status_code == 303 and "location" in r.headers,
        f"POST /oidc/login/complete answered {r.status_code}: {r.text[:300]}",
    )
    return urljoin(login_url, r.headers["location"]), steps


def validate_id_token(meta: dict, jwks: dict, client_id: str, nonce: str, token: dict) -> CodeIDToken:
    decoded = jwt.decode(
        token["id_token"],
        KeySet.import_key_set(jwks),
        registry=JWSRegistry(algorithms=meta.get("id_token_signing_alg_values_supported")),
    )
    claims = CodeIDToken(
        decoded.claims,
        decoded.header,
        {
            "iss": {"essential": True, "value": meta["issuer"]},
            "aud": {"essential": True, "value": client_id},
            "sub": {"essential": True},
            "auth_time": {"essential": True},
        },
        {"nonce": nonce, "client_id": client_id, "access_token": token["access_token"]},
    )
    claims.validate(leeway=5)
    return claims


def authorize(oauth: OAuth2Session, meta: dict, verifier: str, nonce: str, **extra) -> tuple[str, str]:
    return oauth.create_authorization_url(
        meta["authorization_endpoint"], code_verifier=verifier, nonce=nonce, **extra
    )


def main() -> dict:
    inp = read_input()
    issuer = inp["issuer"]
    client_id = inp["client_id"]
    secret = inp.get("client_secret")
    redirect_uri = inp["redirect_uri"]
    out: dict = {}

    meta = requests.get(f"{issuer}/.well-known/openid-configuration", timeout=TIMEOUT).json()
    check(meta.get("issuer") == issuer, f"discovered issuer {meta.get('issuer')}")
    check("S256" in meta.get("code_challenge_methods_supported", []), "S256 not supported")
    out["discovery"] = {
        k: meta.get(k)
        for k in (
            "issuer",
            "authorization_endpoint",
            "end_session_endpoint",
            "authorization_response_iss_parameter_supported",
        )
    }
    jwks = requests.get(meta["jwks_uri"], timeout=TIMEOUT).json()

    oauth = OAuth2Session(
        client_id,
        secret,
        scope="openid profile email",
        redirect_uri=redirect_uri,
        code_challenge_method="S256",
        token_endpoint_auth_method="client_secret_basic" if secret else "none",
    )
    browser = Browser(issuer)

    # 1. The code flow through the hosted login page.
    verifier, nonce = generate_token(48), generate_token(24)
    url, state = authorize(oauth, meta, verifier, nonce)
    page, page_url = browser.follow(url, redirect_uri)
    check(page is not None, f"no login page: redirected straight to {page_url}")
    check(page.status_code == 200, f"{urlsplit(page_url).path} answered {page.status_code}: {page.text[:300]}")
    out["login_page_path"] = urlsplit(page_url).path
    out["login_page_csp"] = page.headers.get("content-security-policy")
    out["cookies_before_login"] = browser.cookie_names()
    location, steps = hosted_login(browser, issuer, page_url, page.text, inp)
    out["journey_steps"] = steps
    out["cookies_after_login"] = browser.cookie_names()
    check(location.startswith(redirect_uri + "?"), f"the login completed to {location}")
    params = query_of(location)
    check(params.get("state") == state, f"state {params.get('state')} is not {state}")
    check(params.get("iss") == issuer, f"iss {params.get('iss')} is not {issuer} (RFC 9207)")
    out["callback_params"] = sorted(params)

    token = oauth.fetch_token(
        meta["token_endpoint"],
        authorization_response=location,
        state=state,
        code_verifier=verifier,
    )
    claims = validate_id_token(meta, jwks, client_id, nonce, token)
    userinfo = oauth.get(meta["userinfo_endpoint"], timeout=TIMEOUT)
    check(userinfo.ok, f"userinfo answered {userinfo.status_code}: {userinfo.text[:300]}")
    userinfo = userinfo.json()
    check(userinfo.get("sub") == claims["sub"], f"userinfo sub {userinfo.get('sub')}")
    out["claims"] = dict(claims)
    out["id_token_alg"] = claims.header["alg"]
    out["userinfo"] = userinfo
    out["token"] = {
        "token_type": token.get("token_type"),
        "scope": token.get("scope"),
        "has_refresh_token": "refresh_token" in token,
    }
    # A second exchange of the same code is refused.
    again = requests.post(
        meta["token_endpoint"],
        data={
            "grant_type": "authorization_code",
            "code": params["code"],
            "redirect_uri": redirect_uri,
            "code_verifier": verifier,
            "client_id": client_id,
            **({"client_secret": secret} if secret else {}),
        },
        timeout=TIMEOUT,
    )
    out["code_replay"] = {"status": again.status_code, "error": again.json().get("error")}

    # 2. SSO: prompt=none with the session cookie, no login page.
    browser.hops.clear()
    verifier2, nonce2 = generate_token(48), generate_token(24)
    url, state2 = authorize(oauth, meta, verifier2, nonce2, prompt="none")
    page, location = browser.follow(url, redirect_uri)
    check(page is None, f"SSO stopped at {location} ({page.status_code if page else ''})")
    params = query_of(location)
    check("code" in params, f"SSO answered {params}")
    check(params.get("state") == state2 and params.get("iss") == issuer, f"SSO redirect {params}")
    token2 = oauth.fetch_token(
        meta["token_endpoint"], authorization_response=location, state=state2, code_verifier=verifier2
    )
    claims2 = validate_id_token(meta, jwks, client_id, nonce2, token2)
    out["sso"] = {
        "hops": list(browser.hops),
        "sub": claims2["sub"],
        "sid": claims2.get("sid"),
        "auth_time": claims2.get("auth_time"),
    }

    logout_uri = inp.get("post_logout_redirect_uri")
    if not logout_uri:
        return out

    # 3. RP-initiated logout, then prompt=none finds no session.
    check(meta.get("end_session_endpoint"), "discovery has no end_session_endpoint")
    logout_state = generate_token(20)
    end = meta["end_session_endpoint"] + "?" + urlencode(
        {
            "id_token_hint": token2["id_token"],
            "post_logout_redirect_uri": logout_uri,
            "state": logout_state,
        }
    )
    page, location = browser.follow(end, logout_uri)
    confirmed = False
    if page is not None and page.status_code == 200 and "tessera-logout" in Forms(page.text).forms:
        # Tessera asks the user to confirm: the button posts the form.
        form = Forms(page.text).forms["tessera-logout"]
        r = browser.http.post(
            urljoin(location, form["action"]),
            data=form["fields"],
            headers={"Origin": browser.origin},
            allow_redirects=False,
            timeout=TIMEOUT,
        )
        check(r.is_redirect, f"the logout confirmation answered {r.status_code}: {r.text[:200]}")
        page, location = browser.follow(urljoin(location, r.headers["location"]), logout_uri)
        confirmed = True
    check(page is None, f"logout stopped at {location} ({page.status_code if page else ''}: {page.text[:200] if page else ''})")
    check(query_of(location).get("state") == logout_state, f"logout came back with {location}")
    out["logout"] = {
        "redirect": location.split("?")[0],
        "confirmed": confirmed,
        "cookies_after": browser.cookie_names(),
    }
    url, state3 = authorize(oauth, meta, generate_token(48), generate_token(24), prompt="none")
    page, location = browser.follow(url, redirect_uri)
    check(page is None, f"prompt=none after logout stopped at {location}")
    params = query_of(location)
    check(params.get("state") == state3, f"prompt=none after logout: {params}")
    out["after_logout"] = {"error": params.get("error"), "iss": params.get("iss")}
    return out


if __name__ == "__main__":
    warnings.simplefilter("ignore", DeprecationWarning)
    started = time.monotonic()
    try:
        result = main()
    except Failed as e:
        print(f"authlib_rp.py: {e}", file=sys.stderr)
        sys.exit(1)
    except Exception as e:  # noqa: BLE001 - every failure is reported the same way
        print(f"authlib_rp.py: {type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(1)
    result["elapsed_s"] = round(time.monotonic() - started, 3)
    print(json.dumps(result))
