#!/usr/bin/env bash
# Installs the opfleet package and checks the installed system, then purges it:
#   check-install.sh OPFLEET_DEB
# scripts/check-packaging runs it as root inside a throwaway root (an overlay of this
# machine's file system in a private mount namespace), so nothing here touches the
# machine itself; see docs/packaging.md.
set -euo pipefail

deb="$1"
units=(opfleet-supervisor@.service opfleet-scaler.service opfleet-scheduler.service)
unitdir=/lib/systemd/system
export DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8

step() { printf '  - %s\n' "$*"; }
fail() { printf 'check-install: %s\n' "$*" >&2; exit 1; }
installed() { [[ "$(dpkg-query -W -f='${db:Status-Status}' opfleet 2>/dev/null)" == installed ]]; }

# Whatever happens, leave no package behind.
trap 'installed && dpkg --purge opfleet >/dev/null 2>&1 || true' EXIT

step "dpkg -i $(basename "$deb")"
dpkg -i "$deb" >/tmp/opfleet-dpkg.log 2>&1 || { cat /tmp/opfleet-dpkg.log >&2; fail "dpkg -i failed"; }
installed || fail "opfleet is not installed after dpkg -i"

step "the opfleet system user"
IFS=: read -r _ _ uid _ _ home shell < <(getent passwd opfleet) || fail "no opfleet user"
((uid < 1000)) || fail "opfleet is not a system user (uid $uid)"
[[ "$home" == /var/lib/opfleet ]] || fail "opfleet's home is $home, want /var/lib/opfleet"
[[ "$shell" == /usr/sbin/nologin ]] || fail "opfleet's shell is $shell, want /usr/sbin/nologin"
getent group opfleet >/dev/null || fail "no opfleet group"

step "files: binary, conffile (0640 root:opfleet), units, man page"
[[ -x /usr/bin/opfleet ]] || fail "/usr/bin/opfleet missing"
[[ "$(stat -c '%U:%G %a' /etc/opfleet/opfleet.conf)" == "root:opfleet 640" ]] ||
  fail "/etc/opfleet/opfleet.conf is $(stat -c '%U:%G %a' /etc/opfleet/opfleet.conf), want root:opfleet 640"
dpkg-query -W -f='${Conffiles}\n' opfleet | grep -q ' /etc/opfleet/opfleet.conf ' ||
  fail "/etc/opfleet/opfleet.conf is not a conffile"
for unit in "${units[@]}"; do
  [[ -f "$unitdir/$unit" ]] || fail "$unitdir/$unit missing"
done
if compgen -G '/etc/systemd/system/*.wants/opfleet*' >/dev/null; then
  fail "installing enabled a unit: $(ls /etc/systemd/system/*.wants/opfleet*)"
fi
man_warnings=$(man --warnings -E UTF-8 -l -Tutf8 /usr/share/man/man1/opfleet.1.gz 2>&1 >/dev/null)
[[ -z "$man_warnings" ]] || fail "man page warnings: $man_warnings"

step "systemd-analyze verify"
for unit in "${units[@]}"; do
  name="${unit/@./@check.}"  # a template is verified through an instance
  out=$(systemd-analyze verify "$name" 2>&1) || fail "systemd-analyze verify $name: $out"
  [[ -z "$out" ]] || fail "systemd-analyze verify $name: $out"
done

step "systemd-analyze security (exposure: 0 safest .. 10 unsafe; 'OK' is below 5)"
for unit in "${units[@]}"; do
  name="${unit/@./@check.}"
  level=$(systemd-analyze security --offline=yes --no-pager "$unitdir/$unit" 2>&1 |
    sed -n 's/.*Overall exposure level for .*: \([0-9.]*\) \([A-Z]*\).*$/\1 \2/p')
  [[ -n "$level" ]] || fail "systemd-analyze security gave no exposure level for $unit"
  printf '      %-28s %s\n' "$unit" "$level"
  awk -v l="${level%% *}" 'BEGIN { exit !(l < 5.0) }' || fail "$unit: exposure $level, want below 5 (OK)"
done

step "the installed binary, as the service user"
runuser -u opfleet -- /usr/bin/opfleet version
shown=$(runuser -u opfleet -- /usr/bin/opfleet config show 2>&1) ||
  fail "opfleet config show as opfleet: $shown"
grep -q '^# config file: /etc/opfleet/opfleet.conf$' <<<"$shown" ||
  fail "the opfleet user does not read /etc/opfleet/opfleet.conf: $(head -3 <<<"$shown")"

step "each unit's command line is accepted by the binary"
for unit in "${units[@]}"; do
  exec_start=$(sed -n 's/^ExecStart=//p' "$unitdir/$unit")
  read -r -a argv <<<"${exec_start//%i/check}"
  [[ "${argv[0]}" == /usr/bin/opfleet ]] || fail "$unit runs ${argv[0]}, not /usr/bin/opfleet"
  out=$(runuser -u opfleet -- "${argv[@]}" --help 2>&1 >/dev/null) || fail "$unit: '${argv[*]}' is refused: $out"
done

step "reinstall (maintainer scripts are idempotent)"
dpkg -i "$deb" >/tmp/opfleet-dpkg.log 2>&1 || { cat /tmp/opfleet-dpkg.log >&2; fail "second dpkg -i failed"; }
[[ "$(stat -c '%U:%G %a' /etc/opfleet/opfleet.conf)" == "root:opfleet 640" ]] || fail "reinstall changed the conffile's mode"

step "dpkg --purge"
install -d -o opfleet -g opfleet /var/lib/opfleet  # as the services' StateDirectory= would
dpkg --purge opfleet >/tmp/opfleet-dpkg.log 2>&1 || { cat /tmp/opfleet-dpkg.log >&2; fail "dpkg --purge failed"; }
[[ ! -e /etc/opfleet/opfleet.conf ]] || fail "purge left /etc/opfleet/opfleet.conf"
! dpkg-statoverride --list /etc/opfleet/opfleet.conf >/dev/null || fail "purge left the statoverride"
[[ ! -e /var/lib/opfleet ]] || fail "purge left /var/lib/opfleet"
[[ ! -e /usr/bin/opfleet ]] || fail "purge left /usr/bin/opfleet"
echo "check-install: installed, checked and purged $(basename "$deb")"
