#!/usr/bin/env bash
# Create .venv with everything lasor needs, on a fresh machine (no GPU, CPU wheels only).
#   bash scripts/setup_venv.sh          # the package, its CLI and the MediaPipe front end
#   bash scripts/setup_venv.sh --test   # plus the test tools
set -euo pipefail
cd "$(dirname "$0")/.."
extra=""
[ "${1:-}" = "--test" ] && extra="[test]"
[ -x .venv/bin/python ] || python3 -m venv .venv
pip=".venv/bin/pip"
# CPU torch first: a bare `torch` requirement (or anny before torch) pulls a multi-GB CUDA build.
$pip install -q --disable-pip-version-check torch==2.13.0
$pip install -q --disable-pip-version-check -e ".${extra}"
# MediaPipe's legacy Pose models ship in its wheel; its own requirements (jax, opencv-contrib,
# matplotlib: ~270 MB) are only needed by code lasor never calls, so install it without them.
$pip install -q --disable-pip-version-check --no-deps mediapipe==0.10.14 \
  "protobuf>=4.25.3,<5" "attrs>=19.1.0" "absl-py>=1.0"
# LiteRT runs the BlazePose person detector that ships in the mediapipe wheel (every person in a
# photo, lasor.frontend.detector); a CPU wheel, no torch/tensorflow.
$pip install -q --disable-pip-version-check "ai-edge-litert>=1.2"
