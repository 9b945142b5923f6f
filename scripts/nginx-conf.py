#!/usr/bin/env python3
"""Docker/nginx.conf (the reference cache in front of the gates) rewritten to run on this machine: the given gate
ports as the upstreams, a private port and private paths, no `user`. The same rewrite as the tests' TestNginx.

    scripts/nginx-conf.py DIR PORT GATE_PORT... [--static]   > DIR/nginx.conf

--static adds `location = /static.json`, a fixed answer from nginx itself (the baseline of scripts/gate-cpu.sh).
"""
import re
import sys

args = [a for a in sys.argv[1:] if a != "--static"]
path, port, gates = args[0], args[1], args[2:]
text = open(__file__.rsplit("/", 2)[0] + "/Docker/nginx.conf").read()
text, count = re.subn(r"(upstream waitroom_gates \{\n)(?:\s*server [^\n]+\n)+",
                      lambda m: m.group(1) + "".join(f"        server 127.0.0.1:{g};\n" for g in gates), text)
assert count == 1, "Docker/nginx.conf has no upstream waitroom_gates block"
for old, new in [
    ("user  nginx;\n", ""),
    ("/var/log/nginx/error.log", f"{path}/error.log"),
    ("/var/run/nginx.pid", f"{path}/nginx.pid"),
    ("access_log  /var/log/nginx/access.log;",
     f"access_log off;\n    client_body_temp_path {path}/body;\n    proxy_temp_path {path}/proxy;\n"
     f"    fastcgi_temp_path {path}/fastcgi;\n    uwsgi_temp_path {path}/uwsgi;\n    scgi_temp_path {path}/scgi;"),
    ("/var/cache/nginx/waitroom", f"{path}/cache"),
    ("listen 80;", f"listen 127.0.0.1:{port};"),
]:
    assert old in text, f"Docker/nginx.conf no longer has {old!r}"
    text = text.replace(old, new)
if "--static" in sys.argv:
    text = text.replace("        location = /metrics {",
                        "        location = /static.json {\n            default_type application/json;\n"
                        "            return 200 '{\"ok\":true}';\n        }\n\n        location = /metrics {", 1)
print(text)
