#!/usr/bin/env bash
# System libraries the Python wheels need but do not bundle: open3d links libusb-1.0.
# Installs them with apt when possible; otherwise says exactly what to install.
set -euo pipefail

missing=()
ldconfig -p 2>/dev/null | grep -q 'libusb-1.0.so.0' || missing+=(libusb-1.0-0)
[ ${#missing[@]} -eq 0 ] && exit 0

if command -v apt-get >/dev/null; then
  sudo=""
  [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null && sudo="sudo"
  if [ "$(id -u)" -eq 0 ] || [ -n "$sudo" ]; then
    echo "installing system packages: ${missing[*]}"
    $sudo apt-get install -y -q "${missing[@]}" >/dev/null 2>&1 \
      || { $sudo apt-get update -q >/dev/null && $sudo apt-get install -y -q "${missing[@]}" >/dev/null; }
    exit 0
  fi
fi
echo "error: missing system libraries ${missing[*]} (open3d needs libusb-1.0); install them with your package manager, e.g. 'sudo apt-get install ${missing[*]}', then re-run make" >&2
exit 1
