#!/usr/bin/env python3
"""An example receiver for WaitingRoom's pre-scale hooks (`room.prescale`, `room.opening_soon`).

It checks the `Waitroom-Signature` header (t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>, compared in
constant time, refused when `t` is more than 5 minutes off) and turns the hook's `recommendation` into the
scale commands it would run. It only prints them: wire the one your platform uses.

    WAITROOM_HOOK_SECRET=... receiver.py serve --port 9000 [--cached] [--platform kubectl|ecs|compose|all]
    receiver.py check --secret S --signature 't=...,v1=...' --body-file payload.json [--now UNIX]

Point a room's hook at it: {"url": "http://host:9000/", "events": ["room.prescale"], "secret": "...",
"leads": [900, 300, 60]}. Standard library only.
"""

import argparse
import hashlib
import hmac
import json
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

TOLERANCE_SECONDS = 300


class SignatureError(Exception):
    pass


def verify(secret, header, body, now=None, tolerance=TOLERANCE_SECONDS):
    """Checks a `Waitroom-Signature` header against the raw body (bytes); raises SignatureError."""
    parts = dict(item.split("=", 1) for item in header.split(",") if "=" in item)
    if "t" not in parts or "v1" not in parts or not parts["t"].isdigit():
        raise SignatureError("malformed signature header")
    t = int(parts["t"])
    now = int(time.time()) if now is None else now
    if abs(now - t) > tolerance:
        raise SignatureError(f"timestamp {t} is {now - t} s off (tolerance {tolerance} s)")
    expected = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, parts["v1"]):
        raise SignatureError("signature does not match")
    return t


def commands(event, cached=False, platform="all", deployment="waitroom-gate", cluster="drops"):
    """The scale commands for a pre-scale event (a decoded hook body)."""
    rec = event.get("data", {}).get("recommendation")
    if rec is None:
        return []
    gates = rec["gateInstancesCached" if cached else "gateInstances"]
    room, lead = event.get("room", "?"), event.get("data", {}).get("leadSeconds", "?")
    out = [f"# {event.get('type')} for room {room}, {lead} s before opening: {rec['shoppersPrequeued']} pre-queued, "
           f"~{rec['expectedArrivalsFirstTwoMinutes']} expected in the first two minutes ({rec['arrivalsSource']}); "
           f"origin {rec['originRequestsPerSecondCached' if cached else 'originRequestsPerSecond']} req/s; "
           f"checkout will see {rec['checkoutAdmissionsPerSecond']:g}/s"]
    if platform in ("kubectl", "all"):
        out.append(f"kubectl scale deployment/{deployment} --replicas={gates}")
    if platform in ("ecs", "all"):
        out.append(f"aws ecs update-service --cluster {cluster} --service {deployment} --desired-count {gates}")
    if platform in ("compose", "all"):
        out.append(f"docker compose up -d --no-recreate --scale gate={gates}")
    if rec.get("redisCores", 0) > 0.7:
        out.append(f"# Redis: {rec['redisCores']} cores of scripts at this admission rate: more than one primary carries; split the drop into rooms on a Cluster")
    out.append(f"# Redis: ~{rec['redisOpsPerSecond']} ops/s, ~{rec['redisMemoryMB']} MB for this drop")
    return out


def handle(secret, header, body, cached=False, platform="all", now=None):
    verify(secret, header, body, now=now)
    return commands(json.loads(body), cached=cached, platform=platform)


def serve(args):
    secret = os.environ.get("WAITROOM_HOOK_SECRET", "")
    if len(secret) < 16:
        sys.exit("set WAITROOM_HOOK_SECRET (the hook's secret, 16+ characters)")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            try:
                lines = handle(secret, self.headers.get("Waitroom-Signature", ""), body, args.cached, args.platform)
            except SignatureError as error:
                self.send_response(401)
                self.end_headers()
                self.wfile.write(str(error).encode())
                return
            except (ValueError, KeyError) as error:
                self.send_response(400)
                self.end_headers()
                self.wfile.write(str(error).encode())
                return
            for line in lines:
                print(line, flush=True)
            self.send_response(204)
            self.end_headers()

    HTTPServer((args.host, args.port), Handler).serve_forever()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    s = sub.add_parser("serve")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=9000)
    c = sub.add_parser("check")
    c.add_argument("--secret", required=True)
    c.add_argument("--signature", required=True)
    c.add_argument("--body-file", required=True)
    c.add_argument("--now", type=int)
    for p in (s, c):
        p.add_argument("--cached", action="store_true", help="the gates sit behind a shared cache")
        p.add_argument("--platform", choices=["kubectl", "ecs", "compose", "all"], default="all")
    args = parser.parse_args()
    if args.command == "serve":
        return serve(args)
    with open(args.body_file, "rb") as f:
        body = f.read()
    try:
        for line in handle(args.secret, args.signature, body, args.cached, args.platform, args.now):
            print(line)
    except SignatureError as error:
        print(f"refused: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
