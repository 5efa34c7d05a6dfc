#!/usr/bin/env bash
# Turn an x86-64 Linux box (Debian 12, Ubuntu 22.04/24.04) into the instrument, with an
# NVIDIA GPU (CUDA, optionally TensorRT) or CPU only: system packages, a Python
# environment, systemd services for JACK and the instrument, models warmed up (TensorRT
# engines built now, never during a gig). See README.md, "Deploy on an x86-64 box".
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

usage() {
  cat <<'EOF_USAGE'
Usage: sudo deploy/install-x86.sh [--gpu | --cpu] [options]

  --gpu                  NVIDIA GPU: onnxruntime-gpu with CUDA and cuDNN from pip (needs
                         the NVIDIA driver; default when nvidia-smi works)
  --cpu                  CPU only (default without a working nvidia-smi)
  --ort-spec SPEC        the pip requirement for --gpu (default
                         "onnxruntime-gpu[cuda,cudnn]"; pin a version to match an older
                         driver, e.g. "onnxruntime-gpu[cuda,cudnn]==1.22.0" for CUDA 12)
  --tensorrt-package PKG also pip-install TensorRT's libraries (e.g. the tensorrt-cu12-libs
                         or tensorrt-cu13-libs matching that onnxruntime) for the TensorRT
                         provider; without it models run on CUDA
EOF_USAGE
  common_help
}

MODE=""
ORT_SPEC="onnxruntime-gpu[cuda,cudnn]"
TRT_PACKAGE=""
while [ $# -gt 0 ]; do
  case "$1" in
  -h | --help)
    usage
    exit 0
    ;;
  --gpu | --cpu)
    MODE=${1#--}
    shift
    ;;
  --ort-spec)
    ORT_SPEC=${2:?--ort-spec needs a requirement}
    shift 2
    ;;
  --tensorrt-package)
    TRT_PACKAGE=${2:?--tensorrt-package needs a package name}
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
if [ "$(uname -m)" != x86_64 ] && [ "$DRY_RUN" = 0 ]; then
  die "this is $(uname -m), not x86_64: use deploy/install-jetson.sh on a Jetson"
fi
if [ -z "$MODE" ]; then
  if command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1; then
    MODE=gpu
  else
    MODE=cpu
  fi
  log "no --gpu or --cpu given: $MODE (nvidia-smi $([ "$MODE" = gpu ] && echo works || echo "does not work"))"
fi
preflight

apt_install "${COMMON_APT[@]}"
create_user
rt_limits
make_venv
# The package depends on onnxruntime-gpu on x86-64 Linux; its CPU provider needs no GPU,
# so CPU-only boxes use it too (plain onnxruntime beside it would collide).
install_package ""
if [ "$MODE" = gpu ]; then
  log "CUDA and cuDNN for onnxruntime: $ORT_SPEC"
  pip_install "$ORT_SPEC"
  if [ -n "$TRT_PACKAGE" ]; then
    log "TensorRT libraries: $TRT_PACKAGE"
    pip_install "$TRT_PACKAGE"
  fi
  PROVIDERS='["tensorrt", "cuda", "cpu"]'
  LIBPATH=$(nvidia_lib_path)
else
  PROVIDERS='["cpu"]'
  LIBPATH=""
fi
write_config "$PROVIDERS" "$LIBPATH"
install_units ""
warmup "$LIBPATH"
start_services
log "done. Play; check with: sudo instrument status; logs: journalctl -u instrument -f"
