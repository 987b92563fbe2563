#!/usr/bin/env python3
"""A minimal CIBA `login_uri` page (step 1 of the "Authenticate for customer service" guide).

The auth link opens GET /ciba/login?auth_req_id=...&binding_message=...; the page shows the
binding message and asks for the user's password. On submit it logs the user in with
Tessera's backend password API (a client token with the `auth` permission), then approves or
denies the request with that user's access token at /cis/auth/backchannel/complete.

    TESSERA=http://127.0.0.1:8080 CLIENT_ID=... CLIENT_SECRET=... python3 examples/ciba_login.py

Standard library only; for local demos, not production (no TLS, no CSRF protection).
"""
import html
import json
import os
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, HTTPServer

TESSERA = os.environ.get("TESSERA", "http://127.0.0.1:8080")
CLIENT_ID, CLIENT_SECRET = os.environ["CLIENT_ID"], os.environ["CLIENT_SECRET"]


def call(path, body, token=None, form=False):
    data = urllib.parse.urlencode(body).encode() if form else json.dumps(body).encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded" if form else "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(TESSERA + path, data=data, headers=headers)
    try:
        with urllib.request.urlopen(req) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as e:
        return e.code, json.load(e)


class Page(BaseHTTPRequestHandler):
    def do_GET(self):
        q = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query)
        req_id = html.escape(q.get("auth_req_id", [""])[0])
        message = html.escape(q.get("binding_message", [""])[0])
        self.reply(200, f"""<form method=post><p>Request: <b>{message}</b></p>
            <input type=hidden name=auth_req_id value="{req_id}">
            <input name=username placeholder=username> <input name=password type=password>
            <button name=approved value=true>Approve</button>
            <button name=approved value=false>Deny</button></form>""")

    def do_POST(self):
        length = int(self.headers.get("Content-Length", 0))
        f = {k: v[0] for k, v in urllib.parse.parse_qs(self.rfile.read(length).decode()).items()}
        _, client = call("/oidc/token", {"grant_type": "client_credentials",
                                         "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}, form=True)
        status, login = call("/cis/v1/auth/password/authenticate",
                             {"username": f.get("username", ""), "password": f.get("password", "")},
                             client["access_token"])
        if status != 200:
            return self.reply(401, f"Login failed: {html.escape(login.get('message', ''))}")
        status, done = call("/cis/auth/backchannel/complete",
                            {"auth_req_id": f.get("auth_req_id", ""), "approved": f.get("approved") == "true"},
                            login["access_token"])
        self.reply(status, html.escape(json.dumps(done)))

    def reply(self, status, body):
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.end_headers()
        self.wfile.write(f"<!doctype html><title>Confirm</title>{body}".encode())


if __name__ == "__main__":
    HTTPServer(("127.0.0.1", int(os.environ.get("PORT", "8000"))), Page).serve_forever()
