# Shared shell helpers for scripts/*. Sourced, not run.
DK_ROOT=${DK_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
DK_CACHE=${DK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/deploy-kit}
mkdir -p "$DK_CACHE"
export DK_ROOT DK_CACHE
log() { printf '[%s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
sudo_if_needed() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
