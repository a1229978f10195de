#!/usr/bin/env bash
# Installs Debian packages without starting or enabling their services:
#   bash scripts/apt-install.sh <package>…   (as root)
# Debian's mosquitto starts a broker on port 1883 when it is installed (and at
# every boot after), and a packaged nats-server service would take 4222: both are
# the gateway's default ports. The gateway runs its own nats-server and the tests
# run their own mosquitto, so no system service is wanted.
#
# While apt-get runs, a policy-rc.d answering 101 ("action forbidden") makes the
# packages' maintainer scripts skip starting services (invoke-rc.d and
# deb-systemd-invoke both ask it); an existing policy-rc.d is put back afterwards.
# Then the units the packages shipped are disabled, so they do not start at boot.
# SENTINEL_POLICY_RC_D moves the policy file (for the tests of this script).
set -euo pipefail
[ $# -gt 0 ] || { echo "usage: apt-install.sh <package>…" >&2; exit 2; }

policy=${SENTINEL_POLICY_RC_D:-/usr/sbin/policy-rc.d}
saved="$policy.sentinel-saved"
mark='# sentinel apt-install.sh: no service starts while packages install'

restore_policy() {
  # ours (this run's, or one left by a run that was killed): put back what was there
  if [ -f "$policy" ] && grep -qF "$mark" "$policy"; then
    if [ -e "$saved" ]; then mv -f "$saved" "$policy"; else rm -f "$policy"; fi
  fi
}

restore_policy
if [ -e "$policy" ]; then cp -p "$policy" "$saved"; fi
trap restore_policy EXIT
printf '#!/bin/sh\n%s\nexit 101\n' "$mark" >"$policy"
chmod 755 "$policy"

export DEBIAN_FRONTEND=noninteractive
apt-get -o DPkg::Lock::Timeout=600 update -qq >&2
apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "$@" >&2
restore_policy
trap - EXIT

# the systemd units and SysV init scripts the packages brought
units=()
scripts=()
for package in "$@"; do
  while IFS= read -r file; do
    case "$file" in
      /lib/systemd/system/*.service | /usr/lib/systemd/system/*.service) units+=("${file##*/}") ;;
      /etc/init.d/*) scripts+=("${file##*/}") ;;
    esac
  done < <(dpkg-query -L "$package" 2>/dev/null || true)
done

if [ ${#units[@]} -gt 0 ] && command -v systemctl >/dev/null 2>&1; then
  if [ -d /run/systemd/system ]; then
    systemctl disable --now --quiet "${units[@]}" >&2
  else
    # no running systemd (a container, a chroot): only the boot-time links
    systemctl disable --quiet "${units[@]}" >&2 || true
  fi
  echo "apt-install: disabled ${units[*]} (the gateway and its tests run their own servers)" >&2
elif [ ${#scripts[@]} -gt 0 ] && command -v update-rc.d >/dev/null 2>&1; then
  for script in "${scripts[@]}"; do update-rc.d "$script" disable >/dev/null 2>&1 || true; done
  echo "apt-install: disabled ${scripts[*]} at boot (the gateway and its tests run their own servers)" >&2
fi
