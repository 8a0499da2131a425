#!/usr/bin/env bash
# Debian packages the test suite needs (real servers for the cluster backends, browser and proxy tests).
# Installs only what is missing; needs root (CI and the development machines run as root).
set -euo pipefail

packages=()
need() { command -v "$1" >/dev/null 2>&1 || packages+=("$2"); }

need redis-server redis-server
need chromium chromium        # dashboard tests drive it with Playwright (no browser download)
need tinyproxy tinyproxy      # a real forward proxy for the egress-proxy tests
need npm npm                  # installs the coding agents the agent tests drive (tests/agents)
# PostgreSQL's server binaries live outside PATH on Debian (/usr/lib/postgresql/<version>/bin).
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || need initdb postgresql

if [ ${#packages[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "missing system packages: ${packages[*]} (run as root, or install them with apt-get)" >&2
  exit 1
fi
echo "installing system packages: ${packages[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
