# Shell functions the install scripts share (sourced, not run): installing Debian
# packages non-interactively on a fresh or a stale machine without letting their
# services start. The sourcing script defines log and die.

export DEBIAN_FRONTEND=noninteractive

# block_service_starts keeps packages from starting their services while they install
# (a temporary /usr/sbin/policy-rc.d answering 101), until the script exits. A
# policy-rc.d already there is restored.
block_service_starts() {
  POLICY=/usr/sbin/policy-rc.d
  POLICY_BACKUP=""
  if [[ -e $POLICY ]]; then
    POLICY_BACKUP=$(mktemp /tmp/policy-rc.d.backup.XXXXXX)
    cp -p "$POLICY" "$POLICY_BACKUP"
  fi
  trap restore_policy EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM HUP
  printf '#!/bin/sh\n# temporary, from imagegate %s\nexit 101\n' "$1" >"$POLICY"
  chmod 0755 "$POLICY"
}

restore_policy() {
  if [[ -n $POLICY_BACKUP ]]; then
    cp -p "$POLICY_BACKUP" "$POLICY" && rm -f "$POLICY_BACKUP"
  else
    rm -f "$POLICY"
  fi
}

# apt_install PACKAGE... installs the packages without their recommendations. The
# package lists are refreshed first only when the first package is unknown to them, and
# once more if the install fails on lists gone stale.
apt_install() {
  local updated=false cand
  candidate() { apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ {print $2}'; }
  apt_update() {
    log "running apt-get update"
    apt-get update -q || die "apt-get update failed (are Debian's package mirrors reachable?)"
    updated=true
  }
  cand=$(candidate "$1")
  if [[ -z $cand || $cand == "(none)" ]]; then
    log "$1 not in the package lists"
    apt_update
    cand=$(candidate "$1")
    [[ -n $cand && $cand != "(none)" ]] || die "no installable $1 package found after apt-get update"
  fi
  install_pkgs() {
    apt-get install -y -q --no-install-recommends \
      -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "$@"
  }
  log "installing $* ($1 $cand)"
  if ! install_pkgs "$@"; then
    $updated && die "apt-get install $* failed; see the output above"
    log "apt-get install failed; retrying once after apt-get update"
    apt_update
    install_pkgs "$@" || die "apt-get install $* failed; see the output above"
  fi
}

# disable_service NAME stops the packaged service NAME and takes it out of the boot,
# with or without systemd as PID 1.
disable_service() {
  if [[ -d /run/systemd/system ]]; then
    systemctl disable --now "$1.service" >/dev/null 2>&1 || true
  else
    if [[ -x /etc/init.d/$1 ]]; then
      "/etc/init.d/$1" stop >/dev/null 2>&1 || true
    fi
    systemctl disable "$1.service" >/dev/null 2>&1 || true
  fi
  if command -v update-rc.d >/dev/null && [[ -e /etc/init.d/$1 ]]; then
    update-rc.d "$1" disable >/dev/null 2>&1 || true
  fi
}
