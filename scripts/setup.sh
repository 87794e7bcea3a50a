#!/usr/bin/env bash
# Set up PlaceFund on a fresh machine: a virtualenv in .venv with the package and its
# test tools, plus Debian's chromium for the browser tests, LibreOffice Calc (the
# workbook's round trip) and poppler-utils (pdftoppm: the printed brief's pages). Safe
# to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip "setuptools>=70.1" wheel
.venv/bin/python -m pip install --quiet -e ".[dev]"

if { [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/soffice ] || [ ! -x /usr/bin/pdftoppm ]; } \
   && [ "${PLACEFUND_SKIP_BROWSER:-0}" != "1" ]; then
  SUDO=""
  if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium libreoffice-calc \
    poppler-utils >/dev/null
fi
