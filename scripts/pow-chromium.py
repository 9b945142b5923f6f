#!/usr/bin/env python3
"""Measures the proof-of-work solver (Sources/WaitingRoomServer/Resources/pow-worker.js) in headless Chromium.

    python3 scripts/pow-chromium.py [--bits 16 18 20] [--trials 20]

Needs Debian's chromium and Playwright for Python (`WITH_BROWSER=1 scripts/install-deps.sh`); Playwright's
own browser download is not used. Each trial solves a fresh random challenge shaped like the gate's
(`pow1.<room>.<bits>.<expiresAtMs>.<id>.<mac>`) in a Web Worker loaded from a same-origin URL, as the
waiting page does; every nonce is checked here with hashlib.
"""
import argparse, base64, hashlib, http.server, json, os, secrets, shutil, socketserver, statistics, sys, tempfile, threading

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORKER = os.path.join(ROOT, "Sources/WaitingRoomServer/Resources/pow-worker.js")
PAGE = """<!doctype html><meta charset="utf-8"><title>pow</title><script>
window.solve = (challenge, bits) => new Promise((resolve, reject) => {
  const w = new Worker("/pow-worker.js");
  const t = performance.now();
  w.onmessage = (e) => { if (e.data.nonce !== undefined) { w.terminate(); resolve({nonce: e.data.nonce, hashes: e.data.hashes, ms: performance.now() - t}); }
                         else if (e.data.error) reject(e.data.error); };
  w.onerror = (e) => reject(String(e.message));
  w.postMessage({challenge, bits});
});
</script>"""


def challenge(bits):
    b64 = lambda n: base64.urlsafe_b64encode(secrets.token_bytes(n)).rstrip(b"=").decode()
    return f"pow1.sneaker-drop.{bits}.1800000000000.{b64(12)}.{b64(32)}"


def zero_bits(digest):
    count = 0
    for byte in digest:
        if byte == 0:
            count += 8
            continue
        return count + 8 - byte.bit_length()
    return count


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bits", type=int, nargs="+", default=[16, 18, 20])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    directory = tempfile.mkdtemp()
    shutil.copy(WORKER, os.path.join(directory, "pow-worker.js"))
    with open(os.path.join(directory, "index.html"), "w") as f:
        f.write(PAGE)
    handler = lambda *a, **k: http.server.SimpleHTTPRequestHandler(*a, directory=directory, **k)
    http.server.SimpleHTTPRequestHandler.log_message = lambda *a: None
    server = socketserver.TCPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/index.html"

    results = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=args.chromium, args=["--no-sandbox"])
        page = browser.new_page()
        page.goto(url)
        page.evaluate("solve(%s, 8)" % json.dumps(challenge(8)))  # warm-up: JIT
        print(f"{'bits':>4} {'trials':>6} {'median ms':>10} {'p90 ms':>8} {'max ms':>8} {'MH/s':>6}")
        for bits in args.bits:
            times, rates = [], []
            for _ in range(args.trials):
                text = challenge(bits)
                r = page.evaluate("([c, b]) => solve(c, b)", [text, bits])
                digest = hashlib.sha256(f"{text}:{r['nonce']}".encode()).digest()
                assert zero_bits(digest) >= bits, (text, r)
                times.append(r["ms"])
                rates.append(r["hashes"] / max(r["ms"], 0.001) / 1000)
            times.sort()
            results[bits] = {"median_ms": statistics.median(times), "p90_ms": times[int(len(times) * 0.9) - 1],
                             "max_ms": times[-1], "mhps": statistics.median(rates)}
            x = results[bits]
            print(f"{bits:>4} {args.trials:>6} {x['median_ms']:>10.0f} {x['p90_ms']:>8.0f} {x['max_ms']:>8.0f} {x['mhps']:>6.2f}")
        browser.close()
    server.shutdown()
    shutil.rmtree(directory)
    print(json.dumps(results))


if __name__ == "__main__":
    sys.exit(main())
