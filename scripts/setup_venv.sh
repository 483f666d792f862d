#!/usr/bin/env bash
# Create .venv with everything lasor needs, on a fresh machine (no GPU, CPU wheels only).
#   bash scripts/setup_venv.sh              # the package, its CLI and its BlazePose front end
#   bash scripts/setup_venv.sh --test       # plus the test tools and MediaPipe (the reference
#                                           # of the parity tests, and `--frontend mediapipe`)
#   bash scripts/setup_venv.sh --mediapipe  # the package plus MediaPipe, without the test tools
set -euo pipefail
cd "$(dirname "$0")/.."
extra=""
with_mediapipe=0
case "${1:-}" in
  --test) extra="[test]"; with_mediapipe=1 ;;
  --mediapipe) with_mediapipe=1 ;;
esac
[ -x .venv/bin/python ] || python3 -m venv .venv
pip=".venv/bin/pip"
# CPU torch first: a bare `torch` requirement (or anny before torch) pulls a multi-GB CUDA build.
$pip install -q --disable-pip-version-check torch==2.13.0
# lasor with LiteRT, which runs the BlazePose models shipped in lasor (no mediapipe needed)
$pip install -q --disable-pip-version-check -e ".${extra}"
if [ "$with_mediapipe" = 1 ]; then
  # last, and without its own requirements (jax, opencv-contrib, matplotlib, sounddevice:
  # ~270 MB that only code lasor never calls needs): pip checks no requirements for a --no-deps
  # install, so nothing here reports a conflict (a later plain `pip install` would list them).
  $pip install -q --disable-pip-version-check --no-deps mediapipe==0.10.14 \
    "protobuf>=4.25.3,<5" "attrs>=19.1.0" "absl-py>=1.0"
fi
