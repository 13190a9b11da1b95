#!/usr/bin/env bash
# Only for a machine without access to Docker Hub or public.ecr.aws (like
# the CI machines of this project): what `make sam-local` needs from Docker
# there. A user with a normal Docker installation never runs this.
#
#   offline-docker.sh setup   installs docker.io and busybox-static from Debian
#                             when missing (root), starts a private dockerd with
#                             host networking only (no bridge, no iptables: every
#                             container talks on 127.0.0.1), and builds a stand-in
#                             for public.ecr.aws/lambda/provided:al2023-x86_64 from
#                             this host's busybox, glibc and libgcc_s
#   offline-docker.sh stop    removes its containers and stops that dockerd
#
# The stand-in has Debian's glibc, newer than Amazon Linux 2023's 2.34:
# tools/sam-local.sh checks every bootstrap against 2.34 for that reason.
# State in .local/sam-local-docker (an absolute path: containerd refuses a
# relative socket path). Adapted from the spike in ../shared/tools/samlocal.sh.
set -euo pipefail
cd "$(dirname "$0")/../.."

SAMLOCAL_DIR=$PWD/.local/sam-local-docker
SAMLOCAL_ARCH=x86_64
SOCK=$SAMLOCAL_DIR/docker.sock
BASE_IMAGE=public.ecr.aws/lambda/provided:al2023-$SAMLOCAL_ARCH
export DOCKER_HOST=unix://$SOCK

log() { printf '[offline-docker] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

docker_up() { docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }

install_packages() {
  local need=()
  [[ -x /usr/sbin/dockerd ]] || need+=(docker.io)
  dpkg -s busybox-static >/dev/null 2>&1 || need+=(busybox-static)
  ((${#need[@]})) || return 0
  [[ $(id -u) == 0 ]] || die "need root to install ${need[*]}"
  # Keep the package's init script from starting a default dockerd (bridge,
  # iptables, 172.17.0.0/16) during installation.
  local own_policy=""
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
    own_policy=1
  fi
  log "installing ${need[*]} (apt)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  [[ -n $own_policy ]] && rm -f /usr/sbin/policy-rc.d
  if [[ -d /run/systemd/system ]]; then
    # On systemd hosts the package enables docker.service with the default
    # bridge network; this script uses its own daemon instead.
    systemctl disable --now docker.service docker.socket >/dev/null 2>&1 || true
  fi
}

start_dockerd() {
  docker_up && return 0
  [[ $(id -u) == 0 ]] || die "need root to start dockerd"
  mkdir -p "$SAMLOCAL_DIR"/{data,exec}
  [[ -f $SAMLOCAL_DIR/daemon.json ]] || echo '{}' > "$SAMLOCAL_DIR/daemon.json"
  log "starting dockerd (host network only) on $SOCK"
  setsid nohup /usr/sbin/dockerd \
    --config-file "$SAMLOCAL_DIR/daemon.json" \
    --bridge=none --iptables=false --ip6tables=false --ip-forward=false --ip-masq=false \
    --userland-proxy=false --storage-driver=overlay2 \
    --data-root "$SAMLOCAL_DIR/data" --exec-root "$SAMLOCAL_DIR/exec" \
    --pidfile "$SAMLOCAL_DIR/dockerd.pid" -H "unix://$SOCK" \
    > "$SAMLOCAL_DIR/dockerd.log" 2>&1 < /dev/null &
  for _ in $(seq 60); do docker_up && return 0; sleep 0.5; done
  tail -20 "$SAMLOCAL_DIR/dockerd.log" >&2
  die "dockerd did not come up (log: $SAMLOCAL_DIR/dockerd.log)"
}

build_base_image() {
  docker image inspect "$BASE_IMAGE" >/dev/null 2>&1 && return 0
  [[ $SAMLOCAL_ARCH == x86_64 && $(uname -m) == x86_64 ]] || die "only x86_64 images are built here"
  log "building $BASE_IMAGE from this host's busybox-static + glibc"
  local work root multiarch
  work=$(mktemp -d); root=$work/rootfs
  mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,lib64,etc/ssl/certs,etc/pki/tls/certs,tmp,var/task,var/runtime,var/rapid,opt,proc,sys,dev}
  chmod 1777 "$root/tmp"
  # sh, mv and chmod are what SAM's generated Dockerfile RUNs; the rest is for debugging.
  cp /bin/busybox "$root/bin/busybox"
  for applet in $("$root/bin/busybox" --list); do
    [[ -e $root/bin/$applet ]] || ln -s busybox "$root/bin/$applet"
  done
  # glibc and libgcc_s, for dynamically linked (gnu target) Rust binaries.
  multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo x86_64-linux-gnu)
  dpkg -L libc6 libgcc-s1 | grep -E '\.so(\.[0-9]+)*$|/ld-linux' | grep -v /gconv/ | while read -r f; do
    [[ -e $f && ! -d $f ]] || continue
    mkdir -p "$root$(dirname "$f")" && cp -a "$f" "$root$f"
  done
  [[ -e $root/lib64/ld-linux-x86-64.so.2 ]] || ln -sf "/lib/$multiarch/ld-linux-x86-64.so.2" "$root/lib64/ld-linux-x86-64.so.2"
  /sbin/ldconfig -r "$root" 2>/dev/null || true
  if [[ -f /etc/ssl/certs/ca-certificates.crt ]]; then
    cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/"
    ln -s /etc/ssl/certs/ca-certificates.crt "$root/etc/pki/tls/certs/ca-bundle.crt"
  fi
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/sbin/nologin\n' > "$root/etc/passwd"
  printf 'root:x:0:\nnobody:x:65534:\n' > "$root/etc/group"
  printf 'passwd: files\ngroup: files\nhosts: files dns\n' > "$root/etc/nsswitch.conf"
  : > "$root/etc/localtime"
  # The same environment as the real provided:al2023 image.
  tar --numeric-owner -C "$root" -c . | docker import \
    --change 'ENV LANG=en_US.UTF-8' --change 'ENV TZ=:/etc/localtime' \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LD_LIBRARY_PATH=/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib' \
    --change 'ENV LAMBDA_TASK_ROOT=/var/task' --change 'ENV LAMBDA_RUNTIME_DIR=/var/runtime' \
    --change 'WORKDIR /var/task' - "$BASE_IMAGE" >/dev/null
  rm -rf "$work"
}

cmd_stop() {
  local pidfile=$SAMLOCAL_DIR/dockerd.pid pid
  [[ -f $pidfile ]] || { log "no dockerd pidfile in $SAMLOCAL_DIR"; return 0; }
  pid=$(cat "$pidfile")
  local ids; ids=$(docker ps -q 2>/dev/null || true)
  [[ -n $ids ]] && docker rm -f $ids >/dev/null
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 40); do
    if ! kill -0 "$pid" 2>/dev/null; then
      # dockerd leaves its default network namespace mounted.
      mountpoint -q "$SAMLOCAL_DIR/exec/netns/default" 2>/dev/null && umount "$SAMLOCAL_DIR/exec/netns/default"
      log "dockerd $pid stopped"; return 0
    fi
    sleep 0.5
  done
  die "dockerd $pid did not stop"
}

case ${1:-} in
  setup) install_packages; start_dockerd; build_base_image; log "ready: DOCKER_HOST=$DOCKER_HOST, image $BASE_IMAGE" ;;
  stop) cmd_stop ;;
  *) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 2 ;;
esac
