# shellcheck shell=bash
# Shared steps of deploy/install-jetson.sh and deploy/install-x86.sh. Sourced, not run.
#
# Layout on the box:
#   /opt/instrument/venv        Python environment (PREFIX=/opt/instrument)
#   /opt/instrument/models      the ONNX models and manifests, read-only
#   /etc/instrument/            config.toml, jack.env, instrument.env
#   /var/lib/instrument/        recordings/ and trt-cache/ (the only writable place)
#   /run/instrument/status.sock `sudo instrument status`
# Every command goes through `run`, so --dry-run prints the whole installation.

PREFIX=${PREFIX:-/opt/instrument}
ETC=/etc/instrument
STATE=/var/lib/instrument
SERVICE_USER=instrument
DRY_RUN=0
START=1
JACK_DEVICE=""
JACK_PERIOD=""
DEPLOY_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SOURCE_DIR=$(cd "$DEPLOY_DIR/.." && pwd)
# Packages every box needs: JACK, ALSA tools, PortAudio, a Python to build the venv.
# shellcheck disable=SC2034 # used by the install scripts that source this file
COMMON_APT=(jackd2 alsa-utils libportaudio2 python3-venv python3-pip python3-dev
  build-essential ca-certificates)

log() {
  if [ -t 1 ]; then printf '\033[1m==> %s\033[0m\n' "$*"; else printf '==> %s\n' "$*"; fi
}
warn() { printf 'warning: %s\n' "$*" >&2; }
die() {
  printf 'error: %s\n' "$*" >&2
  exit 1
}

# run CMD ARGS...: run it, or print it with --dry-run.
run() {
  if [ "$DRY_RUN" = 1 ]; then
    printf '+ %s\n' "$*"
  else
    "$@"
  fi
}

# put SRC DEST MODE [OWNER]: install a file.
put() {
  run install -D -m "$3" -o "${4:-root}" -g "${4:-root}" "$1" "$2"
}

# put_once SRC DEST: install a config file, keeping an existing one (edited by the user):
# then the new version lands beside it as DEST.new.
put_once() {
  if [ -e "$2" ]; then
    warn "$2 exists: keeping it; the new default is $2.new"
    put "$1" "$2.new" 0644
  else
    put "$1" "$2" 0644
  fi
}

# Options every install script takes; the caller handles its own first and passes the
# rest here. Sets DRY_RUN, START, JACK_DEVICE, JACK_PERIOD, PREFIX.
common_option() {
  case "$1" in
  --dry-run) DRY_RUN=1 ;;
  --no-start) START=0 ;;
  --jack-device) JACK_DEVICE=$2 ;;
  --period) JACK_PERIOD=$2 ;;
  --prefix) PREFIX=$2 ;;
  *) die "unknown option $1 (see --help)" ;;
  esac
}

# How many arguments a common option takes (its flag included).
common_option_arity() {
  case "$1" in
  --jack-device | --period | --prefix) echo 2 ;;
  *) echo 1 ;;
  esac
}

common_help() {
  cat <<'EOF'
  --jack-device hw:NAME  the USB audio interface for JACK (see `aplay -l`; default hw:USB)
  --period FRAMES        JACK period: 64 or 128 (default 128)
  --prefix DIR           where the venv and models go (default /opt/instrument)
  --no-start             install and enable, but do not start the services now
  --dry-run              print every command instead of running it
EOF
}

preflight() {
  if [ "$DRY_RUN" = 0 ] && [ "$(id -u)" -ne 0 ]; then
    die "run as root (sudo $0 ...)"
  fi
  [ -f "$SOURCE_DIR/pyproject.toml" ] || die "no pyproject.toml in $SOURCE_DIR"
  case "$JACK_PERIOD" in
  "" | 32 | 64 | 128 | 256) ;;
  *) die "--period must be 32, 64, 128 or 256" ;;
  esac
}

apt_install() {
  log "system packages: $*"
  # jackd2 asks about real-time priority unless told not to; no GUI recommends.
  run env DEBIAN_FRONTEND=noninteractive apt-get update
  run env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@"
}

create_user() {
  log "service user $SERVICE_USER (groups: audio, and video/render for the GPU)"
  if ! id -u "$SERVICE_USER" >/dev/null 2>&1; then
    run useradd --system --home-dir "$STATE" --no-create-home --user-group \
      --shell /usr/sbin/nologin "$SERVICE_USER"
  fi
  local group
  for group in audio video render; do
    if getent group "$group" >/dev/null; then
      run usermod -a -G "$group" "$SERVICE_USER"
    fi
  done
  run install -d -m 0750 -o "$SERVICE_USER" -g "$SERVICE_USER" \
    "$STATE" "$STATE/recordings" "$STATE/trt-cache"
}

# rt_limits: real-time priority and locked memory for the audio group, for JACK run by
# hand from a login shell (the services set their own limits in the units).
rt_limits() {
  local tmp
  tmp=$(mktemp)
  cat >"$tmp" <<'EOF'
# Installed by deploy/: real-time audio for the audio group (jackd -R, the instrument).
@audio - rtprio 95
@audio - memlock unlimited
EOF
  put "$tmp" /etc/security/limits.d/95-instrument-audio.conf 0644
  rm -f "$tmp"
}

make_venv() {
  log "Python environment in $PREFIX/venv"
  # The system Python: the service user must be able to run it (a pyenv or conda Python
  # in root's home is not readable by the instrument user).
  local python=${PYTHON:-/usr/bin/python3}
  if [ "$DRY_RUN" = 0 ]; then
    "$python" -c 'import sys; sys.exit(sys.version_info < (3, 10))' ||
      die "$python is older than 3.10"
  fi
  run install -d -m 0755 "$PREFIX"
  run "$python" -m venv "$PREFIX/venv"
  if [ "$DRY_RUN" = 0 ] && ! runuser -u "$SERVICE_USER" -- "$PREFIX/venv/bin/python" -c ""; then
    local real
    real=$(readlink -f "$PREFIX/venv/bin/python")
    die "$SERVICE_USER cannot run $real: use a system Python (PYTHON=/usr/bin/python3)"
  fi
  run "$PREFIX/venv/bin/python" -m pip install --quiet --upgrade pip wheel setuptools
}

pip_install() {
  run "$PREFIX/venv/bin/python" -m pip install --quiet "$@"
}

# install_package EXTRAS: the instrument itself (not editable; with pip extras such as
# "cpu" unless ""), its models and docs.
install_package() {
  log "the instrument from $SOURCE_DIR"
  if [ -n "$1" ]; then
    pip_install "${SOURCE_DIR}[$1]"
  else
    pip_install "$SOURCE_DIR"
  fi
  run install -d -m 0755 "$PREFIX/models"
  local f
  for f in "$SOURCE_DIR"/exported_models/*.onnx "$SOURCE_DIR"/exported_models/*.json \
    "$SOURCE_DIR"/exported_models/*.npz; do
    [ -e "$f" ] || continue
    put "$f" "$PREFIX/models/$(basename "$f")" 0644
  done
  put "$SOURCE_DIR/README.md" "$PREFIX/README.md" 0644
  run ln -sf "$PREFIX/venv/bin/instrument" /usr/local/bin/instrument
}

# render_config PROVIDERS: /etc/instrument/config.toml for this box, on stdout.
render_config() {
  sed -e "s|@PROVIDERS@|$1|" -e "s|@PREFIX@|$PREFIX|g" "$DEPLOY_DIR/config.toml"
}

# render_jack_env: /etc/instrument/jack.env with --jack-device and --period, on stdout.
render_jack_env() {
  sed -e "s|^JACK_DEVICE=.*|JACK_DEVICE=${JACK_DEVICE:-hw:USB}|" \
    -e "s|^JACK_PERIOD=.*|JACK_PERIOD=${JACK_PERIOD:-128}|" "$DEPLOY_DIR/jack.env"
}

# render_instrument_env LD_LIBRARY_PATH: /etc/instrument/instrument.env, on stdout.
render_instrument_env() {
  echo "# Written by deploy/ at install: libraries the GPU execution providers need."
  if [ -n "$1" ]; then echo "LD_LIBRARY_PATH=$1"; fi
}

# write_config PROVIDERS LD_LIBRARY_PATH: /etc/instrument/{config.toml,jack.env,instrument.env}
write_config() {
  local tmp
  log "configuration in $ETC (providers: $1)"
  run install -d -m 0755 "$ETC"
  tmp=$(mktemp -d)
  render_config "$1" >"$tmp/config.toml"
  put_once "$tmp/config.toml" "$ETC/config.toml"
  render_jack_env >"$tmp/jack.env"
  if [ -n "$JACK_DEVICE$JACK_PERIOD" ]; then
    put "$tmp/jack.env" "$ETC/jack.env" 0644 # asked for on the command line: replace
  else
    put_once "$tmp/jack.env" "$ETC/jack.env"
  fi
  render_instrument_env "$2" >"$tmp/instrument.env"
  put "$tmp/instrument.env" "$ETC/instrument.env" 0644
  rm -rf "$tmp"
  # A config error (exit 2) must stop the installation; "no JACK server yet" (1) is fine.
  if [ "$DRY_RUN" = 0 ]; then
    local code=0
    "$PREFIX/venv/bin/instrument" check --config "$ETC/config.toml" >/dev/null || code=$?
    [ "$code" -ne 2 ] || die "$ETC/config.toml has an error (see above)"
  else
    run "$PREFIX/venv/bin/instrument" check --config "$ETC/config.toml"
  fi
}

# warmup LD_LIBRARY_PATH: load every model on the configured providers now, as the
# service user, so TensorRT engines are built into $STATE/trt-cache before any gig.
warmup() {
  log "warming up the models (TensorRT engines are built now, once; this can take minutes)"
  if ! run runuser -u "$SERVICE_USER" -- env STATE_DIRECTORY="$STATE" HOME="$STATE" \
    LD_LIBRARY_PATH="$1" PYO_GUI_WX=0 \
    "$PREFIX/venv/bin/instrument" warmup --config "$ETC/config.toml"; then
    warn "a model did not load (see above): the instrument will play with its fallback" \
      "generators until that is fixed"
  fi
}

# install_units EXTRA_UNIT: the units (EXTRA_UNIT too unless ""), the journald cap.
install_units() {
  log "systemd units"
  local tmp unit units=(instrument-jack.service instrument.service)
  if [ -n "$1" ]; then units+=("$1"); fi
  tmp=$(mktemp -d)
  for unit in "${units[@]}"; do
    sed -e "s|/opt/instrument|$PREFIX|g" "$DEPLOY_DIR/systemd/$unit" >"$tmp/$unit"
    put "$tmp/$unit" "/etc/systemd/system/$unit" 0644
  done
  put "$DEPLOY_DIR/journald/instrument.conf" /etc/systemd/journald.conf.d/instrument.conf 0644
  rm -rf "$tmp"
  run systemctl daemon-reload
  run systemctl restart systemd-journald
  run systemctl enable "${units[@]}"
}

start_services() {
  if [ "$START" = 0 ]; then
    log "installed; start with: sudo systemctl start instrument"
    return
  fi
  log "starting"
  run systemctl restart instrument-jack.service instrument.service
  if [ "$DRY_RUN" = 0 ]; then
    sleep 5
    /usr/local/bin/instrument status --config "$ETC/config.toml" ||
      warn "not answering yet: see journalctl -u instrument -u instrument-jack -b"
  fi
}

# nvidia_lib_path: the lib directories of NVIDIA's pip packages (CUDA, cuDNN, TensorRT)
# in the venv, colon-separated, for LD_LIBRARY_PATH.
nvidia_lib_path() {
  [ "$DRY_RUN" = 1 ] && {
    echo "<venv nvidia lib dirs>"
    return
  }
  "$PREFIX/venv/bin/python" - <<'EOF'
import glob, os, site
dirs = []
for base in site.getsitepackages():
    dirs += sorted(glob.glob(os.path.join(base, "nvidia", "*", "lib")))
    dirs += sorted(glob.glob(os.path.join(base, "tensorrt_libs")))
print(":".join(d for d in dirs if os.path.isdir(d)))
EOF
}
