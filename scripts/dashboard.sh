# The dashboard (dashboard/, TypeScript + Vite): install its npm packages and build it
# into dashboard/dist, which `herald serve` serves at /. Sourced by scripts/lib.sh.

# build_dashboard: npm ci (when package-lock.json changed) and npm run build.
build_dashboard() {
  local dir="$PWD/dashboard" stamp="$PWD/dashboard/node_modules/.herald-lock"
  if [ ! -f "$stamp" ] || ! cmp -s "$dir/package-lock.json" "$stamp"; then
    echo "==> dashboard: npm ci" >&2
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >&2)
    cp "$dir/package-lock.json" "$stamp"
  fi
  echo "==> dashboard: npm run build" >&2
  (cd "$dir" && npm run --silent build >&2)
  export HERALD_DASHBOARD_DIR="$dir/dist"
}

# ensure_chromium: Debian's Chromium for the browser end-to-end tests.
ensure_chromium() {
  [ -x /usr/bin/chromium ] || apt_install chromium
}
