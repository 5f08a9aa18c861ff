#!/usr/bin/env bash
# The Cerebrum lab: three Debian 12 hosts, `cm4` and two inference backends `vps1` and `vps2`,
# booted with systemd-nspawn (real systemd as PID 1) on the bridge cerebrum0, reachable over ssh, with NAT to Debian's
# mirror and PyPI. See tests/lab/README.md.
#
#   lab.sh up              boot the hosts (a no-op when they are up; a half-up lab is
#                          torn down and started clean)
#   lab.sh status          one line per host; exit 0 all up, 3 down, 1 partial
#   lab.sh down            stop the hosts; remove the bridge, the nftables table, the copies
#   lab.sh ssh HOST [CMD]  ssh to a host as root with the lab key
#
# Runtime state lives in $REPO/.lab/, caches in ${CEREBRUM_CACHE:-~/.cache/cerebrum}/lab/.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
readonly REPO
readonly LAB_DIR=${REPO}/.lab
readonly CACHE_DIR=${CEREBRUM_CACHE:-${HOME}/.cache/cerebrum}
readonly LAB_CACHE=${CACHE_DIR}/lab
readonly CCACHE_DIR=${CACHE_DIR}/ccache
# Machine-wide like the bridge and the addresses, and at a literal path so that every
# inventory consumer (Ansible, testinfra's ssh backend) can use inventory/lab as it is.
readonly SSH_KEY=/var/lib/cerebrum-lab/ssh/id_ed25519
readonly LOCK_FILE=${LAB_DIR}/lock
readonly FORWARD_SAVED=${LAB_DIR}/ip_forward.before

readonly BRIDGE=cerebrum0
readonly GATEWAY=10.213.77.1
readonly SUBNET=10.213.77.0/24
readonly NFT_TABLE=(inet cerebrum_lab)
# Two backends, so that the orchestrator's routing and failover across the `vps` group are
# tested as deployed (a user who outgrows one VPS adds another).
readonly HOSTS=(cm4 vps1 vps2)
declare -rA HOST_ADDR=([cm4]=10.213.77.10 [vps1]=10.213.77.20 [vps2]=10.213.77.21)
# Extra nspawn binds per host (HOST_PATH:GUEST_PATH); the role uses ccache when present.
declare -rA HOST_BINDS=([vps1]="${CCACHE_DIR}:/var/cache/ccache" [vps2]="${CCACHE_DIR}:/var/cache/ccache")

readonly SUITE=bookworm
readonly MIRROR=http://deb.debian.org/debian
readonly PACKAGES=systemd,systemd-sysv,dbus,python3,openssh-server,iproute2,ca-certificates
# Bump when the way the cached rootfs is built changes, so old tarballs are rebuilt.
readonly RECIPE=1

readonly BOOT_TIMEOUT=${LAB_BOOT_TIMEOUT:-120}
readonly STOP_TIMEOUT=${LAB_STOP_TIMEOUT:-20}
readonly LOCK_TIMEOUT=${LAB_LOCK_TIMEOUT:-900}
readonly SSH_OPTS=(-i "$SSH_KEY" -o BatchMode=yes -o ConnectTimeout=3 -o LogLevel=ERROR
                   -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null)

# --------------------------------------------------------------------------- helpers

log() { printf '[lab] %s\n' "$*"; }
warn() { printf '[lab] %s\n' "$*" >&2; }
die() { printf '[lab] ERROR: %s\n' "$*" >&2; exit 1; }

# Microsecond clock, and the time elapsed since a reading of it ("4.2s").
now_us() { local t=${EPOCHREALTIME/[.,]/}; printf '%s' "$((10#$t))"; }
since() { local us=$(($(now_us) - $1)); printf '%d.%ds' $((us / 1000000)) $((us / 100000 % 10)); }

indent() { sed 's/^/[lab]   /'; }

require_root() { ((EUID == 0)) || die "must run as root (systemd-nspawn, bridge, nftables)"; }

# Fail early, naming every missing command and the Debian package that provides it.
require_commands() {
  declare -A pkg=([debootstrap]=debootstrap [systemd-nspawn]=systemd-container
    [systemd-machine-id-setup]=systemd [nft]=nftables [ip]=iproute2 [ssh]=openssh-client
    [ssh-keygen]=openssh-client [setsid]=util-linux [flock]=util-linux [findmnt]=util-linux
    [pgrep]=procps [tar]=tar [gzip]=gzip [sha256sum]=coreutils [systemctl]=systemd)
  local cmd missing=()
  for cmd in "${!pkg[@]}"; do
    command -v "$cmd" >/dev/null || missing+=("$cmd (package ${pkg[$cmd]})")
  done
  ((${#missing[@]} == 0)) ||
    die "missing commands: ${missing[*]}; run tools/install_deps.sh (or make deps)"
}

# One `up` or `down` at a time. fd 9 is closed for the long-lived nspawn processes.
take_lock() {
  mkdir -p "$LAB_DIR"
  exec 9>"$LOCK_FILE"
  flock -w "$LOCK_TIMEOUT" 9 || die "another lab.sh holds $LOCK_FILE for over ${LOCK_TIMEOUT}s"
}

host_list() {
  local name sep=''
  for name in "${HOSTS[@]}"; do printf '%s%s %s' "$sep" "$name" "${HOST_ADDR[$name]}"; sep=', '; done
}
host_dir() { printf '%s/hosts/%s' "$LAB_DIR" "$1"; }
console_log() { printf '%s/%s.console.log' "$LAB_DIR" "$1"; }

known_host() {
  [[ -n ${HOST_ADDR[$1]+set} ]] || die "unknown host '$1' (hosts: ${HOSTS[*]})"
}

host_ssh() {
  local name=$1
  shift
  # shellcheck disable=SC2029  # the command is meant to be expanded here, then run there
  ssh "${SSH_OPTS[@]}" "root@${HOST_ADDR[$name]}" "$@"
}

# systemd's state inside a host over ssh ("running", "degraded", ...); empty if unreachable.
host_state() { host_ssh "$1" systemctl is-system-running </dev/null 2>/dev/null || true; }

# PIDs of the systemd-nspawn processes booting a host's directory: found through /proc so
# that a crashed run's leftovers are found too, with or without a pid file.
host_pids() {
  local dir pid
  dir=$(host_dir "$1")
  for pid in $(pgrep -x systemd-nspawn || true); do
    { tr '\0' '\n' <"/proc/$pid/cmdline"; } 2>/dev/null | grep -qxF -- "--directory=$dir" &&
      printf '%s\n' "$pid"
  done
  return 0
}

bridge_exists() { ip link show dev "$BRIDGE" >/dev/null 2>&1; }
table_exists() { nft list table "${NFT_TABLE[@]}" >/dev/null 2>&1; }

# Each host gets its own cgroup (in every hierarchy systemd uses): with --keep-unit, nspawn
# builds the guest's tree below its own cgroup, so two hosts started from the same cgroup
# would share /payload/system.slice/... and one guest's systemd would manage (and kill)
# the other's units.
cgroup_roots() {
  local root
  if [[ -f /sys/fs/cgroup/cgroup.controllers ]]; then
    printf '%s\n' /sys/fs/cgroup
  else
    for root in /sys/fs/cgroup/systemd /sys/fs/cgroup/unified; do
      [[ -f $root/cgroup.procs ]] && printf '%s\n' "$root"
    done
  fi
  return 0
}

enter_host_cgroup() {
  local root cg
  for root in $(cgroup_roots); do
    cg=$root/cerebrum-lab/$1
    mkdir -p "$cg"
    printf '%s\n' "$BASHPID" >"$cg/cgroup.procs"
  done
}

# Kill whatever is still in the lab's cgroups (a crashed run's guests), then remove them.
remove_lab_cgroups() {
  local root pids
  for root in $(cgroup_roots); do
    [[ -d $root/cerebrum-lab ]] || continue
    pids=$(find "$root/cerebrum-lab" -name cgroup.procs -exec cat {} + | sort -u)
    if [[ -n $pids ]]; then
      warn "killing leftover lab processes: $(echo "$pids" | paste -sd' ' -)"
      # shellcheck disable=SC2086  # one pid per word
      kill -KILL $pids 2>/dev/null || true
      sleep 0.5
    fi
    find "$root/cerebrum-lab" -depth -type d -exec rmdir {} + 2>/dev/null || true
    [[ -d $root/cerebrum-lab ]] && warn "could not remove cgroup $root/cerebrum-lab"
  done
  return 0
}

lab_cgroups_exist() {
  local root
  for root in $(cgroup_roots); do [[ -d $root/cerebrum-lab ]] && return 0; done
  return 1
}

# Unmount anything below DIR (a crashed debootstrap leaves proc/sys mounted), then delete it
# without crossing into other file systems.
remove_tree() {
  local dir=$1 mnt
  [[ -e $dir ]] || return 0
  findmnt -rn -o TARGET | { grep -F -- "$dir/" || true; } | sort -r | while read -r mnt; do
    umount -l "$mnt" || true
  done
  rm -rf --one-file-system -- "$dir"
}

# --------------------------------------------------------------------------- rootfs cache

# The cached tarball is keyed by everything that changes its content.
rootfs_tarball() {
  local arch key
  arch=$(dpkg --print-architecture)
  key=$(printf '%s\n' "$RECIPE" "$SUITE" "$arch" minbase "$PACKAGES" | sha256sum | cut -c1-12)
  printf '%s/rootfs-%s-%s-%s.tar.gz' "$LAB_CACHE" "$SUITE" "$arch" "$key"
}

build_rootfs_tarball() {
  local tarball=$1 work t0 stale
  for stale in "$LAB_CACHE"/build.*; do remove_tree "$stale"; done
  work=$(mktemp -d "$LAB_CACHE/build.XXXXXX")
  log "no cached rootfs: debootstrap $SUITE minbase (+ $PACKAGES), ~100 s the first time"
  t0=$(now_us)
  if ! debootstrap --variant=minbase --include="$PACKAGES" --cache-dir="$LAB_CACHE/debs" \
    "$SUITE" "$work/rootfs" "$MIRROR" >"$LAB_DIR/debootstrap.log" 2>&1; then
    tail -n 20 "$LAB_DIR/debootstrap.log" | indent >&2
    remove_tree "$work"
    die "debootstrap failed (full log: $LAB_DIR/debootstrap.log)"
  fi
  log "debootstrap done ($(since "$t0"))"
  # Per-host identity is made at each `up`; the image carries none.
  rm -f "$work"/rootfs/etc/ssh/ssh_host_* "$work"/rootfs/var/cache/apt/archives/*.deb \
    "$work/rootfs/var/lib/dbus/machine-id"
  : >"$work/rootfs/etc/machine-id"
  t0=$(now_us)
  tar -C "$work/rootfs" --numeric-owner --xattrs -czf "$work/rootfs.tar.gz" .
  mv "$work/rootfs.tar.gz" "$tarball"
  remove_tree "$work"
  log "cached $(basename "$tarball") ($(du -h "$tarball" | cut -f1), packed in $(since "$t0"))"
  for stale in "$LAB_CACHE"/rootfs-*.tar.gz; do
    [[ $stale == "$tarball" ]] || { rm -f "$stale"; log "removed outdated $(basename "$stale")"; }
  done
}

ensure_rootfs_tarball() {
  local tarball
  tarball=$(rootfs_tarball)
  mkdir -p "$LAB_CACHE/debs"
  if [[ -f $tarball ]]; then
    log "cached rootfs: $tarball"
  else
    build_rootfs_tarball "$tarball"
  fi
}

# Both copies are unpacked at once (gzip is single-threaded; the machine has 2 cores).
unpack_hosts() {
  local tarball name dir t0 pids=()
  tarball=$(rootfs_tarball)
  t0=$(now_us)
  for name in "${HOSTS[@]}"; do
    dir=$(host_dir "$name")
    remove_tree "$dir"
    mkdir -p "$dir"
    tar -C "$dir" --numeric-owner --xattrs --xattrs-include='*' -xzf "$tarball" &
    pids+=("$!")
  done
  for name in "${pids[@]}"; do wait "$name" || die "unpacking $tarball failed"; done
  log "unpacked ${HOSTS[*]} ($(since "$t0"))"
}

# --------------------------------------------------------------------------- host setup

ensure_ssh_key() {
  [[ -f $SSH_KEY ]] && return 0
  mkdir -p "$(dirname "$SSH_KEY")"
  ssh-keygen -q -t ed25519 -N '' -C cerebrum-lab -f "$SSH_KEY"
  log "generated the lab ssh key $SSH_KEY"
}

# The hosts use this machine's resolver (reached through NAT): the first IPv4,
# non-loopback nameserver; LAB_DNS overrides.
pick_dns() {
  local dns=${LAB_DNS:-} f
  for f in /etc/resolv.conf /run/systemd/resolve/resolv.conf; do
    [[ -n $dns ]] && break
    [[ -r $f ]] && dns=$(awk '$1 == "nameserver" && $2 ~ /^[0-9.]+$/ && $2 !~ /^127\./ \
      { print $2; exit }' "$f")
  done
  [[ -n $dns ]] || die "no usable IPv4 nameserver in /etc/resolv.conf; set LAB_DNS=ADDRESS"
  printf '%s' "$dns"
}

write_identity() {
  local name=$1 dir=$2 other
  printf '%s\n' "$name" >"$dir/etc/hostname"
  {
    printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n'
    for other in "${HOSTS[@]}"; do printf '%s\t%s\n' "${HOST_ADDR[$other]}" "$other"; done
  } >"$dir/etc/hosts"
  # dbus's copy would otherwise seed the same id into both hosts.
  rm -f "$dir/etc/machine-id" "$dir/var/lib/dbus/machine-id"
  systemd-machine-id-setup --root="$dir" >/dev/null 2>&1 ||
    die "systemd-machine-id-setup --root=$dir failed"
  ln -s /etc/machine-id "$dir/var/lib/dbus/machine-id"
  rm -f "$dir"/etc/ssh/ssh_host_*
  ssh-keygen -A -f "$dir" >/dev/null
  install -d -m 0700 "$dir/root/.ssh"
  install -m 0600 "$SSH_KEY.pub" "$dir/root/.ssh/authorized_keys"
}

write_network() {
  local name=$1 dir=$2 dns=$3
  # Same name as systemd's own file for host0 (DHCP), which this one replaces.
  cat >"$dir/etc/systemd/network/80-container-host0.network" <<EOF
[Match]
Name=host0

[Network]
Address=${HOST_ADDR[$name]}/24
Gateway=${GATEWAY}
DNS=${dns}
LinkLocalAddressing=no
IPv6AcceptRA=no
EOF
  systemctl --root="$dir" enable systemd-networkd.service >/dev/null 2>&1
  rm -f "$dir/etc/resolv.conf"
  printf 'nameserver %s\n' "$dns" >"$dir/etc/resolv.conf"
}

# HTTPS leaves through a proxy whose CA only this machine's bundle has: the hosts get the
# bundle itself, and the local CA files so that update-ca-certificates keeps them.
write_trust() {
  local dir=$1 bundle=/etc/ssl/certs/ca-certificates.crt crt
  install -d "$dir/usr/local/share/ca-certificates"
  for crt in /usr/local/share/ca-certificates/*.crt; do
    [[ -f $crt ]] && install -m 0644 "$crt" "$dir/usr/local/share/ca-certificates/"
  done
  install -m 0644 "$bundle" "$dir$bundle"
  printf '[global]\ncert = %s\n' "$bundle" >"$dir/etc/pip.conf"
}

# Debian's full set of suites (like a real VPS) and .debs kept in the bound archive cache.
write_apt() {
  local dir=$1
  rm -f "$dir/etc/apt/sources.list"
  cat >"$dir/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: ${MIRROR}
Suites: ${SUITE} ${SUITE}-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: ${MIRROR}-security
Suites: ${SUITE}-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  printf '%s\n' 'APT::Keep-Downloaded-Packages "true";' \
    'Binary::apt::APT::Keep-Downloaded-Packages "true";' \
    >"$dir/etc/apt/apt.conf.d/10cerebrum-lab-keep-debs"
}

configure_hosts() {
  local dns=$1 name dir
  for name in "${HOSTS[@]}"; do
    dir=$(host_dir "$name")
    write_identity "$name" "$dir"
    write_network "$name" "$dir" "$dns"
    write_trust "$dir"
    write_apt "$dir"
    install -d "$dir/var/log/journal"
    mkdir -p "$LAB_CACHE/apt/$name/partial"
  done
  log "configured ${HOSTS[*]} (hostname, machine-id, ssh keys, network, DNS $dns, CA, apt)"
}

# --------------------------------------------------------------------------- network

network_up() {
  local dns=$1
  ip link add "$BRIDGE" type bridge
  ip addr add "$GATEWAY/24" dev "$BRIDGE"
  ip link set "$BRIDGE" up
  if [[ $(</proc/sys/net/ipv4/ip_forward) != 1 ]]; then
    cp /proc/sys/net/ipv4/ip_forward "$FORWARD_SAVED"
    echo 1 >/proc/sys/net/ipv4/ip_forward
  fi
  # Masquerade the lab; forwarded traffic from it may only be DNS to the resolver, HTTP or
  # HTTPS (the mirror and PyPI): the hosts never reach other addresses' other services.
  nft -f - <<EOF
table ${NFT_TABLE[*]} {
  chain forward {
    type filter hook forward priority filter; policy accept;
    iifname "$BRIDGE" oifname "$BRIDGE" accept
    iifname "$BRIDGE" ip daddr $dns meta l4proto { tcp, udp } th dport 53 accept
    iifname "$BRIDGE" tcp dport { 80, 443 } accept
    iifname "$BRIDGE" drop
  }
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    ip saddr $SUBNET ip daddr != $SUBNET masquerade
  }
}
EOF
  log "bridge $BRIDGE $GATEWAY/24, ip_forward=1, nftables table ${NFT_TABLE[*]} (NAT)"
}

# --------------------------------------------------------------------------- boot

start_host() {
  local name=$1 dir log bind args
  dir=$(host_dir "$name")
  log=$(console_log "$name")
  args=(--boot --directory="$dir" --machine="$name" --register=no --keep-unit
    --network-bridge="$BRIDGE" --console=read-only --resolv-conf=off --link-journal=no
    --bind="$LAB_CACHE/apt/$name:/var/cache/apt/archives")
  for bind in ${HOST_BINDS[$name]:-}; do
    mkdir -p "${bind%%:*}"
    args+=(--bind="$bind")
  done
  (
    enter_host_cgroup "$name"
    exec setsid systemd-nspawn "${args[@]}"
  ) </dev/null >"$log" 2>&1 9>&- &
  printf '%s\n' "$!" >"$LAB_DIR/$name.pid"
  log "started $name (nspawn pid $!, console $log)"
}

# Why a host did not come up: its console and, when it got that far, its journal.
explain_failure() {
  local name=$1 reason=$2 journal
  journal=$(host_dir "$name")/var/log/journal
  warn "host $name failed to start: $reason"
  warn "last lines of $(console_log "$name"):"
  tail -n 30 "$(console_log "$name")" 2>/dev/null | indent >&2 || true
  if compgen -G "$journal/*/*.journal" >/dev/null; then
    warn "its journal (warnings and worse):"
    journalctl -D "$journal" -p warning -n 30 --no-pager 2>&1 | indent >&2 || true
  fi
}

# Wait until systemd inside the host says running (or degraded: then list failed units).
wait_for_host() {
  local name=$1 t0 state=''
  t0=$(now_us)
  while (($(now_us) - t0 < BOOT_TIMEOUT * 1000000)); do
    if ! kill -0 "$(<"$LAB_DIR/$name.pid")" 2>/dev/null; then
      explain_failure "$name" "systemd-nspawn exited"
      return 1
    fi
    state=$(host_state "$name")
    case $state in
      running)
        log "$name is running ($(since "$t0") after start)"
        return 0 ;;
      degraded)
        log "$name is degraded ($(since "$t0") after start); failed units:"
        host_ssh "$name" systemctl --failed --no-legend --plain </dev/null | indent
        return 0 ;;
      maintenance | stopping | offline)
        explain_failure "$name" "systemd is in state '$state'"
        return 1 ;;
    esac
    sleep 0.5
  done
  explain_failure "$name" "not up within ${BOOT_TIMEOUT}s (last state: ${state:-no ssh})"
  return 1
}

# The resolver and NAT work: each host resolves the mirror and PyPI.
check_dns() {
  local dns=$1 name
  for name in "${HOSTS[@]}"; do
    host_ssh "$name" getent hosts deb.debian.org pypi.org </dev/null >/dev/null ||
      die "host $name cannot resolve deb.debian.org / pypi.org (resolver $dns)"
  done
  log "both hosts resolve deb.debian.org and pypi.org"
}

# --------------------------------------------------------------------------- teardown

# SIGTERM makes nspawn shut the guest down cleanly (~6 s); SIGKILL after STOP_TIMEOUT.
stop_hosts() {
  local name pid pids=() t0
  for name in "${HOSTS[@]}"; do
    for pid in $(host_pids "$name"); do
      log "stopping $name (nspawn pid $pid)"
      pids+=("$pid")
    done
  done
  ((${#pids[@]})) || return 0
  kill -TERM "${pids[@]}" 2>/dev/null || true
  t0=$(now_us)
  for pid in "${pids[@]}"; do
    while kill -0 "$pid" 2>/dev/null && (($(now_us) - t0 < STOP_TIMEOUT * 1000000)); do
      sleep 0.2
    done
    if kill -0 "$pid" 2>/dev/null; then
      warn "nspawn pid $pid ignored SIGTERM for ${STOP_TIMEOUT}s: killing it"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done
  log "hosts stopped ($(since "$t0"))"
}

# Removes exactly what `up` creates; harmless when nothing is there. Prints what it did.
teardown() {
  local name
  stop_hosts
  for name in "${HOSTS[@]}"; do
    if ip link show dev "vb-$name" >/dev/null 2>&1; then
      ip link del "vb-$name" && log "removed stale veth vb-$name"
    fi
  done
  if table_exists; then
    nft delete table "${NFT_TABLE[@]}" && log "removed nftables table ${NFT_TABLE[*]}"
  fi
  if bridge_exists; then ip link del "$BRIDGE" && log "removed bridge $BRIDGE"; fi
  if [[ -f $FORWARD_SAVED ]]; then
    cat "$FORWARD_SAVED" >/proc/sys/net/ipv4/ip_forward
    rm -f "$FORWARD_SAVED"
    log "restored net.ipv4.ip_forward=$(</proc/sys/net/ipv4/ip_forward)"
  fi
  if lab_cgroups_exist; then remove_lab_cgroups && log "removed the lab's cgroups"; fi
  if [[ -d $LAB_DIR/hosts ]]; then remove_tree "$LAB_DIR/hosts" && log "removed host copies"; fi
  for name in "${HOSTS[@]}"; do rm -f "$LAB_DIR/$name.pid"; done
}

# Anything at all of a lab on this machine (running, half-up or crashed)?
lab_leftovers() {
  local name
  if bridge_exists || table_exists || lab_cgroups_exist ||
    [[ -d $LAB_DIR/hosts || -f $FORWARD_SAVED ]]; then
    return 0
  fi
  for name in "${HOSTS[@]}"; do
    [[ -n $(host_pids "$name") || -f $LAB_DIR/$name.pid ]] && return 0
  done
  return 1
}

lab_is_up() {
  local name
  bridge_exists && table_exists || return 1
  for name in "${HOSTS[@]}"; do
    [[ -n $(host_pids "$name") ]] || return 1
    [[ $(host_state "$name") =~ ^(running|degraded)$ ]] || return 1
  done
}

# --------------------------------------------------------------------------- commands

cmd_up() {
  local t0 name dns
  require_root
  require_commands
  take_lock
  if lab_is_up; then
    log "already up: $(host_list) (nothing to do)"
    return 0
  fi
  if lab_leftovers; then
    log "found a half-up or crashed lab: tearing it down first"
    teardown
  fi
  t0=$(now_us)
  trap 'rc=$?; if ((rc)); then warn "up failed: tearing the lab down"; teardown >&2; fi' EXIT
  trap 'exit 130' INT TERM
  ensure_ssh_key
  dns=$(pick_dns)
  ensure_rootfs_tarball
  unpack_hosts
  configure_hosts "$dns"
  network_up "$dns"
  for name in "${HOSTS[@]}"; do start_host "$name"; done
  for name in "${HOSTS[@]}"; do wait_for_host "$name"; done
  check_dns "$dns"
  trap - EXIT INT TERM
  log "lab up in $(since "$t0"): $(host_list)" \
    "(ssh: tests/lab/lab.sh ssh HOST; ansible: -i inventory/lab)"
}

cmd_down() {
  require_root
  take_lock
  if lab_leftovers; then
    teardown
    log "lab down"
  else
    log "nothing to stop: the lab is down"
  fi
}

cmd_status() {
  local name pid state ssh_ok up=0 seen=0
  printf '%-5s %-14s %-10s %-5s %s\n' HOST ADDRESS NSPAWN-PID SSH SYSTEMD
  for name in "${HOSTS[@]}"; do
    pid=$(host_pids "$name" | paste -sd, -)
    state='' ssh_ok=no
    if [[ -n $pid ]]; then
      seen=$((seen + 1))
      state=$(host_state "$name")
      [[ -n $state ]] && ssh_ok=yes
      [[ $state =~ ^(running|degraded)$ ]] && up=$((up + 1))
    fi
    printf '%-5s %-14s %-10s %-5s %s\n' "$name" "${HOST_ADDR[$name]}" "${pid:--}" "$ssh_ok" \
      "${state:--}"
  done
  printf 'bridge %s: %s; nftables table %s: %s\n' "$BRIDGE" \
    "$(bridge_exists && echo present || echo absent)" "${NFT_TABLE[*]}" \
    "$(table_exists && echo present || echo absent)"
  if ((up == ${#HOSTS[@]})) && bridge_exists && table_exists; then return 0; fi
  if ((seen == 0)) && ! lab_leftovers; then return 3; fi
  return 1
}

cmd_ssh() {
  (($# >= 1)) || die "usage: lab.sh ssh HOST [CMD...]"
  local name=$1
  shift
  known_host "$name"
  [[ -f $SSH_KEY ]] || die "no lab key at $SSH_KEY: run lab.sh up first"
  exec ssh "${SSH_OPTS[@]}" "root@${HOST_ADDR[$name]}" "$@"
}

usage() {
  sed -n '/^#   lab.sh/,/^#$/p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
  exit "${1:-0}"
}

main() {
  (($# >= 1)) || usage 2
  local cmd=$1
  shift
  case $cmd in
    up) cmd_up ;;
    down) cmd_down ;;
    status) cmd_status ;;
    ssh) cmd_ssh "$@" ;;
    -h | --help | help) usage 0 ;;
    *) warn "unknown command '$cmd'"; usage 2 ;;
  esac
}

main "$@"
