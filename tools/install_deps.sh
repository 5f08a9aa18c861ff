#!/usr/bin/env bash
# Debian packages the controller needs: the lab (debootstrap, systemd-nspawn, nftables;
# qemu-user-static and binfmt-support boot the arm64 CM4 of CM4_ARCH=arm64), the local
# llama.cpp build (cmake, compilers, OpenSSL headers, ccache), python3-venv, and chromium
# (the dashboard's test drives it headless with Playwright).
set -euo pipefail
pkgs=(debootstrap systemd-container nftables iproute2 openssh-client ccache cmake
      build-essential libssl-dev git curl python3-venv rsync qemu-user-static binfmt-support
      chromium)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "[deps] installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "[deps] all present"
fi
