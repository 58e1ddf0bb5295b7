#!/bin/bash
# The main job on its built-in default: set up, build, and run kick.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh build
exec build/kick demo "$@"
