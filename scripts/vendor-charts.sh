#!/usr/bin/env bash
# Refresh the dashboard's charting library from the npm registry. The minified build is committed,
# so running the gateway never fetches anything.
set -euo pipefail
VERSION="${CHARTJS_VERSION:-4.5.1}"
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
npm init -y >/dev/null
npm install --no-audit --no-fund --silent "chart.js@${VERSION}"
cp node_modules/chart.js/dist/chart.umd.min.js "$root/src/switchpoint/server/static/chart.umd.min.js"
echo "vendored chart.js ${VERSION} into src/switchpoint/server/static/chart.umd.min.js"
