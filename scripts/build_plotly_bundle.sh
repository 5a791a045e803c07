#!/usr/bin/env bash
# Rebuilds the dashboard's plotly.js bundle (src/energydash/dashboard/assets/vendor/):
# plotly.js core with only the trace types the dashboard draws (scripts/plotly_bundle/entry.js),
# about a quarter of the full bundle that Dash would load. Needs node and npm; run it after a
# plotly.js version change (keep it equal to the one the plotly Python package ships).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="$here/../src/energydash/dashboard/assets/vendor/plotly-energydash.min.js"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp "$here/plotly_bundle/entry.js" "$here/plotly_bundle/package.json" "$work/"
(cd "$work" && npm install --no-audit --no-fund --ignore-scripts >/dev/null \
  && npx esbuild entry.js --bundle --minify --format=iife --target=es2016 \
       --define:global=window --define:define.amd=false --alias:stream=stream-browserify \
       --outfile=bundle.js --log-level=warning \
       "--banner:js=/* plotly.js 4.1.1 (MIT), partial bundle: core, bar, heatmap, sankey; built by scripts/build_plotly_bundle.sh */")
cp "$work/bundle.js" "$out"
echo "wrote $out ($(wc -c <"$out") bytes)"
