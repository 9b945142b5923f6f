#!/usr/bin/env bash
# Does this toolchain still miscompile the shape behind issue 19's release-only crash? Compiles
# task-tuple-miscompile.swift with -O and -Onone and compares. Informational: the code no longer uses the
# shape (ClusterRouter.sendEach); this says when the workaround's comment can go.
set -euo pipefail
cd "$(dirname "$0")"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
swiftc -O -parse-as-library task-tuple-miscompile.swift -o "$out/optimized" 2>/dev/null
swiftc -Onone -parse-as-library task-tuple-miscompile.swift -o "$out/debug" 2>/dev/null
if [ "$("$out/optimized")" = "$("$out/debug")" ]; then
    echo "compiler check: $(swiftc --version 2>&1 | head -1): -O and -Onone agree (the miscompile is gone)"
else
    echo "compiler check: $(swiftc --version 2>&1 | head -1): -O still loses the value (see scripts/compiler/task-tuple-miscompile.swift):"
    "$out/optimized" | sed 's/^/  -O:     /'
    "$out/debug" | sed 's/^/  -Onone: /'
fi
