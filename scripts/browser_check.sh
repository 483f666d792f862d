#!/usr/bin/env bash
# The demo page in a real headless browser: install Debian's chromium + chromium-driver (apt) and
# selenium (PyPI) when missing, run tests/demo/test_demo_browser.py (start `lasor demo`'s server,
# upload the bundled example, wait for the 3D body) and save its screenshot to docs/images/demo.png.
# Nothing downloads a browser: selenium uses /usr/bin/chromium and /usr/bin/chromedriver.
#   bash scripts/browser_check.sh            # uses .venv (scripts/setup_venv.sh --test)
#   PYTHON=/path/to/python bash scripts/browser_check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
py="${PYTHON:-.venv/bin/python}"
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -q
  $sudo apt-get install -y -q chromium chromium-driver
fi
"$py" -c "import selenium" 2>/dev/null || "$py" -m pip install -q "selenium>=4.20"
LASOR_DEMO_SCREENSHOT=docs/images/demo.png OMP_NUM_THREADS=1 \
  "$py" -m pytest -q -rs -p no:cacheprovider tests/demo/test_demo_browser.py
echo "screenshot: docs/images/demo.png"
