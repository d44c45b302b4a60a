#!/bin/sh
# System packages the certificate PDF renderer (certify/render.py, WeasyPrint)
# and its tests need, on Debian/Ubuntu:
#   - Pango + HarfBuzz: text layout and shaping (Devanagari, Tamil, ...);
#     libharfbuzz-subset0 lets WeasyPrint subset fonts fast (else fontTools).
#   - fonts-noto-core: Noto Sans + Noto Sans <Indian script> (Devanagari, Tamil,
#     Bengali, Telugu, Kannada, Malayalam, Gujarati, Gurmukhi, Oriya, Ol Chiki),
#     Noto Sans Sinhala, Noto Nastaliq Urdu and Noto Naskh Arabic: every font
#     the certificate stylesheets name (templates/certificates/*.css; the test
#     tests/certify/test_render_languages.py checks each name with fc-list).
#   - fonts-dejavu-core: DejaVu Sans Mono (ids, batch numbers) and a fallback.
#   - poppler-utils: pdftotext / pdfimages / pdftoppm used by the tests.
# Idempotent and fast when everything is present (only dpkg-query runs).
#   - with --test: Node.js and npm, for the cross-check with DIVOC's own verifier
#     library (installed only when `node`/`npm` are not on PATH), and chromium for
#     the browser tests of /verify (only when /usr/bin/chromium is missing).
# Usage: sh scripts/system-deps.sh [--test]   (root installs; others get the command)
set -eu

PACKAGES="libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz0b libharfbuzz-subset0 fontconfig fonts-noto-core fonts-dejavu-core poppler-utils"

missing=""
for pkg in $PACKAGES; do
    status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
    if [ "$status" != "installed" ]; then
        missing="$missing $pkg"
    fi
done

if [ "${1:-}" = "--test" ]; then
    command -v node >/dev/null 2>&1 || missing="$missing nodejs"
    command -v npm >/dev/null 2>&1 || missing="$missing npm"
    # the browser tests (tests/browser) drive Debian's chromium; `playwright install` is not used
    [ -x /usr/bin/chromium ] || missing="$missing chromium"
fi

if [ -z "$missing" ]; then
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "Missing system packages:$missing" >&2
    echo "Install them with:" >&2
    echo "  sudo apt-get update && sudo apt-get install -y --no-install-recommends$missing" >&2
    exit 1
fi

echo "Installing system packages:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086  # word splitting of the package list is intended
apt-get install -y --no-install-recommends $missing
fc-cache -f >/dev/null 2>&1 || true
