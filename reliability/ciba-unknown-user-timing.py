#!/usr/bin/env python3
"""Does the time of a CIBA `unknown_user_id` answer tell which kind of user was named?

Three hints that must look alike (issue 11, SPEC §6): a phone number nobody has, a disabled
user's verified phone number, and an active user's phone number that is not verified. Each gets
`unknown_user_id`; this measures how long each answer takes, interleaved in random order over
one keep-alive connection, and prints the distributions side by side with a permutation test
of the difference of medians.

Start Tessera with the CIBA limits raised (the same hint is sent thousands of times):

    TESSERA_RATE_LIMITS__BACKCHANNEL_PER_USER=100000000/60 \
    TESSERA_RATE_LIMITS__BACKCHANNEL_PER_CLIENT=100000000/60 \
    target/release/tessera serve --data-dir /tmp/ciba-timing &
    python3 reliability/ciba-unknown-user-timing.py --base http://127.0.0.1:8080 \
        --data-dir /tmp/ciba-timing --rounds 3000

Standard library only.
"""
import argparse
import http.client
import json
import random
import statistics
import time
import urllib.parse


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", default="http://127.0.0.1:8080")
    ap.add_argument("--data-dir", default="tessera-data")
    ap.add_argument("--rounds", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    url = urllib.parse.urlparse(args.base)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)

    def call(method, path, body=None, token=None, form=False):
        headers = {}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if body is not None:
            if form:
                body = urllib.parse.urlencode(body)
                headers["Content-Type"] = "application/x-www-form-urlencoded"
            else:
                body = json.dumps(body)
                headers["Content-Type"] = "application/json"
        conn.request(method, path, body=body, headers=headers)
        r = conn.getresponse()
        data = r.read()
        return r.status, (json.loads(data) if data else None)

    creds = json.load(open(f"{args.data_dir}/admin-credentials.json"))
    _, t = call("POST", "/oidc/token", {"grant_type": "client_credentials",
                                        "client_id": creds["client_id"],
                                        "client_secret": creds["client_secret"]}, form=True)
    admin = t["access_token"]
    _, app = call("POST", "/cis/v1/applications", {"app_name": "timing"}, admin)
    app = app["result"]
    _, client = call("POST", f"/cis/v1/applications/{app['app_id']}/clients",
                     {"name": "timing", "ciba_authorization": {
                         "enabled": True, "login_uri": "https://example.com/ciba"}}, admin)
    tag = rng.randrange(10**6, 10**7)
    disabled_phone, unverified_phone, unknown_phone = (
        f"+1415{tag}1", f"+1415{tag}2", f"+1415{tag}3")
    s, _ = call("POST", "/cis/v1/users", {"username": f"dis{tag}", "phone_number": disabled_phone,
                                          "phone_number_verified": True, "status": "Disabled"}, admin)
    assert s == 201, s
    s, _ = call("POST", "/cis/v1/users", {"username": f"unv{tag}", "phone_number": unverified_phone,
                                          "phone_number_verified": False}, admin)
    assert s == 201, s
    # Some other users, so that the lookups do not run on an empty table.
    for i in range(200):
        call("POST", "/cis/v1/users", {"username": f"other{tag}{i}",
                                       "phone_number": f"+1416{tag}{i:03d}",
                                       "phone_number_verified": True}, admin)

    cases = {"unknown": unknown_phone, "disabled": disabled_phone, "unverified": unverified_phone}
    form = {"client_id": client["client_id"], "client_secret": client["client_secret"],
            "scope": "openid"}
    times = {k: [] for k in cases}
    # Warm-up: connections, caches, the client record.
    for _ in range(100):
        for hint in cases.values():
            call("POST", "/oidc/backchannel", dict(form, login_hint=hint), form=True)
    order = [k for k in cases for _ in range(args.rounds)]
    rng.shuffle(order)
    for kind in order:
        start = time.perf_counter_ns()
        status, body = call("POST", "/oidc/backchannel", dict(form, login_hint=cases[kind]), form=True)
        elapsed = time.perf_counter_ns() - start
        if status != 400 or body.get("error") != "unknown_user_id":
            raise SystemExit(f"{kind}: expected 400 unknown_user_id, got {status} {body}")
        times[kind].append(elapsed / 1000)

    def q(xs, p):
        xs = sorted(xs)
        return xs[min(len(xs) - 1, int(p * len(xs)))]

    print(f"{args.rounds} requests per case, interleaved at random (seed {args.seed}); µs")
    print(f"{'case':<11} {'p10':>7} {'median':>7} {'mean':>7} {'p90':>7} {'p99':>7}")
    for k, xs in times.items():
        print(f"{k:<11} {q(xs, .10):7.0f} {statistics.median(xs):7.0f} "
              f"{statistics.fmean(xs):7.0f} {q(xs, .90):7.0f} {q(xs, .99):7.0f}")
    # Permutation test of the difference of medians against "unknown".
    base = times["unknown"]
    for k in ("disabled", "unverified"):
        other = times[k]
        observed = statistics.median(other) - statistics.median(base)
        pooled = base + other
        n = len(base)
        extreme = 0
        trials = 500
        for _ in range(trials):
            rng.shuffle(pooled)
            d = statistics.median(pooled[n:]) - statistics.median(pooled[:n])
            if abs(d) >= abs(observed):
                extreme += 1
        print(f"{k} − unknown: median {observed:+.1f} µs, permutation p = {extreme / trials:.3f}")


if __name__ == "__main__":
    main()
