#!/usr/bin/env python3
"""Resource limits (limits.sh): idle and half-sent connections held open against Tessera while
a normal client measures its latency.

  limits.py --url U --pid PID --out F [--idle 5000] [--half 1100] [--hold-s 60]
            [--requests-before 200] [--interval-ms 50]

The admin client comes from TESSERA_ADMIN_CLIENT_ID / TESSERA_ADMIN_CLIENT_SECRET (an
application and a client are created for the client-credentials requests).

- The normal client (this process, blocking sockets): alternately `GET /healthz` and a
  client-credentials token, each on a NEW connection (as a client arriving during the attack
  would; a keep-alive client would not need a free slot), one every --interval-ms; a request
  taking more than 5 s counts as failed. Measured before the attack (--requests-before
  requests), during it (--hold-s seconds), and after it.
- The attacker (a separate process, asyncio): --idle connections that each send one complete
  `GET /healthz`, read the answer and then stay idle (keep-alive), and --half connections that
  send half a request head (`GET /healthz HTTP/1.1\\r\\nHost: x\\r\\nX-Slow: `) and nothing
  more. It records when the server closes each one (its age at close) and opens a new one of
  the same kind at once, so the full count stays open for the whole hold; at the end it
  reports how many were open, the ages at close per kind, and connections refused or reset.
- Tessera's open files and resident memory are sampled every second (/proc/PID).
Writes a JSON report to --out and prints it.
"""

import argparse
import asyncio
import http.client
import json
import multiprocessing as mp
import os
import resource
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from driver import Http, admin_token, form, must  # noqa: E402

HALF = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: "
FULL = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"


def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def pct(xs, p):
    if not xs:
        return None
    xs = sorted(xs)
    return round(xs[min(len(xs) - 1, round(p / 100 * (len(xs) - 1)))], 3)


# ---------------------------------------------------------------------------------------------
# The attacker


class Attack:
    def __init__(self, host, port, idle, half, stop_at):
        self.host, self.port = host, port
        self.want = {"idle": idle, "half": half}
        self.stop_at = stop_at
        self.open = {"idle": 0, "half": 0}
        self.opened = {"idle": 0, "half": 0}
        self.ages = {"idle": [], "half": []}  # seconds from open to the server's close
        self.closed_how = {"idle": {}, "half": {}}
        self.connect_errors = {}
        self.idle_answer_not_200 = 0
        self.full_at = None  # seconds after the start when every connection was open
        self.timeline = []
        self.t0 = time.monotonic()

    async def one(self, kind):
        """Opens one connection of this kind and holds it until the server closes it; then
        another, until the end of the hold."""
        while time.monotonic() < self.stop_at:
            try:
                r, w = await asyncio.wait_for(asyncio.open_connection(self.host, self.port), 10)
            except (OSError, asyncio.TimeoutError) as e:
                k = type(e).__name__
                self.connect_errors[k] = self.connect_errors.get(k, 0) + 1
                await asyncio.sleep(0.1)
                continue
            opened = time.monotonic()
            self.open[kind] += 1
            self.opened[kind] += 1
            how = "eof"
            try:
                if kind == "idle":
                    w.write(FULL)
                    await w.drain()
                    head = await asyncio.wait_for(r.readuntil(b"\r\n\r\n"), 10)
                    if not head.startswith(b"HTTP/1.1 200"):
                        self.idle_answer_not_200 += 1
                    length = 0
                    for line in head.split(b"\r\n"):
                        if line.lower().startswith(b"content-length:"):
                            length = int(line.split(b":", 1)[1])
                    await r.readexactly(length)
                else:
                    w.write(HALF)
                    await w.drain()
                left = self.stop_at - time.monotonic()
                data = await asyncio.wait_for(r.read(1), max(0.01, left))
                if data:
                    how = "data"  # the server answered something: not expected
            except asyncio.TimeoutError:
                how = "still_open_at_end"
            except (OSError, asyncio.IncompleteReadError) as e:
                how = type(e).__name__
            age = time.monotonic() - opened
            self.open[kind] -= 1
            if how != "still_open_at_end":
                self.ages[kind].append(age)
            self.closed_how[kind][how] = self.closed_how[kind].get(how, 0) + 1
            w.close()

    async def watch(self):
        while time.monotonic() < self.stop_at:
            t = time.monotonic() - self.t0
            total = self.open["idle"] + self.open["half"]
            if self.full_at is None and total >= self.want["idle"] + self.want["half"]:
                self.full_at = round(t, 2)
            self.timeline.append([round(t, 1), self.open["idle"], self.open["half"]])
            await asyncio.sleep(1)

    async def run(self, ready):
        tasks = [asyncio.ensure_future(self.watch())]
        for kind in ("idle", "half"):
            for _ in range(self.want[kind]):
                tasks.append(asyncio.ensure_future(self.one(kind)))
                await asyncio.sleep(0)  # let each connect start before the next
        ready.set()
        await asyncio.gather(*tasks)


def attacker(url, idle, half, hold_s, out_q, ready):
    raise_nofile()
    u = urllib.parse.urlsplit(url)
    a = Attack(u.hostname, u.port, idle, half, time.monotonic() + hold_s)
    asyncio.run(a.run(ready))
    out_q.put({
        "opened": a.opened,
        "every_connection_open_after_s": a.full_at,
        "ages_at_server_close_s": {k: {"n": len(v), "min": pct(v, 0), "p50": pct(v, 50),
                                       "p99": pct(v, 99), "max": pct(v, 100)}
                                   for k, v in a.ages.items()},
        "how_they_ended": a.closed_how,
        "connect_errors": a.connect_errors,
        "idle_first_answer_not_200": a.idle_answer_not_200,
        "open_min_after_full": (min(i + h for t, i, h in a.timeline if a.full_at and t >= a.full_at)
                                if a.full_at else None),
        "timeline_every_10s": a.timeline[::10],
    })


# ---------------------------------------------------------------------------------------------
# The normal client


def one_request(host, port, kind, body):
    t0 = time.monotonic()
    c = http.client.HTTPConnection(host, port, timeout=5)
    try:
        if kind == "healthz":
            c.request("GET", "/healthz", headers={"Connection": "close"})
        else:
            c.request("POST", "/oidc/token", body=body,
                      headers={"Content-Type": "application/x-www-form-urlencoded",
                               "Connection": "close"})
        r = c.getresponse()
        r.read()
        status = r.status
    except (OSError, http.client.HTTPException) as e:
        status = type(e).__name__
    finally:
        c.close()
    return status, (time.monotonic() - t0) * 1000


def measure(url, body, until=None, count=None, interval=0.05):
    u = urllib.parse.urlsplit(url)
    lat = {"healthz": [], "token": []}
    bad = {}
    i = 0
    while (count is None or i < count) and (until is None or time.monotonic() < until):
        kind = "healthz" if i % 2 == 0 else "token"
        status, ms = one_request(u.hostname, u.port, kind, body)
        if status == 200:
            lat[kind].append(ms)
        else:
            key = f"{kind} {status}"
            bad[key] = bad.get(key, 0) + 1
        i += 1
        time.sleep(interval)
    both = lat["healthz"] + lat["token"]
    return {"requests": i, "ok": len(both), "failed": bad,
            "p50_ms": pct(both, 50), "p99_ms": pct(both, 99), "max_ms": pct(both, 100),
            "healthz": {"n": len(lat["healthz"]), "p50_ms": pct(lat["healthz"], 50),
                        "p99_ms": pct(lat["healthz"], 99)},
            "token": {"n": len(lat["token"]), "p50_ms": pct(lat["token"], 50),
                      "p99_ms": pct(lat["token"], 99)}}


def sample_tessera(pid, stop, out):
    t0 = time.monotonic()
    while not stop.is_set():
        try:
            fds = len(os.listdir(f"/proc/{pid}/fd"))
            rss = None
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        rss = int(line.split()[1])
            out.append([round(time.monotonic() - t0, 1), fds, rss])
        except OSError:
            break
        stop.wait(1)


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--url", required=True)
    p.add_argument("--pid", type=int, required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--idle", type=int, default=5000)
    p.add_argument("--half", type=int, default=1100)
    p.add_argument("--hold-s", type=float, default=60)
    p.add_argument("--requests-before", type=int, default=200)
    p.add_argument("--interval-ms", type=float, default=50)
    a = p.parse_args()
    nofile = raise_nofile()

    h = Http(a.url)
    auth = {"Authorization": f"Bearer {admin_token(h)}"}
    app = must(*h.request("POST", "/cis/v1/applications", {"name": "limits"}, auth)[::2],
               "create application")
    client = must(*h.request("POST", f"/cis/v1/applications/{app['app_id']}/clients",
                             {"name": "limits-client"}, auth)[::2], "create client")
    h.close()
    body = form({"grant_type": "client_credentials", "client_id": client["client_id"],
                 "client_secret": client["client_secret"]})
    interval = a.interval_ms / 1000

    samples = []
    stop = threading.Event()
    sampler = threading.Thread(target=sample_tessera, args=(a.pid, stop, samples), daemon=True)
    sampler.start()
    t_start = time.monotonic()

    print("limits: before the attack", file=sys.stderr, flush=True)
    before = measure(a.url, body, count=a.requests_before, interval=interval)

    print(f"limits: attack: {a.idle} idle + {a.half} half-sent connections for {a.hold_s} s",
          file=sys.stderr, flush=True)
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    ready = ctx.Event()
    t_attack = time.monotonic() - t_start
    proc = ctx.Process(target=attacker, args=(a.url, a.idle, a.half, a.hold_s, q, ready))
    proc.start()
    ready.wait(60)
    # Measure while the attacker holds its connections (it stops opening new ones at the end
    # of the hold; stop measuring a second before).
    during = measure(a.url, body, until=time.monotonic() + a.hold_s - 1, interval=interval)
    attack = q.get(timeout=a.hold_s + 120)
    proc.join(30)
    t_after = time.monotonic() - t_start

    print("limits: after the attack", file=sys.stderr, flush=True)
    after = measure(a.url, body, count=a.requests_before, interval=interval)
    # Tessera's open files come back down once the attacker's sockets are gone.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and samples and samples[-1][1] > samples[0][1] + 20:
        time.sleep(0.5)
    stop.set()
    sampler.join(5)

    during_samples = [s for s in samples if t_attack <= s[0] <= t_after]
    report = {
        "client_nofile_limit": nofile,
        "normal_client": {"before": before, "during": during, "after": after},
        "attack": attack,
        "tessera": {
            "fds_before": samples[0][1] if samples else None,
            "fds_max_during": max((s[1] for s in during_samples), default=None),
            "fds_end": samples[-1][1] if samples else None,
            "rss_mib_before": round(samples[0][2] / 1024, 1) if samples else None,
            "rss_mib_max_during": round(max((s[2] for s in during_samples), default=0) / 1024, 1),
            "rss_mib_end": round(samples[-1][2] / 1024, 1) if samples else None,
            "timeline_every_5s": samples[::5],
        },
    }
    ok = (not during["failed"] and during["p99_ms"] is not None and during["p99_ms"] < 100
          and not before["failed"] and not after["failed"])
    report["pass_p99_below_100ms_no_failures"] = ok
    with open(a.out, "w") as f:
        json.dump(report, f, indent=1)
    print(json.dumps(report, indent=1))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
