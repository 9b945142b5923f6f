#!/usr/bin/env bash
# Installs what WaitingRoom needs on a Debian machine, only when something is missing.
set -euo pipefail

need_apt=()
pkg-config --exists hiredis 2>/dev/null || need_apt+=(libhiredis-dev)
pkg-config --exists libcrypto 2>/dev/null || need_apt+=(libssl-dev)
command -v pkg-config >/dev/null || need_apt+=(pkg-config)
command -v redis-server >/dev/null || need_apt+=(redis-server)
command -v openssl >/dev/null || need_apt+=(openssl)
command -v curl >/dev/null || need_apt+=(curl)
# nginx: the reference cache in front of the gates (BoardCacheTests, `CACHE=nginx scripts/bench-drop.sh`).
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need_apt+=(nginx-light)
command -v python3 >/dev/null || need_apt+=(python3 python3-pip)

if ((${#need_apt[@]})); then
    echo "installing: ${need_apt[*]}"
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

# PyJWT checks our tokens in the interop tests, as an order-service team would.
if ! python3 -c 'import jwt, cryptography' 2>/dev/null; then
    python3 -m pip install -q 'pyjwt[crypto]' 2>/dev/null || python3 -m pip install -q --break-system-packages 'pyjwt[crypto]'
fi

# Optional: headless Chromium, Playwright for Python and axe-core (axe-playwright-python), for the browser
# journeys (`make browser-test`) and the proof-of-work measurement (scripts/pow-chromium.py). Playwright's own
# browser download is not used: Debian's chromium is.
if [ "${WITH_BROWSER:-0}" = 1 ]; then
    command -v chromium >/dev/null || { SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"; $SUDO apt-get update -qq; DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null; }
    python3 -c 'import playwright, axe_playwright_python' 2>/dev/null || python3 -m pip install -q playwright axe-playwright-python 2>/dev/null \
        || python3 -m pip install -q --break-system-packages playwright axe-playwright-python
fi
