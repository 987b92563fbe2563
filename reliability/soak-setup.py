#!/usr/bin/env python3
"""Setup of the soak (soak.sh): what bench/reference's soak-load needs, through the admin API.

  soak-setup.py --url U --out-prefix P --chains N --users N [--login-session-s S]

Creates an application; its main client (defaults) for client credentials, journey invokes and
refresh chains; a second client for password logins whose sessions and refresh tokens last
--login-session-s (so the purges have something to delete during the run); N users with a
password; the seed journey (examples/journeys/validate-transaction.yaml); and, from one login
of the main client, 2 x N refresh families (session authenticate): P-max.json gets the first
N (the maximum's run), P-soak.json the next N (the soak's run), so each run starts on unused
chains. The admin client comes from TESSERA_ADMIN_CLIENT_ID / TESSERA_ADMIN_CLIENT_SECRET.
"""

import argparse
import json
import os
import sys
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from driver import (JOURNEY_FILE, JOURNEY_ID, PASSWORD, Http, admin_token,  # noqa: E402
                    client_token, journey_body, log, must)


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--url", required=True)
    p.add_argument("--out-prefix", required=True)
    p.add_argument("--chains", type=int, default=64)
    p.add_argument("--users", type=int, default=256)
    p.add_argument("--login-session-s", type=int, default=120)
    a = p.parse_args()

    h = Http(a.url)
    auth = {"Authorization": f"Bearer {admin_token(h)}"}
    app = must(*h.request("POST", "/cis/v1/applications", {"name": "soak"}, auth)[::2],
               "create application")
    main_client = must(*h.request("POST", f"/cis/v1/applications/{app['app_id']}/clients",
                                  {"name": "soak-client"}, auth)[::2], "create client")
    login_client = must(*h.request(
        "POST", f"/cis/v1/applications/{app['app_id']}/clients",
        {"name": "soak-login", "session_expiration": a.login_session_s,
         "refresh_token_ttl": a.login_session_s}, auth)[::2], "create login client")
    with open(JOURNEY_FILE, "rb") as f:
        st, _, b = h.request("PUT", f"/ido/api/v2/journeys/{JOURNEY_ID}", f.read(),
                             {**auth, "Content-Type": "application/yaml"})
    must(st, b, "upload journey", ok=(200, 201))

    cid, sec = main_client["client_id"], main_client["client_secret"]
    cauth = {"Authorization": f"Bearer {client_token(h, cid, sec)}"}
    users = []
    for i in range(a.users):
        name = f"soak-user-{i}"
        must(*h.request("POST", "/cis/v1/users",
                        {"username": name, "credentials": {"password": PASSWORD}}, cauth)[::2],
             "create user")
        users.append(name)
    login = must(*h.request("POST", "/cis/v1/auth/password/authenticate",
                            {"username": users[0], "password": PASSWORD}, cauth)[::2], "login")
    tokens = [login["refresh_token"]]
    while len(tokens) < 2 * a.chains:
        r = must(*h.request("POST", "/cis/v1/auth/session/authenticate",
                            {"session_id": login["session_id"]}, cauth)[::2], "session auth")
        tokens.append(r["refresh_token"])
    common = {
        "client_id": cid, "client_secret": sec,
        "login_client_id": login_client["client_id"],
        "login_client_secret": login_client["client_secret"],
        "users": users, "password": PASSWORD,
        "journey_path": f"/ido/api/v2/invoke-api-journey/{JOURNEY_ID}?clientId="
                        + urllib.parse.quote(cid, safe=""),
        "journey_body": journey_body(),
    }
    for name, chains in (("max", tokens[:a.chains]), ("soak", tokens[a.chains:])):
        with open(f"{a.out_prefix}-{name}.json", "w") as f:
            json.dump({**common, "refresh_tokens": chains}, f)
    log(f"soak setup: app {app['app_id']}, {len(users)} users, {len(tokens)} refresh chains, "
        f"login client sessions {a.login_session_s} s")


if __name__ == "__main__":
    main()
