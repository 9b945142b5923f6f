#!/usr/bin/env python3
"""Refreshes the receiver's CI sample: signs sample-hook.json (a body the Swift hook test captured, see
.build/prescale-hook.json after `swift test --filter LotteryDrawTests`) with the test secret at a fixed time,
into sample-hook.sig. The Swift test HookSignatureVectorTests checks the gate signs it to the same header."""
import hashlib
import hmac
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
if len(sys.argv) > 1:
    body = open(sys.argv[1], "rb").read().rstrip(b"\n")
    open(os.path.join(HERE, "sample-hook.json"), "wb").write(body)
body = open(os.path.join(HERE, "sample-hook.json"), "rb").read()
t = 1764716400
v1 = hmac.new(b"hook-secret-0123456789", f"{t}.".encode() + body, hashlib.sha256).hexdigest()
open(os.path.join(HERE, "sample-hook.sig"), "w").write(f"t={t},v1={v1}\n")
print(f"t={t},v1={v1}")
