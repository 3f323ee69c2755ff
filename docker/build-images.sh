#!/usr/bin/env bash
# Builds pgscale's container images from Debian packages, for hosts with a Docker engine but no
# container registry (nothing is pulled). Only the Debian mirror from the host's apt configuration
# is used:
#   pgscale/postgres:15-bookworm   PostgreSQL 15; entrypoint compatible with the official image
#   pgscale/pgbouncer:bookworm     PgBouncer configured from PGBOUNCER_* variables
# Both are imported from one debootstrap'ed bookworm root filesystem, cached as a tarball under
# $PGSCALE_IMAGE_CACHE (default ${XDG_CACHE_HOME:-$HOME/.cache}/pgscale), so a rebuild takes seconds.
# docker import cannot set STOPSIGNAL, so a context-less `docker build` (FROM the imported image,
# nothing pulled) adds STOPSIGNAL SIGINT to the postgres image.
#
# Usage: docker/build-images.sh [--force] [--no-cache]
#   --force      rebuild images that already exist
#   --no-cache   also rebuild the cached root filesystem (e.g. to pick up security updates)
# Environment: PGSCALE_DEBIAN_MIRROR overrides the mirror found in the apt configuration.
# Building the root filesystem needs root (debootstrap, chroot); importing a cached one does not.
set -euo pipefail

readonly SUITE=bookworm PG_MAJOR=15
readonly PG_IMAGE=pgscale/postgres:${PG_MAJOR}-${SUITE} BOUNCER_IMAGE=pgscale/pgbouncer:${SUITE}
readonly PACKAGES=("postgresql-$PG_MAJOR" pgbouncer)
readonly PG_BIN=/usr/lib/postgresql/${PG_MAJOR}/bin
SELF_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd); readonly SELF_DIR
readonly CACHE_DIR=${PGSCALE_IMAGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pgscale}

force=0 no_cache=0
for arg in "$@"; do
  case $arg in
    --force) force=1 ;;
    --no-cache) no_cache=1; force=1 ;;
    -h|--help) sed -n '2,/^set -e/{/^#/s/^# \{0,1\}//p}' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) echo "build-images.sh: unknown argument '$arg' (valid: --force, --no-cache, --help)" >&2; exit 2 ;;
  esac
done

log() { printf '[build-images] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# step NAME CMD...: runs CMD and prints how long it took.
step() {
  local name=$1 t0=$EPOCHREALTIME; shift
  log "$name ..."
  "$@"
  log "$name: $(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f s", b - a }')"
}

# --- temp dir, removed on exit (after unmounting anything mounted inside it) ---
work=
cleanup() {
  [[ -n $work && -d $work ]] || return 0
  if mountpoint -q "$work/root/proc" 2>/dev/null; then umount -l "$work/root/proc" || true; fi
  rm -rf --one-file-system "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- the host's apt sources ---
# Prints "URI SUITE" for each enabled "deb" entry in the one-line (*.list) and deb822 (*.sources) files.
apt_sources() {
  local f
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [[ -r $f ]] || continue
    sed -e 's/#.*//' -e 's/\[[^]]*\]//' "$f" | awk '$1 == "deb" && NF >= 3 { print $2, $3 }'
  done
  for f in /etc/apt/sources.list.d/*.sources; do
    [[ -r $f ]] || continue
    awk '
      function flush(  n, m, i, j, u, s) {
        if (types ~ /(^|[ \t])deb([ \t]|$)/ && tolower(enabled) != "no") {
          n = split(uris, u); m = split(suites, s)
          for (i = 1; i <= n; i++) for (j = 1; j <= m; j++) print u[i], s[j]
        }
        types = uris = suites = enabled = ""
      }
      /^[ \t]*#/ { next }
      /^[ \t]*$/ { flush(); next }
      /^[ \t]/   { next }                       # continuation line (e.g. an inline key)
      { k = tolower(substr($0, 1, index($0, ":") - 1)); v = substr($0, index($0, ":") + 1) }
      k == "types" { types = v } k == "uris" { uris = v } k == "suites" { suites = v }
      k == "enabled" { enabled = v; gsub(/[ \t]/, "", enabled) }
      END { flush() }' "$f"
  done
}

# uri_for SUITE: the first http(s)/file URI serving SUITE, without a trailing slash.
uri_for() {
  apt_sources | awk -v s="$1" '$2 == s && $1 ~ /^(https?|file):/ { sub(/\/+$/, "", $1); print $1; exit }'
}

# --- root filesystem ---
host_apt_setup() {
  command -v debootstrap >/dev/null && return 0
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
}

debootstrap_base() {
  # ca-certificates: apt may need it for https mirrors (and clients for TLS).
  debootstrap --variant=minbase --arch="$(dpkg --print-architecture)" --include=ca-certificates \
    "$SUITE" "$work/root" "$1" >"$work/debootstrap.log" 2>&1 \
    || { tail -n 30 "$work/debootstrap.log" >&2; die "debootstrap failed (log above)"; }
}

in_root() { chroot "$work/root" /usr/bin/env DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8 "$@"; }

install_packages() {
  local r=$work/root suite uri cvu
  # apt sources inside the image: the host's mirrors for bookworm and, when present, its updates.
  : >"$r/etc/apt/sources.list"
  for suite in "$SUITE" "$SUITE-updates" "$SUITE-security"; do
    uri=$(uri_for "$suite") || true
    if [[ $suite == "$SUITE" ]]; then uri=${PGSCALE_DEBIAN_MIRROR:-$uri}; fi
    if [[ -n $uri ]]; then echo "deb $uri $suite main" >>"$r/etc/apt/sources.list"; fi
  done
  # Snapshot mirrors serve expired Release files; follow the host if it accepts them.
  cvu=$(apt-config dump Acquire::Check-Valid-Until Acquire::Check-Date | grep -i false || true)
  if [[ -n $cvu ]]; then printf '%s\n' "$cvu" >"$r/etc/apt/apt.conf.d/99host-validity"; fi
  # No docs, man pages or translations, now or when the image is extended later (PostgreSQL's
  # own man pages must exist during install, for update-alternatives: trim_rootfs drops them).
  cat >"$r/etc/dpkg/dpkg.cfg.d/01-nodoc" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/lintian/*
EOF
  printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' >"$r/etc/apt/apt.conf.d/01-norecommends"
  # No services started in the chroot; no default cluster (the entrypoint runs initdb).
  printf '#!/bin/sh\nexit 101\n' >"$r/usr/sbin/policy-rc.d"; chmod 755 "$r/usr/sbin/policy-rc.d"
  mkdir -p "$r/etc/postgresql-common"
  echo 'create_main_cluster = false' >"$r/etc/postgresql-common/createcluster.conf"
  cp /etc/resolv.conf "$r/etc/resolv.conf"
  mount -t proc proc "$r/proc"
  # uid/gid 999 like the official image, so data volumes can move between the two.
  in_root groupadd -r -g 999 postgres
  in_root useradd -r -g postgres -u 999 -d /var/lib/postgresql -s /bin/bash postgres
  in_root apt-get update -qq
  in_root apt-get install -y -qq "${PACKAGES[@]}" >"$work/apt.log" 2>&1 \
    || { tail -n 30 "$work/apt.log" >&2; die "apt-get install failed in the chroot (log above)"; }
  in_root apt-get dist-upgrade -y -qq >>"$work/apt.log" 2>&1
  umount "$r/proc"
}

trim_rootfs() {
  local r=$work/root
  in_root apt-get clean
  rm -f "$r/usr/sbin/policy-rc.d"
  : >"$r/etc/resolv.conf"; chmod 644 "$r/etc/resolv.conf"
  find "$r/usr/share/doc" -mindepth 1 ! -type d ! -name copyright -delete
  find "$r/usr/share/doc" -mindepth 1 -type d -empty -delete
  rm -rf "$r"/usr/share/{man,info,locale,lintian}/* "$r"/usr/share/postgresql/*/man \
    "$r"/var/lib/apt/lists/* "$r"/var/cache/apt/* "$r"/var/cache/debconf/*-old "$r"/tmp/* \
    "$r"/var/log/*.log "$r"/var/log/apt/* "$r"/var/lib/postgresql/"$PG_MAJOR"
  # Directories the entrypoints use; writable by the postgres user.
  mkdir -p "$r/docker-entrypoint-initdb.d" "$r/var/lib/postgresql/data" "$r/var/run/postgresql"
  chmod 700 "$r/var/lib/postgresql/data"; chmod 3775 "$r/var/run/postgresql"
  in_root chown -R postgres:postgres /var/lib/postgresql /var/run/postgresql /etc/pgbouncer
}

build_rootfs() {
  local tar=$1 mirror
  [[ $(id -u) == 0 ]] || die "building the root filesystem needs root (debootstrap, chroot); run with sudo"
  mirror=${PGSCALE_DEBIAN_MIRROR:-$(uri_for "$SUITE")}
  [[ -n $mirror ]] || die "no 'deb' source for suite $SUITE in /etc/apt/sources.list{,.d/*.list,.d/*.sources}; set PGSCALE_DEBIAN_MIRROR"
  log "Debian mirror: $mirror"
  step "install debootstrap on the host" host_apt_setup
  step "debootstrap --variant=minbase $SUITE" debootstrap_base "$mirror"
  step "install ${PACKAGES[*]}" install_packages
  step "trim docs, man pages, locales" trim_rootfs
  step "tar root filesystem" tar --numeric-owner --one-file-system -C "$work/root" -cf "$tar.part" .
  mv "$tar.part" "$tar"
  find "$CACHE_DIR" -maxdepth 1 -name 'rootfs-*.tar' ! -path "$tar" -delete   # older recipes
  rm -rf --one-file-system "$work/root"
}

# --- images ---
# import_image NAME TAR CHANGE...: docker import with Dockerfile-style --change lines.
import_image() {
  local name=$1 tar=$2 c; shift 2
  local args=()
  for c in \
    "ENV PATH=/usr/local/sbin:/usr/local/bin:$PG_BIN:/usr/sbin:/usr/bin:/sbin:/bin" \
    "ENV LANG=C.UTF-8" "ENV PG_MAJOR=$PG_MAJOR" \
    "LABEL org.pgscale.image=1 org.pgscale.recipe=$recipe" "$@"; do
    args+=(--change "$c")
  done
  docker import "${args[@]}" --message "pgscale build-images.sh" "$tar" "$name" >/dev/null
}

# set_stop_signal NAME SIGNAL: docker import/commit cannot set STOPSIGNAL, so add it with a
# context-less build FROM the local image (no pull). Without a working builder the image keeps
# SIGTERM, which PostgreSQL reads as a smart shutdown; callers can pass --stop-signal SIGINT.
set_stop_signal() {
  if ! printf 'FROM %s\nSTOPSIGNAL %s\n' "$1" "$2" | docker build -q -t "$1" - >"$work/build.log" 2>&1; then
    cat "$work/build.log" >&2
    log "warning: could not set STOPSIGNAL $2 on $1 (docker build failed); docker stop will send SIGTERM"
  fi
}

# add_entrypoints CACHED_TAR OUT_TAR: a copy of the cached rootfs (cheap with reflinks) plus the
# entrypoint scripts, which stay out of the cache so that editing them needs no debootstrap.
add_entrypoints() {
  local o=$work/overlay/usr/local/bin
  mkdir -p "$o"
  install -m 755 "$SELF_DIR/postgres-entrypoint.sh" "$SELF_DIR/pgbouncer-entrypoint.sh" "$o/"
  ln -s postgres-entrypoint.sh "$o/docker-entrypoint.sh"   # the official image's name
  cp --reflink=auto "$1" "$2"
  tar --owner=0 --group=0 --numeric-owner -rf "$2" -C "$work/overlay" ./usr/local/bin/postgres-entrypoint.sh \
    ./usr/local/bin/pgbouncer-entrypoint.sh ./usr/local/bin/docker-entrypoint.sh
}

image_exists() { docker image inspect "$1" >/dev/null 2>&1; }

main() {
  docker info >/dev/null 2>&1 || die "no Docker engine answers (docker info failed)"
  # Recipe hashes: the rootfs key covers the code that builds it; the image label covers everything.
  local rootfs_key tar todo=() img old_id
  rootfs_key=$( { declare -p PACKAGES; declare -f debootstrap_base install_packages trim_rootfs; } | sha256sum | cut -c1-12)
  recipe=$(cat "${BASH_SOURCE[0]}" "$SELF_DIR"/postgres-entrypoint.sh "$SELF_DIR"/pgbouncer-entrypoint.sh | sha256sum | cut -c1-12)
  for img in "$PG_IMAGE" "$BOUNCER_IMAGE"; do
    if ((force)) || ! image_exists "$img"; then todo+=("$img"); continue; fi
    if [[ $(docker image inspect -f '{{index .Config.Labels "org.pgscale.recipe"}}' "$img") != "$recipe" ]]; then
      log "$img exists but was built from other scripts; kept (use --force to rebuild)"
    else
      log "$img exists; skipped (use --force to rebuild)"
    fi
  done
  ((${#todo[@]})) || return 0

  mkdir -p "$CACHE_DIR"
  work=$(mktemp -d "$CACHE_DIR/build.XXXXXX")   # on disk, not a noexec/nodev tmpfs
  tar=$CACHE_DIR/rootfs-$SUITE-pg$PG_MAJOR-$(dpkg --print-architecture 2>/dev/null || uname -m)-$rootfs_key.tar
  if ((no_cache)) || [[ ! -s $tar ]]; then
    build_rootfs "$tar"
  else
    log "using cached root filesystem $tar"
  fi

  step "add entrypoints" add_entrypoints "$tar" "$work/image.tar"

  for img in "${todo[@]}"; do
    old_id=$(docker image inspect -f '{{.Id}}' "$img" 2>/dev/null || true)
    case $img in
      "$PG_IMAGE") step "docker import $img" import_image "$img" "$work/image.tar" \
        "ENV PGDATA=/var/lib/postgresql/data" "VOLUME /var/lib/postgresql/data" \
        'ENTRYPOINT ["docker-entrypoint.sh"]' 'CMD ["postgres"]' "EXPOSE 5432"
        step "STOPSIGNAL SIGINT (fast shutdown) on $img" set_stop_signal "$img" SIGINT ;;
      "$BOUNCER_IMAGE") step "docker import $img" import_image "$img" "$work/image.tar" \
        'ENTRYPOINT ["pgbouncer-entrypoint.sh"]' 'CMD ["pgbouncer"]' "EXPOSE 6432" ;;
    esac
    # Drop the replaced image unless a container still uses it.
    if [[ -n $old_id ]]; then docker image rm "$old_id" >/dev/null 2>&1 || true; fi
  done
  docker image ls --filter label=org.pgscale.image=1 >&2
}

t_start=$EPOCHREALTIME
main
log "done in $(awk -v a="$t_start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f s", b - a }')"
