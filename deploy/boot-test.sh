#!/usr/bin/env bash
# The boot into a playable state, tested: install the instrument with
# `deploy/install-x86.sh --cpu` into a fresh Debian 12 root (debootstrap, Debian's own
# packages), boot it as a container with systemd (systemd-nspawn --boot), and check that
#   1. instrument-jack and instrument are active, `instrument status` answers with the
#      models loaded and nothing dead, and the layout is the one measured (two processes);
#   2. a note sent to instrument:midi_in sounds on instrument:out_1;
#   3. after a reboot of the container, both hold again (the units are enabled, not
#      just started).
# The container has no sound card: a drop-in runs instrument-jack.service on JACK's
# dummy backend (the same jackd, the same unit otherwise). See README.md, "Deploy".
#
# Usage: sudo deploy/boot-test.sh [--keep]   (needs systemd-nspawn and debootstrap:
#   apt-get install systemd-container debootstrap; the network to Debian's mirror and
#   to pip's index, or pip's local wheel directories, which are bound in read-only)
# Exit code 0 when every check passed. Logs in $WORK (default /var/tmp/instrument-boot-test).
set -euo pipefail

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WORK=${WORK:-/var/tmp/instrument-boot-test}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
SUITE=${SUITE:-bookworm}
MACHINE=instrument-boot
KEEP=0
[ "${1:-}" = --keep ] && KEEP=1

log() { printf '==> %s\n' "$*"; }
die() {
  printf 'boot-test: FAILED: %s\n' "$*" >&2
  exit 1
}
[ "$(id -u)" -eq 0 ] || die "run as root"
command -v systemd-nspawn >/dev/null || die "no systemd-nspawn (apt-get install systemd-container)"
command -v debootstrap >/dev/null || die "no debootstrap (apt-get install debootstrap)"
mkdir -p "$WORK"

# A pristine base root, made once and copied for every run: a fresh root each time.
BASE=$WORK/base
if [ ! -x "$BASE/usr/bin/systemctl" ]; then
  log "debootstrap $SUITE from $MIRROR (once)"
  rm -rf "$BASE.tmp"
  debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus,ca-certificates,procps \
    "$SUITE" "$BASE.tmp" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 ||
    die "debootstrap failed (see $WORK/debootstrap.log)"
  mv "$BASE.tmp" "$BASE"
fi
ROOT=$WORK/root
rm -rf "$ROOT"
log "a fresh root in $ROOT"
cp -a "$BASE" "$ROOT"
echo "$MACHINE" >"$ROOT/etc/hostname"
# The checkout as it is (tracked and new files, not ignored ones such as .venv).
mkdir -p "$ROOT/root/instrument"
(cd "$SRC" && git ls-files -co --exclude-standard -z | xargs -0 tar -c --no-recursion) |
  tar -x -C "$ROOT/root/instrument"
# No sound card in the container: JACK's dummy backend, everything else as installed.
mkdir -p "$ROOT/etc/systemd/system/instrument-jack.service.d"
cat >"$ROOT/etc/systemd/system/instrument-jack.service.d/boot-test.conf" <<'EOF'
# deploy/boot-test.sh: no sound card in the test container, so the dummy backend.
[Service]
ExecStart=
ExecStart=/usr/bin/jackd -R -P ${JACK_PRIORITY} -t 2000 -d dummy -r ${JACK_RATE} -p ${JACK_PERIOD}
EOF
# The probe: a note into instrument:midi_in, its sound from instrument:out_1.
cat >"$ROOT/root/probe.py" <<'EOF'
import sys, time
import jack, numpy as np
client = jack.Client("boot-probe", no_start_server=True)
out = client.midi_outports.register("note")
cap = client.inports.register("in")
state = {"send": [], "frames": []}
def process(frames):
    out.clear_buffer()
    while state["send"]:
        out.write_midi_event(0, state["send"].pop(0))
    state["frames"].append(cap.get_array().copy())
client.set_process_callback(process)
client.activate()
client.connect("boot-probe:note", "instrument:midi_in")
client.connect("instrument:out_1", "boot-probe:in")
time.sleep(0.5)
state["frames"].clear()
state["send"].append(bytes([0x90, 60, 100]))
time.sleep(0.4)
state["send"].append(bytes([0x80, 60, 0]))
time.sleep(0.3)
audio = np.concatenate(state["frames"])
client.deactivate(); client.close()
peak = float(np.abs(audio).max())
print(f"probe: peak {peak:.4f} over {audio.size} frames")
sys.exit(0 if peak > 1e-3 else 1)
EOF

# pip's configuration and local wheel directories of this machine, if any, and its CA
# bundle (a proxy's certificate) for pip only, at a path of its own.
BINDS=()
for path in /etc/pip.conf /opt/wheels /opt/pypi /opt/pypi-more; do
  [ -e "$path" ] && BINDS+=("--bind-ro=$path")
done
PIP_CA=()
if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
  BINDS+=("--bind-ro=/etc/ssl/certs/ca-certificates.crt:/etc/host-ca-certificates.crt")
  PIP_CA=(PIP_CERT=/etc/host-ca-certificates.crt)
fi
NSPAWN=""
LEADER=""
boot() {
  log "booting the container ($1)"
  systemd-nspawn --boot -D "$ROOT" -M "$MACHINE" --keep-unit --register=no \
    --console=pipe "${BINDS[@]}" </dev/null >"$WORK/console-$1.log" 2>&1 &
  NSPAWN=$!
  local i
  for i in $(seq 100); do
    LEADER=$(pgrep -P "$NSPAWN" | head -1 || true)
    [ -n "$LEADER" ] && break
    sleep 0.2
  done
  [ -n "$LEADER" ] || die "the container did not start (see $WORK/console-$1.log)"
  local state=""
  for i in $(seq 120); do
    state=$(inside systemctl is-system-running 2>/dev/null || true)
    case "$state" in running | degraded) break ;; esac
    sleep 1
  done
  log "container up: $state"
}
inside() {
  nsenter -t "$LEADER" -m -u -i -n -p -- env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    HOME=/root LANG=C.UTF-8 "$@"
}
shutdown_container() {
  inside systemctl "$1" >/dev/null 2>&1 || true
  local i
  for i in $(seq 60); do
    kill -0 "$NSPAWN" 2>/dev/null || return 0
    sleep 1
  done
  kill "$NSPAWN" 2>/dev/null || true
  wait "$NSPAWN" 2>/dev/null || true
}
cleanup() {
  if [ -n "$NSPAWN" ] && kill -0 "$NSPAWN" 2>/dev/null; then shutdown_container poweroff; fi
  [ "$KEEP" = 1 ] || rm -rf "$ROOT"
}
trap cleanup EXIT

check_playable() {
  local what=$1 i
  log "checks ($what)"
  for i in $(seq 60); do
    inside systemctl is-active --quiet instrument.service && break
    sleep 1
  done
  inside systemctl is-active instrument-jack.service instrument.service ||
    { inside journalctl -b -u instrument-jack -u instrument --no-pager | tail -60; die "$what: services not active"; }
  local status=""
  for i in $(seq 60); do
    status=$(inside /usr/local/bin/instrument status --json --config /etc/instrument/config.toml 2>/dev/null) && break
    sleep 1
  done
  [ -n "$status" ] || { inside journalctl -b -u instrument --no-pager | tail -60; die "$what: instrument status does not answer"; }
  printf '%s\n' "$status" >"$WORK/status-$what.json"
  STATUS="$status" python3 - "$what" <<'EOF' || die "$what: instrument status says it is not playable (see $WORK)"
import json, os, sys
s = json.loads(os.environ["STATUS"])
problems = []
if s.get("dead"):
    problems.append(f"dead: {s['dead']}")
for task in ("continuation", "accompaniment"):
    m = s["models"][task]
    if not m["providers"] or m["fallback"]:
        problems.append(f"{task}: no model ({m['fallback']})")
if s["audio"]["backend"] != "jack" or not s.get("audio_cycles"):
    problems.append(f"audio: {s['audio']}, cycles {s.get('audio_cycles')}")
if "engine_restarts" not in s:
    problems.append("one process: the deployed layout is not the measured one")
print(f"{sys.argv[1]}: status: mode {s['mode']}, models "
      f"{ {t: s['models'][t]['providers'] for t in s['models']} }, audio {s['audio']}, "
      f"midi_in {s['midi_in']}, engine_restarts {s.get('engine_restarts')}, dead {s['dead']}")
for p in problems:
    print("problem:", p)
sys.exit(1 if problems else 0)
EOF
  inside runuser -u instrument -- env PYO_GUI_WX=0 JACK_NO_START_SERVER=1 \
    /opt/instrument/venv/bin/python /root/probe.py ||
    die "$what: a note sent to instrument:midi_in did not sound"
  inside journalctl -b -u instrument --no-pager >"$WORK/journal-$what.log" || true
  log "$what: playable"
}

boot first
log "install: deploy/install-x86.sh --cpu (log in $WORK/install.log)"
inside env "${PIP_CA[@]}" bash /root/instrument/deploy/install-x86.sh --cpu >"$WORK/install.log" 2>&1 ||
  { tail -40 "$WORK/install.log"; die "install-x86.sh --cpu failed"; }
# runuser needs the probe readable by the service user.
inside chmod 0755 /root
inside chmod 0644 /root/probe.py
check_playable install
log "rebooting the container"
shutdown_container reboot
boot second
check_playable reboot
log "boot test passed: installed, booted, playable, and playable again after a reboot"
