#!/usr/bin/env python3
"""CI check of the example receiver (make prescale-check): the signed sample payload in this folder — a
`room.prescale` body captured from the Swift hook test, signed by the gate's own signing function (the Swift
test HookSignatureVectorTests pins the same signature) — is accepted and becomes scale commands; a tampered
body, a wrong secret and an old timestamp are refused."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import receiver  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SECRET = "hook-secret-0123456789"
T = 1764716400


def main():
    body = open(os.path.join(HERE, "sample-hook.json"), "rb").read()
    header = open(os.path.join(HERE, "sample-hook.sig")).read().strip()
    failures = []

    lines = receiver.handle(SECRET, header, body, now=T + 10)
    for wanted in ("kubectl scale deployment/waitroom-gate --replicas=", "aws ecs update-service", "docker compose up -d --no-recreate --scale gate="):
        if not any(wanted in line for line in lines):
            failures.append(f"no command like {wanted!r} in {lines}")
    for name, args in {
        "tampered body": (SECRET, header, body.replace(b'"room.prescale"', b'"room.prescalf"'), T),
        "wrong secret": ("another-secret-0123456789", header, body, T),
        "old timestamp": (SECRET, header, body, T + 301),
        "malformed header": (SECRET, "v1=abc", body, T),
    }.items():
        try:
            receiver.handle(*args[:3], now=args[3])
            failures.append(f"{name}: accepted")
        except receiver.SignatureError:
            pass
    for line in lines:
        print(line)
    if failures:
        print("\n".join("FAIL " + f for f in failures))
        return 1
    print("receiver: signed sample accepted, 4 forgeries refused")
    return 0


if __name__ == "__main__":
    sys.exit(main())
