#!/usr/bin/env bash
# System packages the project needs but pip cannot give: open3d links libusb-1.0; with --test, also
# Debian's chromium, which the report test opens report.html in. Installs them with apt when possible
# (root or sudo); otherwise says exactly what to install.
set -euo pipefail

missing=()
ldconfig -p 2>/dev/null | grep -q 'libusb-1.0.so.0' || missing+=(libusb-1.0-0)
if [ "${1:-}" = "--test" ] && ! command -v chromium >/dev/null; then
  missing+=(chromium)
fi
[ ${#missing[@]} -eq 0 ] && exit 0

if command -v apt-get >/dev/null; then
  sudo=""
  [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null && sudo="sudo -n"
  if [ "$(id -u)" -eq 0 ] || [ -n "$sudo" ]; then
    echo "installing system packages: ${missing[*]}"
    $sudo apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null 2>&1 \
      || { $sudo apt-get update -q >/dev/null && $sudo apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null; }
    exit 0
  fi
fi
echo "error: missing system packages ${missing[*]} (open3d needs libusb-1.0; the report test needs chromium); install them with your package manager, e.g. 'sudo apt-get install ${missing[*]}', then re-run make" >&2
exit 1
