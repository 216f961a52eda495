#!/usr/bin/env bash
# The counterexample pages in a real browser. For every headline counterexample (the catalog's
# `counterexample` variants, as `check` finds and minimizes them): `check --html-dir` writes its
# page, `render` must write the same bytes from the replay string, headless Chromium opens it,
# takes screenshots (kept under target/browser/) and dumps the DOM after the page's script ran,
# and ci/browser_check.py compares every row of the page's table with the text trace that
# `interleave replay` prints for the same string: every step, note and violation, in order, in its
# thread's lane. The page opened at #step-1 must select step 1; ci/browser_keys.py then drives it
# over the DevTools protocol as a reader would (the keys that step forward and back, a click, the
# copy button) and looks at it printed and in dark mode.
#
# Chromium is required: without it this fails (it never passes having checked nothing). `.ci/run`
# installs Debian's `chromium` first.
#
#   INTERLEAVE_EXE   the interleave binary to use (default: build target/debug/interleave)
#   BROWSER_OUT      where pages, DOM dumps and screenshots go (default: <target dir>/browser)
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-target}"
out="${BROWSER_OUT:-$target/browser}"

chromium_bin="$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)"
if [[ -z "$chromium_bin" ]]; then
    echo "error: chromium not found: the page test needs a real browser (Debian: apt-get install chromium)" >&2
    exit 1
fi
if ! command -v python3 >/dev/null; then
    echo "error: python3 not found: ci/browser_check.py checks the pages' DOM" >&2
    exit 1
fi
if [[ -n "${INTERLEAVE_EXE:-}" ]]; then
    exe="$INTERLEAVE_EXE"
else
    cargo build --quiet --bin interleave
    exe="$target/debug/interleave"
fi

rm -rf "$out"
mkdir -p "$out/pages" "$out/rendered" "$out/dom" "$out/trace"
profile="$(mktemp -d)"
trap 'rm -rf "$profile"' EXIT

# A fresh profile for each run, and nothing that reaches for the network.
browse() {
    timeout 120 "$chromium_bin" --headless --no-sandbox --disable-gpu --disable-background-networking \
        --disable-component-update --disable-sync --no-first-run --user-data-dir="$(mktemp -d -p "$profile")" \
        "$@" 2>>"$out/chromium.log"
}

"$exe" check --json --html-dir "$out/pages" >"$out/check.json" 2>"$out/check.log" || {
    echo "error: interleave check --html-dir failed; see $out/check.log" >&2
    cat "$out/check.log" >&2
    exit 1
}
mapfile -t cases < <(python3 -c '
import json, sys
for r in json.load(open(sys.argv[1]))["results"]:
    if r["expect"] == "counterexample" and r["replay"]:
        print(r["scenario"] + "__" + r["variant"] + " " + r["replay"])
' "$out/check.json")
if [[ ${#cases[@]} -eq 0 ]]; then
    echo "error: check found no counterexample to render" >&2
    exit 1
fi

failed=0
for c in "${cases[@]}"; do
    name="${c%% *}"
    replay="${c#* }"
    page="$out/pages/$name.html"
    if [[ ! -f "$page" ]]; then
        echo "FAIL $name: check --html-dir wrote no $page"
        failed=1
        continue
    fi
    "$exe" render "$replay" --html "$out/rendered/$name.html" >/dev/null
    if ! cmp -s "$page" "$out/rendered/$name.html"; then
        echo "FAIL $name: render and check --html-dir wrote different pages for $replay"
        failed=1
    fi
    status=0
    "$exe" replay "$replay" >"$out/trace/$name.txt" || status=$?
    if [[ $status -ne 1 ]]; then
        echo "FAIL $name: replay exited $status, not 1 (a violation)"
        failed=1
    fi
    url="file://$(realpath "$page")"
    browse --dump-dom "$url" >"$out/dom/$name.html"
    python3 ci/browser_check.py "$out/dom/$name.html" "$out/trace/$name.txt" || failed=1
    browse --dump-dom "$url#step-1" >"$out/dom/$name.step-1.html"
    python3 ci/browser_check.py "$out/dom/$name.step-1.html" "$out/trace/$name.txt" --selected 1 || failed=1
    # The first screen as a reader sees it, and the whole page (tall enough for every row).
    rows="$(grep -o '<tr class="' "$page" | wc -l)"
    changes="$(grep -o '<li class="' "$page" | wc -l)"
    browse --screenshot="$out/$name.png" --window-size=1400,1000 "$url" >/dev/null
    browse --screenshot="$out/$name.full.png" --window-size=1400,$((600 + 34 * rows + 16 * changes)) "$url" >/dev/null
    python3 ci/browser_keys.py "$chromium_bin" "$page" "$out/$name" || failed=1
    for png in "$out/$name.png" "$out/$name.full.png" "$out/$name.print.png" "$out/$name.dark.png"; do
        if [[ ! -s "$png" ]]; then
            echo "FAIL $name: no screenshot $png"
            failed=1
        fi
    done
done
if [[ $failed -ne 0 ]]; then
    echo "browser test: FAILED (pages, DOM dumps and screenshots in $out)"
    exit 1
fi
echo "browser test: ${#cases[@]} pages checked in $("$chromium_bin" --version 2>/dev/null || echo chromium); screenshots in $out"
