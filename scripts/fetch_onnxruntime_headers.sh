#!/usr/bin/env bash
# Provides the ONNX Runtime C/C++ headers that hepsift's C++ library compiles against.
# The onnxruntime Python wheel ships the library but no headers. When the system has none
# (Debian 13 package libonnxruntime-dev, conda's onnxruntime-cpp, or ONNXRUNTIME_INCLUDE_DIR),
# this downloads Debian 13's libonnxruntime-dev with a private apt state and unpacks it into
# .deps/onnxruntime of the source folder. Nothing is installed into the system.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dest="$here/.deps/onnxruntime"

for d in "${ONNXRUNTIME_INCLUDE_DIR:-}" /usr/include/onnxruntime /usr/local/include/onnxruntime "$dest/usr/include/onnxruntime"; do
  if [ -n "$d" ] && [ -f "$d/onnxruntime_cxx_api.h" ]; then
    echo "hepsift: ONNX Runtime headers found in $d"
    exit 0
  fi
done

state=$(mktemp -d)
trap 'rm -rf "$state"' EXIT
mkdir -p "$state/lists/partial" "$state/cache/archives/partial" "$state/dl"
echo "deb http://deb.debian.org/debian trixie main" > "$state/sources.list"
opts=(-o "Dir::Etc::SourceList=$state/sources.list" -o Dir::Etc::SourceParts=/dev/null
      -o "Dir::State::Lists=$state/lists" -o "Dir::Cache=$state/cache" -o Dir::State::Status=/dev/null
      -o APT::Sandbox::User=root -qq)
echo "hepsift: fetching the ONNX Runtime headers (Debian 13 libonnxruntime-dev) into $dest"
for attempt in 1 2 3; do
  if apt-get "${opts[@]}" update && (cd "$state/dl" && apt-get "${opts[@]}" download libonnxruntime-dev); then
    break
  fi
  [ "$attempt" = 3 ] && { echo "hepsift: could not download libonnxruntime-dev; install the ONNX Runtime headers and set ONNXRUNTIME_INCLUDE_DIR" >&2; exit 1; }
  sleep $((attempt * 10))
done
mkdir -p "$dest"
dpkg -x "$state"/dl/libonnxruntime-dev_*.deb "$dest"
test -f "$dest/usr/include/onnxruntime/onnxruntime_cxx_api.h"
echo "hepsift: ONNX Runtime headers in $dest/usr/include/onnxruntime"
