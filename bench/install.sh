#!/usr/bin/env bash
# Installs what the benchmark needs into bench/.cache (idempotent; each step is skipped when its
# pinned version is already there). A peer that fails to install leaves a note in
# bench/.cache/<peer>.unavailable, which the runner reports instead of a number.
set -u
cd "$(dirname "$0")"
CACHE=.cache
mkdir -p "$CACHE"

LITELLM_VERSION=${LITELLM_VERSION:-1.106.2}
TENSORZERO_VERSION=${TENSORZERO_VERSION:-2026.6.0}
PORTKEY_VERSION=${PORTKEY_VERSION:-1.15.2}
PYTHON=${PYTHON:-python3}

log() { printf '[install] %s\n' "$*" >&2; }

# nginx and wrk from Debian.
missing=()
command -v nginx >/dev/null || missing+=(nginx)
command -v wrk >/dev/null || missing+=(wrk)
if [ ${#missing[@]} -gt 0 ]; then
  log "apt-get install ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq "${missing[@]}" >/dev/null || { log "apt-get failed"; exit 1; }
fi

# venv NAME STAMP PACKAGES...: a venv in .cache/NAME holding PACKAGES, marked done by STAMP.
venv() {
  local name=$1 stamp=$2; shift 2
  local dir=$CACHE/$name
  if [ "$(cat "$dir/.stamp" 2>/dev/null)" = "$stamp" ]; then return 0; fi
  log "venv $name: $*"
  rm -f "$CACHE/$name.unavailable"
  { "$PYTHON" -m venv --clear "$dir" && "$dir/bin/pip" install -q --upgrade pip \
      && "$dir/bin/pip" install -q "$@"; } >"$CACHE/$name.log" 2>&1 \
    || { echo "pip install $* failed (see bench/.cache/$name.log)" >"$CACHE/$name.unavailable"; return 1; }
  echo "$stamp" >"$dir/.stamp"
}

# The bench tools; Switchpoint itself is installed (editable) from the repository root.
venv venv "tools-2" 'uvicorn[standard]' aiohttp orjson matplotlib pyyaml py-spy || exit 1
log "switchpoint (editable) into bench venv"
$CACHE/venv/bin/pip install -q -e .. >"$CACHE/switchpoint.log" 2>&1 \
  || { log "switchpoint install failed (see bench/.cache/switchpoint.log)"; \
       echo "pip install -e . failed (see bench/.cache/switchpoint.log)" >"$CACHE/switchpoint.unavailable"; }
[ -x $CACHE/venv/bin/switchpoint ] && rm -f "$CACHE/switchpoint.unavailable"

venv litellm "$LITELLM_VERSION" "litellm[proxy]==$LITELLM_VERSION" || log "litellm unavailable"
venv tensorzero "$TENSORZERO_VERSION" "tensorzero==$TENSORZERO_VERSION" || log "tensorzero unavailable"

# Portkey from npm.
dir=$CACHE/portkey
if [ "$(cat "$dir/.stamp" 2>/dev/null)" != "$PORTKEY_VERSION" ]; then
  log "npm @portkey-ai/gateway@$PORTKEY_VERSION"
  rm -rf "$dir" "$CACHE/portkey.unavailable"; mkdir -p "$dir"
  if (cd "$dir" && npm init -y && npm install --no-audit --no-fund "@portkey-ai/gateway@$PORTKEY_VERSION") \
      >"$CACHE/portkey.log" 2>&1; then
    echo "$PORTKEY_VERSION" >"$dir/.stamp"
  else
    echo "npm install @portkey-ai/gateway@$PORTKEY_VERSION failed (see bench/.cache/portkey.log)" \
      >"$CACHE/portkey.unavailable"
    log "portkey unavailable"
  fi
fi
log "done"
