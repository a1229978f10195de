#!/usr/bin/env bash
# Makes a fresh clone runnable: npm dependencies (exactly as package-lock.json
# says, so nothing tracked changes), Debian's nats-server (plus mosquitto and its
# clients with --test, used as a peer by tests and benchmarks; socat and chromium
# with --test, for the flasher's pty and browser tests), and the compiled
# JavaScript the `sentinel` command runs. Quiet when everything is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: installing npm dependencies…" >&2
  npm ci --no-audit --no-fund --loglevel=error >&2
fi

need=()
command -v nats-server >/dev/null 2>&1 || need+=(nats-server)
if [ "${1:-}" = "--test" ]; then
  command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || need+=(mosquitto)
  command -v mosquitto_pub >/dev/null 2>&1 || need+=(mosquitto-clients)
  # socat gives the ESP ROM simulator its pseudo-terminal; chromium runs the web pages' tests
  command -v socat >/dev/null 2>&1 || need+=(socat)
  command -v chromium >/dev/null 2>&1 || need+=(chromium)
  # pyserial's RFC 2217 client drives the ROM simulator the way esptool does
  [ -x /usr/bin/python3 ] && /usr/bin/python3 -c 'import serial' 2>/dev/null || need+=(python3-serial)
fi
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing ${need[*]} from Debian…" >&2
    # without starting their services: a system mosquitto would hold port 1883
    bash scripts/apt-install.sh "${need[@]}"
  else
    echo "setup: missing ${need[*]}; install with: sudo apt-get install ${need[*]}" >&2
    exit 1
  fi
fi

# Compile the workspaces: incremental, a fraction of a second when nothing changed
# (and what changed is for tsc -b and esbuild to know, not for this script to guess)
node scripts/build.mjs --quiet >&2
