#!/usr/bin/env bash
# Debian packages the test suite needs (real servers for the cluster backends, browser and proxy tests,
# the container image's build).
# Installs only what is missing; needs root (CI and the development machines run as root).
set -euo pipefail

packages=()
need() { command -v "$1" >/dev/null 2>&1 || packages+=("$2"); }

need redis-server redis-server
need chromium chromium        # dashboard tests drive it with Playwright (no browser download)
need tinyproxy tinyproxy      # a real forward proxy for the egress-proxy tests
# nginx (plain and TLS) for the upstream client's differential tests; it lives in /usr/sbin
[ -x /usr/sbin/nginx ] || need nginx nginx
need node nodejs              # OpenRouter's TypeScript SDK as a client (tests/sdk_ts)
need npm npm                  # installs the npm clients: tests/sdk_ts, the coding agents of tests/agents, the OpenID provider of tests/dashboard/idp
need buildah buildah          # the container image is built and run for real (tests/deploy/test_image.py)
[ -x /usr/sbin/debootstrap ] || need debootstrap debootstrap   # its local Debian base (scripts/image.sh)
need systemd-analyze systemd  # checks deploy/switchpoint.service (systemd need not be running)
need caddy caddy              # the Caddy configuration of docs/deployment.md, run for real
# PostgreSQL's server binaries live outside PATH on Debian (/usr/lib/postgresql/<version>/bin).
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || need initdb postgresql

if [ ${#packages[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "missing system packages: ${packages[*]} (run as root, or install them with apt-get)" >&2
  exit 1
fi
# Another apt or dpkg (unattended upgrades, another `make test`) may hold the package locks: wait for it
# rather than fail. DPkg::Lock::Timeout makes apt-get wait for dpkg's lock, but `apt-get update` does not
# wait for the package lists' lock (apt 2.6), so a command refused for a lock is retried, for 10 minutes.
apt_wait() {
  local deadline=$((SECONDS + 600)) errors
  while true; do
    if errors=$(apt-get -o DPkg::Lock::Timeout=600 "$@" 2>&1 >/dev/null); then
      [ -z "$errors" ] || echo "$errors" >&2
      return 0
    fi
    if [[ $errors == *"Could not get lock"* ]] && ((SECONDS < deadline)); then
      echo "waiting for another package manager to release its lock..." >&2
      sleep 5
      continue
    fi
    echo "$errors" >&2
    return 1
  done
}

echo "installing system packages: ${packages[*]}"
export DEBIAN_FRONTEND=noninteractive
# The tests start their own servers on free ports: keep the packages' system services (nginx on
# port 80, redis, postgresql) from being started by the install.
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
  chmod +x /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
apt_wait update -qq
apt_wait install -y -qq --no-install-recommends "${packages[@]}"
