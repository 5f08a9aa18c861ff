#!/usr/bin/env bash
# The Cerebrum lab: three Debian hosts (13 "trixie" by default, SUITE=bookworm for 12), `cm4`
# and two inference backends `vps1` and `vps2`, booted with systemd-nspawn (real systemd as
# PID 1) on the bridge cerebrum0, reachable over ssh, with NAT to the controller's Debian
# mirror and Python package index. See tests/lab/README.md.
#
#   lab.sh up              boot the hosts (a no-op when they are up; a half-up lab, or one
#                          whose cm4 has another architecture, is torn down and started clean)
#   lab.sh status          one line per host; exit 0 all up, 3 down, 1 partial
#   lab.sh down            stop the hosts; remove the bridge, the nftables table, the copies
#   lab.sh ssh HOST [CMD]  ssh to a host as root with the lab key
#   lab.sh unit [ARGS]     the unit tests (or pytest ARGS) on the release's own Python, as
#                          the CM4's venv has it, in a chroot of the cached root file system
#
# CM4_ARCH=arm64 makes `cm4` an arm64 host run by qemu-user (binfmt_misc); the default is
# this machine's architecture. SUITE (trixie, bookworm) picks the Debian release of every
# host. The mirror and the package index are this machine's own (its apt sources and pip
# configuration); LAB_MIRROR, LAB_SECURITY_MIRROR and LAB_PIP_INDEX_URL override them.
# A host that reboots itself is booted again.
# Runtime state lives in $REPO/.lab/, caches in ${CEREBRUM_CACHE:-~/.cache/cerebrum}/lab/.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
readonly REPO
readonly LAB_DIR=${REPO}/.lab
readonly CACHE_DIR=${CEREBRUM_CACHE:-${HOME}/.cache/cerebrum}
readonly LAB_CACHE=${CACHE_DIR}/lab
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

# The architecture of each host: `cm4` is CM4_ARCH (this machine's by default, or arm64 like
# a real CM4, emulated by qemu-user), the backends are always this machine's.
NATIVE_ARCH=$(dpkg --print-architecture)
readonly NATIVE_ARCH
readonly EMULATED_HOST=cm4
# Debian architecture -> qemu-user's name for it (the binfmt_misc entry is qemu-NAME).
declare -rA QEMU_NAME=([arm64]=aarch64)

# The Debian releases the lab boots (the ones site.yml is tested on); the first is the default.
readonly SUITES=(trixie bookworm)
SUITE=${SUITE:-${SUITES[0]}}
readonly SUITE
# One ccache for every release and for this machine's own build (tools/build_llama_server.py):
# the role keys it on the compiler's content, so trixie's compiler never hits bookworm's
# entries and nothing breaks, while hosts of this machine's release hit its own build.
# (One llama-server build is ~100 MB of the default 5 GB.)
readonly CCACHE_DIR=${CACHE_DIR}/ccache
# Extra nspawn binds per host (HOST_PATH:GUEST_PATH); the role uses ccache when present.
declare -rA HOST_BINDS=([vps1]="${CCACHE_DIR}:/var/cache/ccache" [vps2]="${CCACHE_DIR}:/var/cache/ccache")
readonly PACKAGES=systemd,systemd-sysv,dbus,python3,openssh-server,iproute2,ca-certificates
# Bump when the way the cached rootfs is built changes, so old tarballs are rebuilt.
readonly RECIPE=1

readonly BOOT_TIMEOUT=${LAB_BOOT_TIMEOUT:-120}
readonly STOP_TIMEOUT=${LAB_STOP_TIMEOUT:-20}
readonly LOCK_TIMEOUT=${LAB_LOCK_TIMEOUT:-900}
# Units of systemd 252 that qemu-user 7.2 cannot start at "step CREDENTIALS" (mount APIs
# it does not emulate): an empty LoadCredential= drop-in makes them start.
readonly QEMU_NO_CREDENTIALS=(systemd-sysctl systemd-sysusers systemd-tmpfiles-setup
  systemd-tmpfiles-setup-dev systemd-tmpfiles-clean systemd-firstboot procps)
# systemd-nspawn's exit status when the guest rebooted itself.
readonly REBOOT_STATUS=133
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
  if [[ $(wanted_arch "$EMULATED_HOST") != "$NATIVE_ARCH" ]]; then
    command -v update-binfmts >/dev/null || missing+=("update-binfmts (package binfmt-support)")
    command -v qemu-aarch64-static >/dev/null ||
      missing+=("qemu-aarch64-static (package qemu-user-static)")
  fi
  ((${#missing[@]} == 0)) ||
    die "missing commands: ${missing[*]}; run tools/install_deps.sh (or make deps)"
}

# SUITE is one of the releases the lab boots.
check_suite() {
  local known
  for known in "${SUITES[@]}"; do [[ $SUITE == "$known" ]] && return 0; done
  die "SUITE=$SUITE is not supported: use ${SUITES[*]} (the default is ${SUITES[0]})"
}

# CM4_ARCH is this machine's architecture or one that qemu-user runs here.
check_arch() {
  local arch
  arch=$(wanted_arch "$EMULATED_HOST")
  [[ $arch == "$NATIVE_ARCH" || -n ${QEMU_NAME[$arch]+set} ]] ||
    die "CM4_ARCH=$arch is not supported: use $NATIVE_ARCH (this machine's, the default) or ${!QEMU_NAME[*]}"
}

# A foreign architecture needs qemu-user registered with binfmt_misc with the F flag (the
# kernel opens the interpreter at registration, so it works inside the hosts' own root).
# Mounts binfmt_misc and registers qemu when needed; fails naming what is wrong.
ensure_binfmt() {
  local arch=$1 name entry dir=/proc/sys/fs/binfmt_misc
  [[ $arch == "$NATIVE_ARCH" ]] && return 0
  name=qemu-${QEMU_NAME[$arch]}
  entry=$dir/$name
  if [[ ! -e $dir/status ]]; then
    mount -t binfmt_misc binfmt_misc "$dir" 2>/dev/null ||
      die "cannot mount binfmt_misc at $dir (needed to run $arch binaries for CM4_ARCH=$arch)"
    log "mounted binfmt_misc at $dir"
  fi
  if [[ ! -e $entry ]]; then
    update-binfmts --enable "$name" >/dev/null 2>&1 || true
    [[ -e $entry ]] && log "registered $name with binfmt_misc (update-binfmts --enable $name)"
  fi
  [[ -e $entry ]] ||
    die "$name is not registered with binfmt_misc and 'update-binfmts --enable $name' failed:" \
      "install qemu-user-static and binfmt-support (tools/install_deps.sh), or use CM4_ARCH=$NATIVE_ARCH"
  grep -qx enabled "$entry" ||
    die "$name is registered with binfmt_misc but disabled: update-binfmts --enable $name"
  grep -q '^flags:.*F' "$entry" ||
    die "$name is registered with binfmt_misc without the F flag ($(grep '^flags:' "$entry")):" \
      "the hosts' root has no qemu; re-register it:" \
      "update-binfmts --disable $name && update-binfmts --enable $name"
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
# Written at `up`: the architecture a host was booted with, and, while `down` stops the
# hosts, a flag that keeps a host's boot loop from booting it again.
arch_file() { printf '%s/%s.arch' "$LAB_DIR" "$1"; }
stop_flag() { printf '%s/%s.stopping' "$LAB_DIR" "$1"; }
# Written at `up`: the Debian release the hosts were booted with (bookworm for a lab booted
# before the release was recorded).
readonly SUITE_FILE=${LAB_DIR}/suite
booted_suite() { cat "$SUITE_FILE" 2>/dev/null || printf bookworm; }

# The architecture a host is to have at this `up` (CM4_ARCH for cm4), and the one it was
# booted with (this machine's for a lab booted before the architecture was recorded).
wanted_arch() {
  if [[ $1 == "$EMULATED_HOST" ]]; then printf '%s' "${CM4_ARCH:-$NATIVE_ARCH}"; else printf '%s' "$NATIVE_ARCH"; fi
}
booted_arch() { cat "$(arch_file "$1")" 2>/dev/null || printf '%s' "$NATIVE_ARCH"; }

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

# The guest's init (PID 1 inside) as seen from this machine: nspawn's child in another PID
# namespace.
guest_init_pid() {
  local pid nspid
  for pid in $(pgrep -P "$1" || true); do
    nspid=$(awk '$1 == "NSpid:" { print $NF }' "/proc/$pid/status" 2>/dev/null) || continue
    [[ $nspid == 1 ]] && { printf '%s' "$pid"; return 0; }
  done
  return 0
}

# Is a guest's init run by qemu-user? (Its executable is then the qemu interpreter.)
is_emulated() { [[ $(readlink "/proc/$1/exe" 2>/dev/null) == *qemu* ]]; }

# The boot loops (`lab.sh boot-loop NAME`, see start_host) of a host, found through /proc.
loop_pids() {
  pgrep -f "lab\.sh boot-loop $1\$" || true
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
  local arch=$1 key
  key=$(printf '%s\n' "$RECIPE" "$SUITE" "$arch" minbase "$PACKAGES" | sha256sum | cut -c1-12)
  printf '%s/rootfs-%s-%s-%s.tar.gz' "$LAB_CACHE" "$SUITE" "$arch" "$key"
}

build_rootfs_tarball() {
  local arch=$1 tarball=$2 work t0 stale
  for stale in "$LAB_CACHE"/build.*; do remove_tree "$stale"; done
  work=$(mktemp -d "$LAB_CACHE/build.XXXXXX")
  if [[ $arch == "$NATIVE_ARCH" ]]; then
    log "no cached $arch rootfs: debootstrap $SUITE minbase (+ $PACKAGES), ~100 s the first time"
  else
    log "no cached $arch rootfs: debootstrap --arch=$arch $SUITE minbase (+ $PACKAGES)" \
      "under qemu-user, ~150 s the first time"
  fi
  t0=$(now_us)
  if ! debootstrap --arch="$arch" --variant=minbase --include="$PACKAGES" \
    --cache-dir="$LAB_CACHE/debs" \
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
  # Older builds for the same architecture go (another architecture's tarball stays).
  for stale in "$LAB_CACHE/rootfs-$SUITE-$arch-"*.tar.gz; do
    [[ ! -e $stale || $stale == "$tarball" ]] ||
      { rm -f "$stale"; log "removed outdated $(basename "$stale")"; }
  done
}

# The tarball of every architecture the hosts need.
ensure_rootfs_tarballs() {
  local tarball arch name
  mkdir -p "$LAB_CACHE/debs"
  for arch in $(for name in "${HOSTS[@]}"; do wanted_arch "$name"; echo; done | sort -u); do
    tarball=$(rootfs_tarball "$arch")
    if [[ -f $tarball ]]; then
      log "cached rootfs: $tarball"
    else
      build_rootfs_tarball "$arch" "$tarball"
    fi
  done
}

# All copies are unpacked at once (gzip is single-threaded; the machine has 2 cores).
unpack_hosts() {
  local tarball name dir t0 pids=()
  t0=$(now_us)
  for name in "${HOSTS[@]}"; do
    tarball=$(rootfs_tarball "$(wanted_arch "$name")")
    dir=$(host_dir "$name")
    remove_tree "$dir"
    mkdir -p "$dir"
    tar -C "$dir" --numeric-owner --xattrs --xattrs-include='*' -xzf "$tarball" &
    pids+=("$!")
  done
  for name in "${pids[@]}"; do wait "$name" || die "unpacking a rootfs tarball failed"; done
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

# ------------------------------------------------------------------ mirror and package index

# "URI SUITE" for each suite this machine's apt sources name (one-line and deb822 formats).
controller_apt_suites() {
  local f
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [[ -r $f ]] || continue
    awk '$1 == "deb" { i = 2; if ($2 ~ /^\[/) while (i <= NF && $i !~ /\]$/) i++; if ($2 ~ /^\[/) i++;
      print $i, $(i + 1) }' "$f"
  done
  for f in /etc/apt/sources.list.d/*.sources; do
    [[ -r $f ]] || continue
    awk 'function flush() { if (types ~ /(^| )deb( |$)/ && enabled != "no")
        for (u = 1; u <= nu; u++) for (s = 1; s <= ns; s++) print uri[u], suite[s];
        types = ""; enabled = ""; nu = 0; ns = 0 }
      /^[ \t]*#/ { next }
      /^[ \t]*$/ { flush(); next }
      tolower($1) == "types:" { types = substr($0, index($0, ":") + 1) }
      tolower($1) == "enabled:" { enabled = tolower($2) }
      tolower($1) == "uris:" { for (i = 2; i <= NF; i++) uri[++nu] = $i }
      tolower($1) == "suites:" { for (i = 2; i <= NF; i++) suite[++ns] = $i }
      END { flush() }' "$f"
  done
}

# The first URI this machine uses for a Debian release's main suites, and for its security
# suite (empty when none).
readonly DEBIAN_SUITE_RE='^(bullseye|bookworm|trixie|forky|oldstable|stable|testing)'
controller_mirror() {
  controller_apt_suites | awk -v re="${DEBIAN_SUITE_RE}(-updates)?\$" '$2 ~ re { print $1; exit }'
}
controller_security_mirror() {
  controller_apt_suites | awk -v re="${DEBIAN_SUITE_RE}-security\$" '$2 ~ re { print $1; exit }'
}

# This machine's pip index (PIP_INDEX_URL, else its pip configuration), if hosts can use it.
controller_pip_index() {
  local url=${PIP_INDEX_URL:-} pip
  if [[ -z $url ]]; then
    for pip in pip3 pip; do
      command -v "$pip" >/dev/null || continue
      url=$("$pip" config get global.index-url 2>/dev/null ||
        "$pip" config get install.index-url 2>/dev/null) || url=''
      break
    done
  fi
  printf '%s' "$url"
}

url_host() { local h=${1#*://}; h=${h%%/*}; h=${h##*@}; printf '%s' "${h%%:*}"; }

# MIRROR, SECURITY_MIRROR, PIP_INDEX (empty: pip's default, PyPI) for the hosts, from the
# LAB_* overrides or this machine's own configuration; says which it used.
pick_sources() {
  local origin
  if [[ -n ${LAB_MIRROR:-} ]]; then MIRROR=$LAB_MIRROR origin=LAB_MIRROR
  else MIRROR=$(controller_mirror) origin="this machine's apt sources"; fi
  [[ $MIRROR =~ ^https?:// ]] ||
    die "no Debian mirror (http:// or https://) in this machine's apt sources${MIRROR:+ (found '$MIRROR')}; set LAB_MIRROR=URL"
  MIRROR=${MIRROR%/}
  log "Debian mirror: $MIRROR (from $origin)"
  if [[ -n ${LAB_SECURITY_MIRROR:-} ]]; then SECURITY_MIRROR=$LAB_SECURITY_MIRROR origin=LAB_SECURITY_MIRROR
  else SECURITY_MIRROR=$(controller_security_mirror) origin="this machine's apt sources"; fi
  if [[ ! $SECURITY_MIRROR =~ ^https?:// ]]; then
    SECURITY_MIRROR=${MIRROR}-security origin="the mirror's name + -security"
  fi
  SECURITY_MIRROR=${SECURITY_MIRROR%/}
  log "Debian security mirror: $SECURITY_MIRROR (from $origin)"
  if [[ -n ${LAB_PIP_INDEX_URL:-} ]]; then PIP_INDEX=$LAB_PIP_INDEX_URL origin=LAB_PIP_INDEX_URL
  else PIP_INDEX=$(controller_pip_index) origin="this machine's pip configuration"; fi
  if [[ -n $PIP_INDEX && ! $PIP_INDEX =~ ^https?:// ]]; then
    log "ignoring the pip index $PIP_INDEX (from $origin): the hosts cannot reach it"
    PIP_INDEX=''
  fi
  if [[ -n $PIP_INDEX ]]; then
    log "Python package index: $PIP_INDEX (from $origin)"
  else
    log "Python package index: pip's default, https://pypi.org/simple (none configured here)"
  fi
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
  rm -f "$dir/etc/resolv.conf"
  printf 'nameserver %s\n' "$dns" >"$dir/etc/resolv.conf"
  if [[ $(wanted_arch "$name") != "$NATIVE_ARCH" ]]; then
    write_emulated_network "$name" "$dir"
    return 0
  fi
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
}

# Under qemu-user systemd-networkd cannot start (generic netlink is not emulated): it is
# masked, and a oneshot unit gives host0 the same address and route with `ip`.
write_emulated_network() {
  local name=$1 dir=$2 unit=cerebrum-lab-host0.service
  systemctl --root="$dir" mask systemd-networkd.service systemd-networkd.socket \
    systemd-networkd-wait-online.service >/dev/null 2>&1
  cat >"$dir/etc/systemd/system/$unit" <<EOF
[Unit]
Description=Lab network: host0 ${HOST_ADDR[$name]}/24 via ${GATEWAY} (no systemd-networkd under qemu-user)
DefaultDependencies=no
After=network-pre.target
Before=network.target network-online.target shutdown.target
Wants=network.target
Conflicts=shutdown.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/sbin/ip link set dev host0 up
ExecStart=/usr/sbin/ip address replace ${HOST_ADDR[$name]}/24 dev host0
ExecStart=/usr/sbin/ip route replace default via ${GATEWAY} dev host0

[Install]
WantedBy=multi-user.target network-online.target
EOF
  systemctl --root="$dir" enable "$unit" >/dev/null 2>&1
}

# The other workarounds an emulated host needs: no credentials for QEMU_NO_CREDENTIALS, and
# no user namespace for any service (qemu-user 7.2 refuses the clone that PrivateUsers=
# needs: "Failed to set up user namespacing: Invalid argument", status 217/USER), through
# systemd's drop-in directory for every service unit. Both are named in the README.
write_emulation_fixes() {
  local dir=$1 unit
  for unit in "${QEMU_NO_CREDENTIALS[@]}"; do
    install -d "$dir/etc/systemd/system/$unit.service.d"
    printf '# lab.sh: qemu-user cannot set up credentials\n[Service]\nLoadCredential=\n' \
      >"$dir/etc/systemd/system/$unit.service.d/10-cerebrum-lab-qemu.conf"
  done
  install -d "$dir/etc/systemd/system/service.d"
  printf '# lab.sh: qemu-user cannot set up user namespaces\n[Service]\nPrivateUsers=no\n' \
    >"$dir/etc/systemd/system/service.d/10-cerebrum-lab-qemu.conf"
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
  [[ -z $PIP_INDEX ]] || printf 'index-url = %s\n' "$PIP_INDEX" >>"$dir/etc/pip.conf"
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
URIs: ${SECURITY_MIRROR}
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
    if [[ $(wanted_arch "$name") != "$NATIVE_ARCH" ]]; then
      chroot "$dir" /bin/true || die "$name's $(wanted_arch "$name") programs do not run here" \
        "(binfmt_misc: /proc/sys/fs/binfmt_misc/qemu-${QEMU_NAME[$(wanted_arch "$name")]})"
      write_emulation_fixes "$dir"
      log "$name is $(wanted_arch "$name") under qemu-user: systemd-networkd masked (host0 set" \
        "by ip), no credentials for ${#QEMU_NO_CREDENTIALS[@]} units, no PrivateUsers= for services"
    fi
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

# Each host runs in a boot loop of its own: a detached `lab.sh boot-loop NAME` in the host's
# cgroup (NAME.pid holds its pid). systemd-nspawn exits 133 when the guest reboots itself
# (`systemctl reboot`), and the loop then boots the same directory again, with the same
# cgroup, binds and console log. Any other exit ends the loop, and so does the stop flag
# that `down` sets before it stops the hosts.
start_host() {
  local name=$1 log
  log=$(console_log "$name")
  rm -f "$(stop_flag "$name")"
  wanted_arch "$name" >"$(arch_file "$name")"
  (
    enter_host_cgroup "$name"
    exec setsid "$BASH" "${BASH_SOURCE[0]}" boot-loop "$name"
  ) </dev/null >"$log" 2>&1 9>&- &
  printf '%s\n' "$!" >"$LAB_DIR/$name.pid"
  log "started $name ($(booted_arch "$name"), boot loop pid $!, console $log)"
}

cmd_boot_loop() {
  local name=$1 dir bind rc boots=1 args
  known_host "$name"
  dir=$(host_dir "$name")
  args=(--boot --directory="$dir" --machine="$name" --register=no --keep-unit
    --network-bridge="$BRIDGE" --console=read-only --resolv-conf=off --link-journal=no
    --bind="$LAB_CACHE/apt/$name:/var/cache/apt/archives")
  for bind in ${HOST_BINDS[$name]:-}; do
    mkdir -p "${bind%%:*}"
    args+=(--bind="$bind")
  done
  while :; do
    rc=0
    systemd-nspawn "${args[@]}" || rc=$?
    if ((rc != REBOOT_STATUS)) || [[ -e $(stop_flag "$name") ]]; then
      log "$name: systemd-nspawn exited with status $rc: the boot loop ends"
      return 0
    fi
    boots=$((boots + 1))
    log "$name rebooted itself (systemd-nspawn exit $rc): boot $boots"
    # The old veth goes with the old network namespace; nspawn cannot make a new one before.
    for _ in {1..50}; do ip link show dev "vb-$name" >/dev/null 2>&1 || break; sleep 0.1; done
    ip link del "vb-$name" 2>/dev/null || true
  done
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
      explain_failure "$name" "systemd-nspawn exited (its boot loop with it)"
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

# The resolver and NAT work: each host resolves the mirrors and the package index.
check_dns() {
  local dns=$1 name names
  names=$(printf '%s\n' "$(url_host "$MIRROR")" "$(url_host "$SECURITY_MIRROR")" \
    "$(url_host "${PIP_INDEX:-https://pypi.org/simple}")" | sort -u | paste -sd' ' -)
  for name in "${HOSTS[@]}"; do
    # shellcheck disable=SC2086  # one name per word
    host_ssh "$name" getent hosts $names </dev/null >/dev/null ||
      die "host $name cannot resolve $names (resolver $dns)"
  done
  log "every host resolves $names"
}

# --------------------------------------------------------------------------- teardown

# SIGTERM makes nspawn shut the guest down cleanly (~6 s). Not under qemu-user, where the
# signal nspawn sends on (SIGRTMIN+3, halt) reaches the guest as another one (SIGRTMIN+1:
# rescue mode): an emulated guest's init gets SIGRTMIN+6 instead, which qemu hands on as
# SIGRTMIN+4, poweroff. SIGKILL after STOP_TIMEOUT. The stop flags, set before the first
# signal, keep the boot loops from booting a host again.
stop_hosts() {
  local name pid init pids=() t0
  for name in "${HOSTS[@]}"; do
    if [[ -d $LAB_DIR ]]; then : >"$(stop_flag "$name")"; fi
    for pid in $(host_pids "$name"); do
      init=$(guest_init_pid "$pid")
      if [[ -n $init ]] && is_emulated "$init"; then
        log "stopping $name (nspawn pid $pid; emulated init, pid $init here: SIGRTMIN+6, poweroff)"
        kill -s RTMIN+6 "$init" 2>/dev/null || true
      else
        log "stopping $name (nspawn pid $pid)"
        kill -TERM "$pid" 2>/dev/null || true
      fi
      pids+=("$pid")
    done
    for pid in $(loop_pids "$name"); do pids+=("$pid"); done
  done
  ((${#pids[@]})) || return 0
  t0=$(now_us)
  for pid in "${pids[@]}"; do
    while kill -0 "$pid" 2>/dev/null && (($(now_us) - t0 < STOP_TIMEOUT * 1000000)); do
      sleep 0.2
    done
    if kill -0 "$pid" 2>/dev/null; then
      warn "pid $pid ($(ps -o args= -p "$pid" | cut -c1-60)) still there after ${STOP_TIMEOUT}s: killing it"
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
  for name in "${HOSTS[@]}"; do
    rm -f "$LAB_DIR/$name.pid" "$(arch_file "$name")" "$(stop_flag "$name")"
  done
  rm -f "$SUITE_FILE"
}

# Anything at all of a lab on this machine (running, half-up or crashed)?
lab_leftovers() {
  local name
  if bridge_exists || table_exists || lab_cgroups_exist ||
    [[ -d $LAB_DIR/hosts || -f $FORWARD_SAVED ]]; then
    return 0
  fi
  for name in "${HOSTS[@]}"; do
    [[ -n $(host_pids "$name")$(loop_pids "$name") || -f $LAB_DIR/$name.pid ]] && return 0
  done
  return 1
}

# The first host whose architecture is not the one this `up` wants (CM4_ARCH changed).
arch_mismatch() {
  local name
  for name in "${HOSTS[@]}"; do
    [[ $(booted_arch "$name") == "$(wanted_arch "$name")" ]] || { printf '%s' "$name"; return 0; }
  done
  return 0
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
  check_suite
  check_arch
  require_commands
  take_lock
  # Before anything is torn down: an architecture qemu cannot run here stops `up` at once.
  for name in "${HOSTS[@]}"; do ensure_binfmt "$(wanted_arch "$name")"; done
  name=$(arch_mismatch)
  if [[ $(booted_suite) != "$SUITE" ]] && lab_leftovers; then
    log "the lab runs $(booted_suite) and SUITE wants $SUITE: tearing the lab down to start it clean"
    teardown
  elif [[ -n $name ]] && lab_leftovers; then
    log "the lab's $name is $(booted_arch "$name") and CM4_ARCH wants $(wanted_arch "$name"):" \
      "tearing the lab down to start it clean"
    teardown
  elif lab_is_up; then
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
  pick_sources
  ensure_rootfs_tarballs
  unpack_hosts
  configure_hosts "$dns"
  printf '%s\n' "$SUITE" >"$SUITE_FILE"
  network_up "$dns"
  for name in "${HOSTS[@]}"; do start_host "$name"; done
  for name in "${HOSTS[@]}"; do wait_for_host "$name"; done
  check_dns "$dns"
  trap - EXIT INT TERM
  log "lab up in $(since "$t0"): Debian $SUITE, $(host_list)" \
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
  local name pid state ssh_ok arch up=0 seen=0
  printf '%-5s %-6s %-14s %-10s %-5s %s\n' HOST ARCH ADDRESS NSPAWN-PID SSH SYSTEMD
  for name in "${HOSTS[@]}"; do
    pid=$(host_pids "$name" | paste -sd, -)
    state='' ssh_ok=no arch=-
    [[ -f $(arch_file "$name") ]] && arch=$(booted_arch "$name")
    if [[ -n $pid ]]; then
      seen=$((seen + 1))
      state=$(host_state "$name")
      [[ -n $state ]] && ssh_ok=yes
      [[ $state =~ ^(running|degraded)$ ]] && up=$((up + 1))
    fi
    printf '%-5s %-6s %-14s %-10s %-5s %s\n' "$name" "$arch" "${HOST_ADDR[$name]}" "${pid:--}" \
      "$ssh_ok" "${state:--}"
  done
  [[ -f $SUITE_FILE ]] && printf 'Debian release: %s\n' "$(booted_suite)"
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

# The unit tests on SUITE's python3 (Debian 12: 3.11.2, 13: 3.13): the checkout's files
# (tracked and new) copied into a fresh copy of the cached root file system, a venv there
# from wheels this machine downloads for that Python (kept in $LAB_CACHE/wheels-SUITE-ARCH).
cmd_unit() {
  local tarball dir version machine wheels t0 rc=0
  require_root
  check_suite
  mkdir -p "$LAB_DIR" "$LAB_CACHE/debs"
  tarball=$(rootfs_tarball "$NATIVE_ARCH")
  if [[ ! -f $tarball ]]; then
    take_lock # a build removes other builds' leftovers: one at a time, as `up` does
    [[ -f $tarball ]] || { pick_sources && build_rootfs_tarball "$NATIVE_ARCH" "$tarball"; }
    flock -u 9
  fi
  dir=$(mktemp -d "$LAB_DIR/unit-$SUITE.XXXXXX")
  # shellcheck disable=SC2064 # the path, now: `dir` is gone when the trap runs
  trap "remove_tree '$dir'" EXIT
  trap 'exit 130' INT TERM
  tar -C "$dir" --numeric-owner -xzf "$tarball"
  version=$(chroot "$dir" python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')
  machine=$(uname -m)
  wheels=$LAB_CACHE/wheels-$SUITE-$NATIVE_ARCH
  log "$SUITE: $(chroot "$dir" python3 -V); wheels for it in $wheels"
  mkdir -p "$wheels" "$dir/root/src" "$dir/root/wheels"
  "$REPO/.venv/bin/python" - "$REPO" >"$dir/root/requirements.txt" <<'PY'
import sys, tomllib
from pathlib import Path
repo = Path(sys.argv[1])
project = tomllib.loads((repo / "app/pyproject.toml").read_text())["project"]
lines = [*project["dependencies"], *project["optional-dependencies"]["test"]]
for line in (repo / "requirements-dev.txt").read_text().splitlines():
    line = line.split("#", 1)[0].strip()
    if line and not line.startswith("-e"):
        lines.append(line)
print("\n".join(lines))
PY
  t0=$(now_us)
  "$REPO/.venv/bin/pip" download --quiet --disable-pip-version-check -d "$wheels" \
    --only-binary=:all: --implementation cp --python-version "$version" \
    --abi "cp${version/./}" --abi abi3 --abi none --platform any \
    --platform "manylinux2014_$machine" --platform "manylinux_2_17_$machine" \
    --platform "manylinux_2_28_$machine" --platform "linux_$machine" \
    -r "$dir/root/requirements.txt" pip setuptools 2>&1 |
    { grep -v "^WARNING: Location" || true; } | indent || die "no wheels for $SUITE's Python"
  log "wheels ready ($(since "$t0"))"
  git -C "$REPO" ls-files -z --cached --others --exclude-standard |
    tar -C "$REPO" --null --ignore-failed-read -T - -c | tar -C "$dir/root/src" -x
  mount --bind /dev "$dir/dev"
  mount -t proc proc "$dir/proc"
  mount --bind -o ro "$wheels" "$dir/root/wheels"
  t0=$(now_us)
  chroot "$dir" env -i PATH=/usr/bin:/bin HOME=/root PYTHONWARNINGS=ignore sh -ec '
    python3 -m venv --without-pip /root/venv
    pip=$(ls /root/wheels/pip-*.whl | sort -V | tail -n 1)
    /root/venv/bin/python "$pip/pip" install --quiet --no-index --find-links /root/wheels pip setuptools
    cd /root/src
    /root/venv/bin/pip install --quiet --no-index --find-links /root/wheels \
      --no-build-isolation -r /root/requirements.txt -e "./app[test]"' 2>&1 |
    { grep -v "^WARNING: Location" || true; } | indent || die "the venv on $SUITE's Python was not made"
  log "venv made ($(since "$t0")); the unit tests:"
  chroot "$dir" env -i PATH=/root/venv/bin:/usr/bin:/bin HOME=/root PYTHONDONTWRITEBYTECODE=1 \
    sh -c 'cd /root/src && exec python -m pytest -p no:cacheprovider -q "$@"' \
    pytest "${@:-tests/unit}" || rc=$?
  return "$rc"
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
    unit) cmd_unit "$@" ;;
    boot-loop) (($# == 1)) || usage 2; cmd_boot_loop "$1" ;; # internal: see start_host
    -h | --help | help) usage 0 ;;
    *) warn "unknown command '$cmd'"; usage 2 ;;
  esac
}

main "$@"
