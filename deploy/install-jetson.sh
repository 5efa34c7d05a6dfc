#!/usr/bin/env bash
# Turn a fresh NVIDIA Jetson (JetPack 6, Ubuntu 22.04) into the instrument: system
# packages, a Python environment with NVIDIA's onnxruntime-gpu wheel, systemd services
# for JACK and the instrument, TensorRT engines built now (never during a gig), and
# optionally maximum performance. See README.md, "Deploy on a Jetson".
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

usage() {
  cat <<'EOF_USAGE'
Usage: sudo deploy/install-jetson.sh (--ort-wheel WHEEL | --ort-index URL | --cpu) [options]

onnxruntime with CUDA and TensorRT for Jetson comes from NVIDIA, not PyPI; give one of:
  --ort-wheel WHEEL      an onnxruntime_gpu-*.whl for this JetPack and Python: a file or URL
  --ort-index URL        a pip index that serves onnxruntime-gpu for this JetPack
  --cpu                  no GPU: plain onnxruntime from PyPI, CPU execution provider only
Options:
  --performance          opt-in: nvpmodel power mode (see --nvpmodel) now, and
                         jetson_clocks at every boot (more power and heat, less jitter)
  --nvpmodel MODE        the nvpmodel mode for --performance (default 0, MAXN on most)
EOF_USAGE
  common_help
}

ORT_WHEEL=""
ORT_INDEX=""
CPU_ONLY=0
PERFORMANCE=0
NVPMODEL_MODE=0
while [ $# -gt 0 ]; do
  case "$1" in
  -h | --help)
    usage
    exit 0
    ;;
  --ort-wheel)
    ORT_WHEEL=${2:?--ort-wheel needs a file or URL}
    shift 2
    ;;
  --ort-index)
    ORT_INDEX=${2:?--ort-index needs a URL}
    shift 2
    ;;
  --cpu)
    CPU_ONLY=1
    shift
    ;;
  --performance)
    PERFORMANCE=1
    shift
    ;;
  --nvpmodel)
    NVPMODEL_MODE=${2:?--nvpmodel needs a mode number}
    shift 2
    ;;
  *)
    n=$(common_option_arity "$1")
    [ $# -ge "$n" ] || die "$1 needs a value"
    common_option "$1" "${2:-}"
    shift "$n"
    ;;
  esac
done
if [ "$CPU_ONLY" = 0 ] && [ -z "$ORT_WHEEL$ORT_INDEX" ]; then
  usage >&2
  die "give --ort-wheel, --ort-index or --cpu"
fi
preflight
if [ ! -e /etc/nv_tegra_release ] && [ "$DRY_RUN" = 0 ]; then
  warn "/etc/nv_tegra_release is missing: this does not look like a Jetson (JetPack)"
fi

# pyo has no aarch64 wheel: it is built here, against these libraries.
apt_install "${COMMON_APT[@]}" portaudio19-dev libportmidi-dev liblo-dev libsndfile1-dev
create_user
rt_limits
make_venv

if [ "$CPU_ONLY" = 1 ]; then
  install_package cpu
  PROVIDERS='["cpu"]'
  LIBPATH=""
else
  log "onnxruntime-gpu from NVIDIA"
  if [ -n "$ORT_WHEEL" ]; then
    pip_install "$ORT_WHEEL"
  else
    pip_install --extra-index-url "$ORT_INDEX" onnxruntime-gpu
  fi
  install_package ""
  PROVIDERS='["tensorrt", "cuda", "cpu"]'
  LIBPATH=""
  [ -d /usr/local/cuda/lib64 ] && LIBPATH=/usr/local/cuda/lib64
  if [ "$DRY_RUN" = 0 ]; then
    available=$(LD_LIBRARY_PATH="$LIBPATH" "$PREFIX/venv/bin/python" -c \
      'import onnxruntime as o; print(" ".join(o.get_available_providers()))') ||
      die "onnxruntime does not import in $PREFIX/venv (wrong wheel for this JetPack/Python?)"
    log "onnxruntime providers: $available"
    case "$available" in
    *TensorrtExecutionProvider*) ;;
    *) warn "no TensorRT provider in this onnxruntime: models run on CUDA or the CPU" ;;
    esac
  fi
fi

write_config "$PROVIDERS" "$LIBPATH"
if [ "$PERFORMANCE" = 1 ]; then
  log "performance mode: nvpmodel -m $NVPMODEL_MODE, jetson_clocks at boot"
  run /usr/sbin/nvpmodel -m "$NVPMODEL_MODE"
  run /usr/bin/jetson_clocks
  install_units instrument-performance.service
else
  install_units ""
fi
warmup "$LIBPATH"
start_services
log "done. Play; check with: sudo instrument status; logs: journalctl -u instrument -f"
