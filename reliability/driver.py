#!/usr/bin/env python3
"""Load generator and checker for Tessera's reliability figures (crash safety, database outage,
full disk). Used by crash.sh, outage.sh and full-disk.sh; every subcommand reads and writes
one JSON state file that accumulates what Tessera acknowledged.

  driver.py setup     --url U --state S          app, client, journey, 32 seed refresh families
  driver.py load      --url U --state S ...      mixed write load; records every acknowledged write
  driver.py check-db  --state S (--sqlite F | --psql-url P) [--tag T]
                                                 acknowledged writes in the database (server down)
  driver.py check-api --url U --state S [--tag T]
                                                 acknowledged writes through the API (server up)
  driver.py summary   --state S                  totals over every iteration

The admin client's credentials come from TESSERA_ADMIN_CLIENT_ID / TESSERA_ADMIN_CLIENT_SECRET.

What counts as acknowledged: a 2xx answer the driver received. A request cut off by kill -9
(connection error) or answered 5xx is not acknowledged, whatever the database holds.
- users.create 201: the user must be readable by id afterwards.
- auth.password 200: its session must be live (userinfo with its access token answers 200)
  and its refresh token starts a family.
- refresh 200 (OAuth grant at /oidc/token or REST /cis/v1/auth/token/refresh, alternating):
  the new token becomes the family's latest acknowledged token. Afterwards the family is
  either at that token, or one generation further with that token as `previous_hash` (a
  rotation in flight at the kill committed without its answer arriving); in both cases
  presenting it must answer 200 (the second within tokens.refresh_reuse_window_s, which the
  scripts set to 60 s, as the retry of a lost answer). Anything else is a lost write.
- journey.invoke 200: a trace id. Traces are written asynchronously in batches and are NOT
  acknowledged by the invoke's answer (SPEC §7.5): they are counted, never treated as lost.
"""

import argparse
import base64
import hashlib
import http.client
import json
import os
import queue
import random
import socket
import subprocess
import sys
import threading
import time
import urllib.parse

PASSWORD = "reliability-password-1"
JOURNEY_ID = "validate-transaction"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
JOURNEY_FILE = os.path.join(ROOT, "examples", "journeys", "validate-transaction.yaml")
SEED_FAMILIES = 32


def log(msg):
    print(f"driver: {msg}", file=sys.stderr, flush=True)


def now():
    return time.time()


# ---------------------------------------------------------------------------------------------
# HTTP


class Http:
    """One keep-alive connection. request() answers (status, headers, body); status 0 means a
    connection error (refused, reset, timeout): the request's outcome is unknown."""

    def __init__(self, base, timeout=15.0):
        u = urllib.parse.urlsplit(base)
        self.host, self.port, self.timeout = u.hostname, u.port, timeout
        self.conn = None
        self.elapsed = 0.0  # seconds the last request took

    def close(self):
        if self.conn is not None:
            try:
                self.conn.close()
            except OSError:
                pass
            self.conn = None

    def request(self, method, path, body=None, headers=None):
        hdrs = dict(headers or {})
        data = None
        if isinstance(body, (dict, list)):
            data = json.dumps(body).encode()
            hdrs.setdefault("Content-Type", "application/json")
        elif isinstance(body, str):
            data = body.encode()
        elif isinstance(body, bytes):
            data = body
        t0 = time.monotonic()
        try:
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            self.conn.request(method, path, body=data, headers=hdrs)
            resp = self.conn.getresponse()
            payload = resp.read()
            rh = {k.lower(): v for k, v in resp.getheaders()}
            if rh.get("connection", "").lower() == "close":
                self.close()
            return resp.status, rh, payload
        except (OSError, http.client.HTTPException) as e:
            self.close()
            return 0, {"error": type(e).__name__}, b""
        finally:
            self.elapsed = time.monotonic() - t0


def form(fields):
    return urllib.parse.urlencode(fields)


def unwrap(value):
    """The object inside the hosted platform's `{"result": …}` envelope (users, applications)."""
    if isinstance(value, dict) and isinstance(value.get("result"), dict):
        return value["result"]
    return value


def must(status, body, what, ok=(200, 201)):
    if status not in ok:
        raise SystemExit(f"driver: {what} failed: HTTP {status}: {body[:300]!r}")
    return unwrap(json.loads(body)) if body else {}


def client_token(h, client_id, secret):
    st, _, b = h.request(
        "POST", "/oidc/token",
        form({"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}),
        {"Content-Type": "application/x-www-form-urlencoded"})
    return must(st, b, "client_credentials")["access_token"]


def admin_token(h):
    cid = os.environ.get("TESSERA_ADMIN_CLIENT_ID")
    sec = os.environ.get("TESSERA_ADMIN_CLIENT_SECRET")
    if not cid or not sec:
        raise SystemExit("driver: TESSERA_ADMIN_CLIENT_ID / TESSERA_ADMIN_CLIENT_SECRET not set")
    return client_token(h, cid, sec)


def journey_body():
    def b64(d):
        return base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()

    def tok(claims):
        return b64({"alg": "RS256", "typ": "JWT"}) + "." + b64(claims) + ".c2ln"

    exp = int(time.time()) + 7 * 86400
    return {"external_access_token": tok({"sub": "u1", "exp": exp}),
            "external_id_token": tok({"sub": "u1", "exp": exp, "amr": ["pwd", "mfa"]})}


def token_hash(token):
    return base64.urlsafe_b64encode(hashlib.sha256(token.encode()).digest()).rstrip(b"=").decode()


def family_of(token):
    family, generation, _ = token.split(".", 2)
    return family, int(generation)


# ---------------------------------------------------------------------------------------------
# State


def load_state(path):
    with open(path) as f:
        return json.load(f)


def save_state(path, state):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(state, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def cmd_setup(args):
    h = Http(args.url)
    admin = admin_token(h)
    auth = {"Authorization": f"Bearer {admin}"}
    app = must(*h.request("POST", "/cis/v1/applications", {"name": "reliability"}, auth)[::2],
               "create application")
    client = must(*h.request("POST", f"/cis/v1/applications/{app['app_id']}/clients",
                             {"name": "reliability-client"}, auth)[::2], "create client")
    with open(JOURNEY_FILE, "rb") as f:
        st, _, b = h.request("PUT", f"/ido/api/v2/journeys/{JOURNEY_ID}", f.read(),
                             {**auth, "Content-Type": "application/yaml"})
    must(st, b, "upload journey", ok=(200, 201))
    state = {"url": args.url, "app_id": app["app_id"],
             "client_id": client["client_id"], "client_secret": client["client_secret"],
             "users": {}, "sessions": {}, "families": {}, "traces": {}, "iterations": []}
    ct = client_token(h, state["client_id"], state["client_secret"])
    cauth = {"Authorization": f"Bearer {ct}"}
    # A seed user and SEED_FAMILIES refresh families from its session, so the refresh load has
    # chains from the first second on.
    user = must(*h.request("POST", "/cis/v1/users",
                           {"username": "seed-user", "credentials": {"password": PASSWORD}},
                           cauth)[::2], "create seed user")
    state["users"][user["user_id"]] = "seed-user"
    login = must(*h.request("POST", "/cis/v1/auth/password/authenticate",
                            {"username": "seed-user", "password": PASSWORD}, cauth)[::2],
                 "seed login")
    state["sessions"][login["session_id"]] = {"user_id": user["user_id"],
                                              "access_token": login["access_token"]}
    fam, _ = family_of(login["refresh_token"])
    state["families"][fam] = {"token": login["refresh_token"]}
    for _ in range(SEED_FAMILIES - 1):
        r = must(*h.request("POST", "/cis/v1/auth/session/authenticate",
                            {"session_id": login["session_id"]}, cauth)[::2], "seed session auth")
        fam, _ = family_of(r["refresh_token"])
        state["families"][fam] = {"token": r["refresh_token"]}
    save_state(args.state, state)
    log(f"setup: app {state['app_id']}, client {state['client_id']}, "
        f"{len(state['families'])} seed families")


# ---------------------------------------------------------------------------------------------
# Load


class Recorder:
    """Status counts per (phase, endpoint, status) and every acknowledged write."""

    def __init__(self, phase_file=None):
        self.lock = threading.Lock()
        self.counts = {}
        self.latency = {}  # (phase, endpoint, status) -> [sum, max]
        self.server_errors = []  # 5xx other than 503 (and 500 journey_failed is listed too)
        self.connection_errors = []  # requests answered with no HTTP response at all
        self.users = {}
        self.sessions = {}
        self.family_tokens = {}  # family -> latest acknowledged token
        self.traces = []
        self.unknown = {}  # endpoint -> requests whose outcome is unknown (connection error)
        self.chain_breaks = []
        self.phase = "load"
        self.phase_file = phase_file
        self.first_ok_after = {}  # phase -> seconds from the phase's start to the first 2xx write
        self.phase_started = {"load": now()}

    def poll_phase(self, stop):
        while not stop.is_set():
            try:
                with open(self.phase_file) as f:
                    p = f.read().strip()
                if p and p != self.phase:
                    with self.lock:
                        self.phase = p
                        self.phase_started[p] = now()
            except OSError:
                pass
            time.sleep(0.02)

    def count(self, phase, endpoint, status, headers, body, write=False, elapsed=0.0):
        with self.lock:
            key = (phase, endpoint, status)
            self.counts[key] = self.counts.get(key, 0) + 1
            lat = self.latency.setdefault(key, [0.0, 0.0])
            lat[0] += elapsed
            lat[1] = max(lat[1], elapsed)
            if status == 0:
                self.unknown[endpoint] = self.unknown.get(endpoint, 0) + 1
                if len(self.connection_errors) < 100:
                    self.connection_errors.append({"phase": phase, "endpoint": endpoint,
                                                   "error": headers.get("error", ""),
                                                   "at": round(now(), 3),
                                                   "elapsed_ms": round(1000 * elapsed, 1)})
            if status >= 500 and status != 503:
                code = ""
                try:
                    code = json.loads(body).get("error_code") or json.loads(body).get("error") or ""
                except (ValueError, AttributeError):
                    pass
                if len(self.server_errors) < 200:
                    self.server_errors.append({"phase": phase, "endpoint": endpoint,
                                               "status": status, "code": code,
                                               "body": body[:200].decode(errors="replace"),
                                               "at": round(now(), 3)})
            if write and 200 <= status < 300 and phase not in self.first_ok_after:
                self.first_ok_after[phase] = round(now() - self.phase_started.get(phase, now()), 3)


class Load:
    def __init__(self, args, state):
        self.args = args
        self.state = state
        self.url = args.url
        self.rec = Recorder(args.phase_file)
        self.stop = threading.Event()
        self.deadline = now() + args.seconds
        self.families = queue.Queue()
        fams = list(state["families"].items())
        random.shuffle(fams)
        for fam, f in fams:
            if not f.get("dead"):
                self.families.put((fam, f["token"]))
        self.client_id = state["client_id"]
        self.client_secret = state["client_secret"]
        h = Http(self.url)
        self.ct = client_token(h, self.client_id, self.client_secret)
        self.ct_at = now()
        self.login_lock = threading.Lock()
        self.next_login = 0.0
        self.seq = 0
        self.seq_lock = threading.Lock()

    def running(self):
        return not self.stop.is_set() and now() < self.deadline

    def phase(self):
        return self.rec.phase

    def done(self, status):
        """After a request: in crash mode a connection error means the server died."""
        if status == 0 and self.args.mode == "crash":
            self.stop.set()
        elif status == 0 or status >= 500:
            time.sleep(0.05)  # outage mode: a client backing off a little

    def auth(self):
        return {"Authorization": f"Bearer {self.ct}"}

    def next_seq(self):
        with self.seq_lock:
            self.seq += 1
            return self.seq

    def pace_login(self):
        # Password logins: at most 8/s, below the per-client limit of 600 a minute.
        with self.login_lock:
            t = max(now(), self.next_login)
            self.next_login = t + 0.125
        d = t - now()
        if d > 0:
            time.sleep(d)

    def creator(self, idx):
        h = Http(self.url)
        while self.running():
            username = f"{self.args.tag}-c{idx}-{self.next_seq()}"
            ph = self.phase()
            st, hd, b = h.request("POST", "/cis/v1/users",
                                  {"username": username, "credentials": {"password": PASSWORD}},
                                  self.auth())
            self.rec.count(ph, "POST /cis/v1/users", st, hd, b, write=True, elapsed=h.elapsed)
            if st == 201:
                user = unwrap(json.loads(b))
                with self.rec.lock:
                    self.rec.users[user["user_id"]] = username
            else:
                self.done(st)
                continue
            if not self.running():
                break
            self.pace_login()
            ph = self.phase()
            st, hd, b = h.request("POST", "/cis/v1/auth/password/authenticate",
                                  {"username": username, "password": PASSWORD}, self.auth())
            self.rec.count(ph, "POST /cis/v1/auth/password/authenticate", st, hd, b, write=True, elapsed=h.elapsed)
            if st == 200:
                r = json.loads(b)
                with self.rec.lock:
                    self.rec.sessions[r["session_id"]] = {"user_id": user["user_id"],
                                                          "access_token": r["access_token"]}
                    fam, _ = family_of(r["refresh_token"])
                    self.rec.family_tokens[fam] = r["refresh_token"]
                self.families.put((fam, r["refresh_token"]))
            else:
                self.done(st)

    def refresher(self):
        h = Http(self.url)
        while self.running():
            try:
                fam, token = self.families.get(timeout=0.2)
            except queue.Empty:
                continue
            _, gen = family_of(token)
            ph = self.phase()
            if gen % 2 == 0:
                endpoint = "POST /oidc/token (refresh_token)"
                st, hd, b = h.request(
                    "POST", "/oidc/token",
                    form({"grant_type": "refresh_token", "refresh_token": token,
                          "client_id": self.client_id, "client_secret": self.client_secret}),
                    {"Content-Type": "application/x-www-form-urlencoded"})
            else:
                endpoint = "POST /cis/v1/auth/token/refresh"
                st, hd, b = h.request("POST", "/cis/v1/auth/token/refresh",
                                      {"refresh_token": token}, self.auth())
            self.rec.count(ph, endpoint, st, hd, b, write=True, elapsed=h.elapsed)
            if st == 200:
                new = json.loads(b)["refresh_token"]
                with self.rec.lock:
                    self.rec.family_tokens[fam] = new
                self.families.put((fam, new))
            elif st == 0 and self.args.mode == "crash":
                self.done(st)  # outcome unknown; the family stays at its last acknowledged token
            elif st == 0 or st >= 500 or st == 429:
                self.families.put((fam, token))  # retry the same token later, like a client
                self.done(st)
            else:
                # A 4xx for the family's latest acknowledged token: the chain broke.
                with self.rec.lock:
                    self.rec.chain_breaks.append({"family": fam, "phase": ph, "status": st,
                                                  "body": b[:200].decode(errors="replace")})

    def journey(self):
        h = Http(self.url)
        path = f"/ido/api/v2/invoke-api-journey/{JOURNEY_ID}?clientId=" + \
            urllib.parse.quote(self.client_id, safe="")
        body = journey_body()
        while self.running():
            ph = self.phase()
            st, hd, b = h.request("POST", path, body, self.auth())
            self.rec.count(ph, "POST /ido/api/v2/invoke-api-journey/{id}", st, hd, b, elapsed=h.elapsed)
            if st == 200 and "x-tessera-trace-id" in hd:
                with self.rec.lock:
                    self.rec.traces.append(hd["x-tessera-trace-id"])
            else:
                self.done(st)
            # Invokes touch no database and would otherwise take most of the CPU from the
            # writes: about 100 a second.
            time.sleep(self.args.journey_pause)

    def reader(self):
        """Outage mode: reads that need the database (a user by id) and one that does not
        (client_credentials, served from caches)."""
        h = Http(self.url)
        users = list(self.state["users"].keys())
        while self.running():
            ph = self.phase()
            if users:
                uid = random.choice(users)
                st, hd, b = h.request("GET", f"/cis/v1/users/{uid}", None, self.auth())
                self.rec.count(ph, "GET /cis/v1/users/{id}", st, hd, b, elapsed=h.elapsed)
                if st != 200:
                    self.done(st)
            ph = self.phase()
            st, hd, b = h.request(
                "POST", "/oidc/token",
                form({"grant_type": "client_credentials", "client_id": self.client_id,
                      "client_secret": self.client_secret}),
                {"Content-Type": "application/x-www-form-urlencoded"})
            self.rec.count(ph, "POST /oidc/token (client_credentials)", st, hd, b,
                           elapsed=h.elapsed)
            if st == 200:
                # keep the client token fresh for the other workers
                self.ct = json.loads(b)["access_token"]
            time.sleep(0.02)

    def readyz(self):
        h = Http(self.url, timeout=30)
        while self.running():
            ph = self.phase()
            st, hd, b = h.request("GET", "/readyz")
            self.rec.count(ph, "GET /readyz", st, hd, b, elapsed=h.elapsed)
            if st == 0 and self.args.mode == "crash":
                self.stop.set()
            time.sleep(0.25)

    def run(self):
        threads = []
        poll_stop = threading.Event()
        if self.args.phase_file:
            threads.append(threading.Thread(target=self.rec.poll_phase, args=(poll_stop,),
                                            daemon=True))
        for i in range(self.args.creators):
            threads.append(threading.Thread(target=self.creator, args=(i,)))
        for _ in range(self.args.refreshers):
            threads.append(threading.Thread(target=self.refresher))
        for _ in range(self.args.journeys):
            threads.append(threading.Thread(target=self.journey))
        if self.args.mode == "outage":
            threads.append(threading.Thread(target=self.reader))
            threads.append(threading.Thread(target=self.readyz))
        for t in threads:
            t.start()
        stop_file = self.args.stop_file
        while any(t.is_alive() for t in threads[1 if self.args.phase_file else 0:]):
            if stop_file and os.path.exists(stop_file):
                self.stop.set()
            time.sleep(0.05)
        poll_stop.set()

    def merge(self):
        st = self.state
        r = self.rec
        st["users"].update(r.users)
        st["sessions"].update(r.sessions)
        for fam, tok in r.family_tokens.items():
            st["families"].setdefault(fam, {})["token"] = tok
        for cb in r.chain_breaks:
            st["families"].setdefault(cb["family"], {})["dead"] = cb
        st["traces"][self.args.tag] = r.traces
        acked = {
            "users.create": len(r.users),
            "auth.password": len(r.sessions),
            "refresh": sum(n for (p, e, s), n in r.counts.items() if "refresh" in e and s == 200),
            "journey.invoke": len(r.traces),
        }
        counts = {}
        latency = {}
        for (p, e, s), n in sorted(r.counts.items()):
            counts.setdefault(p, {}).setdefault(e, {})[str(s)] = n
            total, worst = r.latency.get((p, e, s), [0.0, 0.0])
            latency.setdefault(p, {}).setdefault(e, {})[str(s)] = {
                "mean_ms": round(1000 * total / n, 1), "max_ms": round(1000 * worst, 1)}
        summary = {"tag": self.args.tag, "mode": self.args.mode, "acked": acked,
                   "unknown_outcome": r.unknown, "status_counts": counts, "latency": latency,
                   "server_errors": r.server_errors, "connection_errors": r.connection_errors,
                   "chain_breaks": r.chain_breaks,
                   "first_2xx_write_after_phase_start_s": r.first_ok_after,
                   "phase_started": {k: round(v, 3) for k, v in r.phase_started.items()}}
        st["iterations"].append({"tag": self.args.tag, "load": summary})
        return summary


def cmd_load(args):
    state = load_state(args.state)
    ld = Load(args, state)
    t0 = now()
    ld.run()
    summary = ld.merge()
    summary["seconds"] = round(now() - t0, 2)
    save_state(args.state, state)
    if args.summary_out:
        with open(args.summary_out, "w") as f:
            json.dump(summary, f, indent=1)
    a = summary["acked"]
    log(f"load {args.tag}: {summary['seconds']} s; acknowledged: {a['users.create']} user creates, "
        f"{a['auth.password']} logins, {a['refresh']} refreshes, {a['journey.invoke']} journey "
        f"invokes; outcome unknown: {summary['unknown_outcome']}; chain breaks: "
        f"{len(summary['chain_breaks'])}; 5xx other than 503: {len(summary['server_errors'])}")


# ---------------------------------------------------------------------------------------------
# Checks


def db_rows(args, sql):
    """Rows of `sql` as lists of strings (None for NULL)."""
    if args.sqlite:
        import sqlite3
        # Read-only: the check must not checkpoint or otherwise change what Tessera recovers.
        con = sqlite3.connect(f"file:{args.sqlite}?mode=ro", uri=True, timeout=30)
        try:
            return [[None if v is None else str(v) for v in row] for row in con.execute(sql)]
        finally:
            con.close()
    out = subprocess.run(["psql", args.psql_url, "-X", "-q", "-A", "-t", "-F", "\t",
                          "-P", "null=\\N", "-c", sql],
                         check=True, capture_output=True, text=True).stdout
    rows = []
    for line in out.splitlines():
        if line == "":
            continue
        rows.append([None if v == "\\N" else v for v in line.split("\t")])
    return rows


def cmd_check_db(args):
    """The acknowledged writes, read straight from the database while Tessera is down."""
    state = load_state(args.state)
    users = {r[0] for r in db_rows(args, "SELECT user_id FROM users")}
    sessions = {r[0]: r[1] for r in db_rows(args, "SELECT session_hash, ended_at FROM sessions")}
    fams = {r[0]: r[1:] for r in db_rows(
        args, "SELECT family_id, generation, token_hash, previous_hash, revoked_at "
              "FROM refresh_families")}
    traces = {r[0] for r in db_rows(args, "SELECT trace_id FROM journey_traces")}

    missing_users = [u for u in state["users"] if u not in users]
    missing_sessions = []
    for sid in state["sessions"]:
        h = token_hash(sid)
        if h not in sessions or sessions[h] is not None:
            missing_sessions.append(sid)
    current = inflight = 0
    missing_families = []
    for fam, f in state["families"].items():
        if f.get("dead"):
            continue
        tok = f["token"]
        _, gen = family_of(tok)
        h = token_hash(tok)
        row = fams.get(fam)
        if row is None or row[3] is not None:
            missing_families.append(fam)
        elif int(row[0]) == gen and row[1] == h:
            current += 1
        elif int(row[0]) == gen + 1 and row[2] == h:
            inflight += 1  # a rotation in flight at the kill committed; its answer never arrived
        else:
            missing_families.append(fam)
    tags = [args.tag] if args.tag else list(state["traces"].keys())
    acked_traces = [t for tag in tags for t in state["traces"].get(tag, [])]
    traces_found = sum(1 for t in acked_traces if t in traces)
    result = {
        "users": {"acked": len(state["users"]), "missing": len(missing_users)},
        "sessions": {"acked": len(state["sessions"]), "missing": len(missing_sessions)},
        "families": {"checked": current + inflight + len(missing_families),
                     "at_acked_token": current, "one_further_unacked": inflight,
                     "missing": len(missing_families)},
        "traces": {"invokes_acked": len(acked_traces), "found": traces_found,
                   "not_written": len(acked_traces) - traces_found},
        "missing_examples": {"users": missing_users[:5], "sessions": missing_sessions[:5],
                             "families": missing_families[:5]},
    }
    lost = len(missing_users) + len(missing_sessions) + len(missing_families)
    result["lost"] = lost
    record(args, state, "check_db", result)
    log(f"check-db {args.tag or ''}: users {len(state['users']) - len(missing_users)}/"
        f"{len(state['users'])}, live sessions {len(state['sessions']) - len(missing_sessions)}/"
        f"{len(state['sessions'])}, families {current}+{inflight} (at acked token + one further, "
        f"unacknowledged)/{result['families']['checked']}; traces of acked invokes written "
        f"{traces_found}/{len(acked_traces)} (not acknowledged: not counted as lost); LOST {lost}")
    if lost:
        log(f"check-db: missing: {json.dumps(result['missing_examples'])}")
    sys.exit(1 if lost else 0)


def record(args, state, key, result):
    it = None
    if args.tag:
        for i in state["iterations"]:
            if i["tag"] == args.tag:
                it = i
    if it is None:
        it = {"tag": args.tag or "final"}
        state["iterations"].append(it)
    it[key] = result
    save_state(args.state, state)


def cmd_check_api(args):
    """The acknowledged writes through the restarted server. Refresh families first: the
    families one generation further need the reuse window (60 s) measured from the kill."""
    state = load_state(args.state)
    h = Http(args.url)
    ct = client_token(h, state["client_id"], state["client_secret"])
    auth = {"Authorization": f"Bearer {ct}"}
    cid, sec = state["client_id"], state["client_secret"]
    fam_ok = fam_bad = 0
    bad = []
    unverified = 0  # answered 5xx or not at all: the server could not say (not counted as lost)
    unverified_fams = 0
    for fam, f in state["families"].items():
        if f.get("dead"):
            continue
        st, _, b = h.request(
            "POST", "/oidc/token",
            form({"grant_type": "refresh_token", "refresh_token": f["token"],
                  "client_id": cid, "client_secret": sec}),
            {"Content-Type": "application/x-www-form-urlencoded"})
        if st == 200:
            fam_ok += 1
            f["token"] = json.loads(b)["refresh_token"]  # the chain goes on from here
        elif st == 0 or st >= 500:
            unverified += 1
            unverified_fams += 1
            bad.append({"family": fam, "status": st, "body": b[:200].decode(errors="replace")})
        else:
            fam_bad += 1
            bad.append({"family": fam, "status": st, "body": b[:200].decode(errors="replace")})
            f["dead"] = {"check_api": st}
    save_state(args.state, state)
    users_ok = 0
    for uid, name in state["users"].items():
        st, _, b = h.request("GET", f"/cis/v1/users/{uid}", None, auth)
        if st == 200 and unwrap(json.loads(b)).get("user_id") == uid:
            users_ok += 1
        else:
            unverified += st == 0 or st >= 500
            bad.append({"user": uid, "status": st})
    sess_ok = 0
    for sid, s in state["sessions"].items():
        st, _, b = h.request("GET", "/oidc/userinfo", None,
                             {"Authorization": f"Bearer {s['access_token']}"})
        if st == 200 and json.loads(b).get("sub") == s["user_id"]:
            sess_ok += 1
        else:
            unverified += st == 0 or st >= 500
            bad.append({"session_of": s["user_id"], "status": st,
                        "body": b[:200].decode(errors="replace")})
    admin = admin_token(h)
    tags = [args.tag] if args.tag else list(state["traces"].keys())
    acked_traces = [t for tag in tags for t in state["traces"].get(tag, [])]
    traces_found = 0
    for t in acked_traces:
        st, _, _ = h.request("GET", f"/ido/api/v2/journeys/{JOURNEY_ID}/runs/{t}", None,
                             {"Authorization": f"Bearer {admin}"})
        traces_found += st == 200
    # Every acknowledged write is checked once: it passed, could not be verified, or is lost.
    checked = len(state["users"]) + len(state["sessions"]) + fam_ok + fam_bad + unverified_fams
    lost = checked - users_ok - sess_ok - fam_ok - unverified
    result = {"families": {"checked": fam_ok + fam_bad + unverified_fams, "refreshed_ok": fam_ok,
                           "failed": fam_bad, "unverified_5xx": unverified_fams},
              "users": {"acked": len(state["users"]), "readable": users_ok},
              "sessions": {"acked": len(state["sessions"]), "live": sess_ok},
              "traces": {"invokes_acked": len(acked_traces), "readable": traces_found},
              "lost": lost, "unverified_5xx": unverified, "failures": bad[:20]}
    record(args, state, "check_api", result)
    log(f"check-api {args.tag or ''}: families refreshed {fam_ok}/{fam_ok + fam_bad + unverified_fams}, users "
        f"readable {users_ok}/{len(state['users'])}, sessions live {sess_ok}/"
        f"{len(state['sessions'])}; traces readable {traces_found}/{len(acked_traces)}; LOST {lost}"
        f"{f'; NOT VERIFIED (answered 5xx or not at all): {unverified}' if unverified else ''}")
    if bad:
        log(f"check-api: failures: {json.dumps(bad[:10])}")
    sys.exit(1 if lost or unverified else 0)


def cmd_summary(args):
    state = load_state(args.state)
    its = [i for i in state["iterations"] if "load" in i]
    tot = {"users.create": 0, "auth.password": 0, "refresh": 0, "journey.invoke": 0}
    unknown = {}
    lost_db = lost_api = 0
    inflight = 0
    traces_acked = traces_db = traces_api = 0
    fam_checked = 0
    for i in its:
        for k in tot:
            tot[k] += i["load"]["acked"][k]
        for k, v in i["load"]["unknown_outcome"].items():
            unknown[k] = unknown.get(k, 0) + v
        if "check_db" in i:
            lost_db += i["check_db"]["lost"]
            inflight += i["check_db"]["families"]["one_further_unacked"]
            traces_acked += i["check_db"]["traces"]["invokes_acked"]
            traces_db += i["check_db"]["traces"]["found"]
        if "check_api" in i:
            lost_api += i["check_api"]["lost"]
            traces_api += i["check_api"]["traces"]["readable"]
            fam_checked += i["check_api"]["families"]["checked"]
    last = its[-1] if its else {}
    out = {"iterations": len(its), "acked_in_load": tot, "unknown_outcome": unknown,
           "final_state": {"users": len(state["users"]), "sessions": len(state["sessions"]),
                           "families": len(state["families"])},
           "last_check_db": last.get("check_db"), "last_check_api": last.get("check_api"),
           "lost_db_total": lost_db, "lost_api_total": lost_api,
           "families_one_further_unacked_total": inflight,
           "family_checks_total": fam_checked,
           "traces": {"invokes_acked": traces_acked, "written_db": traces_db,
                      "readable_api": traces_api},
           "chain_breaks": sum(len(i["load"]["chain_breaks"]) for i in its),
           "server_errors": sum(len(i["load"]["server_errors"]) for i in its)}
    print(json.dumps(out, indent=1))


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("setup")
    s.add_argument("--url", required=True)
    s.add_argument("--state", required=True)
    s = sub.add_parser("load")
    s.add_argument("--url", required=True)
    s.add_argument("--state", required=True)
    s.add_argument("--tag", required=True)
    s.add_argument("--mode", choices=["crash", "outage"], default="crash")
    s.add_argument("--seconds", type=float, default=30)
    s.add_argument("--creators", type=int, default=2)
    s.add_argument("--refreshers", type=int, default=4)
    s.add_argument("--journeys", type=int, default=1)
    s.add_argument("--journey-pause", type=float, default=0.01)
    s.add_argument("--phase-file")
    s.add_argument("--stop-file")
    s.add_argument("--summary-out")
    s = sub.add_parser("check-db")
    s.add_argument("--state", required=True)
    s.add_argument("--tag")
    g = s.add_mutually_exclusive_group(required=True)
    g.add_argument("--sqlite")
    g.add_argument("--psql-url")
    s = sub.add_parser("check-api")
    s.add_argument("--url", required=True)
    s.add_argument("--state", required=True)
    s.add_argument("--tag")
    s = sub.add_parser("summary")
    s.add_argument("--state", required=True)
    args = p.parse_args()
    {"setup": cmd_setup, "load": cmd_load, "check-db": cmd_check_db, "check-api": cmd_check_api,
     "summary": cmd_summary}[args.cmd](args)


if __name__ == "__main__":
    main()
