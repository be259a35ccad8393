#!/usr/bin/env bash
# ecs-roll bench: wall time of one release on the ECS rollout emulator, against the sequence the
# seeds run (register-task-definition + update-service + `wait services-stable`), on the same
# emulator at the same time scale, at the same time (two services of one cluster).
#
# Called by scripts/bench with DK_BIN_DIR (release binaries) and DK_BENCH_OUT; runs alone too:
#   DK_BIN_DIR=target/release crates/ecs-roll/bench.sh
# The peer is the aws CLI from moto's venv ($DK_CACHE/venv/bin/aws) when present; otherwise its
# waiter is replayed with curl at its documented cadence (first poll at once, then every 15 s,
# success when one deployment is left and runningCount == desiredCount).
#
# Both sides release a fresh image tag every run (the scenario's default image behaviour is
# healthy), so every run registers a revision and rolls a real deployment. ecs-roll runs with its
# defaults (5 s interval, full verification), plus once more with --interval 1s.
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
cd "$here"
DK_CACHE=${DK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/deploy-kit}
DK_BIN_DIR=${DK_BIN_DIR:-$here/target/release}
DK_BENCH_OUT=${DK_BENCH_OUT:-$here/target/bench}
RUNS=${ECS_ROLL_BENCH_RUNS:-3}
mkdir -p "$DK_BENCH_OUT"
work=$(mktemp -d)
log() { printf '[%s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

# scripts/bench's table row (scripts/figures.py), also when this runs alone.
declare -F figure >/dev/null || figure() { python3 "$here/scripts/figures.py" add "$DK_BENCH_OUT/figures.jsonl" "$@"; }
# Median wall time (s) of a script over $RUNS runs; hyperfine when present.
median_of() {
  if command -v hyperfine >/dev/null; then
    hyperfine --style none --runs "$RUNS" --export-json "$work/h.json" "bash $1" >/dev/null 2>"$work/h.err" || { cat "$work/h.err" >&2; return 1; }
    python3 -c 'import json,sys;print("%.2f"%json.load(open(sys.argv[1]))["results"][0]["median"])' "$work/h.json"
  else
    local t=()
    for _ in $(seq "$RUNS"); do
      local s; s=$(date +%s.%N); bash "$1" >/dev/null; t+=("$(python3 -c "print($(date +%s.%N)-$s)")")
    done
    python3 -c 'import statistics,sys;print("%.2f"%statistics.median(map(float,sys.argv[1:])))' "${t[@]}"
  fi
}

for b in ecs-roll ecs-emulator; do
  [ -x "$DK_BIN_DIR/$b" ] || { log "building $b (release)"; cargo build --release --quiet -p "$b" --bin "$b"; DK_BIN_DIR=$here/target/release; }
done

# Emulator: the default time scale (20 emulated s per real s); tasks take 10 s to start and
# count healthy 40 s after RUNNING, as ECS counts a task without a health check.
cat > "$work/scenario.yml" <<'YAML'
time_scale: 20
default: { behavior: healthy, start_seconds: 10, healthy_after_seconds: 40, stop_seconds: 2 }
YAML
"$DK_BIN_DIR/ecs-emulator" --scenario "$work/scenario.yml" --port-file "$work/port" 2>"$work/emulator.log" &
emu=$!
trap 'kill "$emu" 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 100); do [ -s "$work/port" ] && break; sleep 0.05; done
url="http://127.0.0.1:$(cat "$work/port")"
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
export AWS_ENDPOINT_URL_ECS="$url"

# Raw ECS JSON calls (setup, and the curl peer).
ecs() { # Operation JSON
  curl -sf -X POST "$url/" -H "Content-Type: application/x-amz-json-1.1" \
    -H "X-Amz-Target: AmazonEC2ContainerServiceV20141113.$1" \
    -H "Authorization: AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/ecs/aws4_request, SignedHeaders=host, Signature=0" \
    -d "$2"
}
export -f ecs
export url

ecs CreateCluster '{"clusterName":"bench"}' >/dev/null
ecs RegisterTaskDefinition '{"family":"bench","containerDefinitions":[{"name":"app","image":"app:start","essential":true}]}' >/dev/null
for s in ours peer; do
  ecs CreateService "{\"cluster\":\"bench\",\"serviceName\":\"$s\",\"taskDefinition\":\"bench\",\"desiredCount\":2,\"deploymentConfiguration\":{\"minimumHealthyPercent\":100,\"maximumPercent\":200,\"deploymentCircuitBreaker\":{\"enable\":true,\"rollback\":true}}}" >/dev/null
done

cat > "$work/ours.sh" <<EOF
exec "$DK_BIN_DIR/ecs-roll" deploy --cluster bench --service ours --image "app=app:o\$RANDOM\$RANDOM" -q
EOF
cat > "$work/ours-1s.sh" <<EOF
exec "$DK_BIN_DIR/ecs-roll" deploy --cluster bench --service ours --image "app=app:f\$RANDOM\$RANDOM" --interval 1s -q
EOF
aws="$DK_CACHE/venv/bin/aws"
if [ -x "$aws" ]; then
  peer_name="aws CLI register + update-service + wait services-stable"
  cat > "$work/peer.sh" <<EOF
set -e
"$aws" --endpoint-url "$url" ecs register-task-definition --family bench \
  --container-definitions "[{\"name\":\"app\",\"image\":\"app:p\$RANDOM\$RANDOM\",\"essential\":true}]" >/dev/null
"$aws" --endpoint-url "$url" ecs update-service --cluster bench --service peer --task-definition bench >/dev/null
"$aws" --endpoint-url "$url" ecs wait services-stable --cluster bench --services peer
EOF
else
  peer_name="the same calls with curl, polled at the aws waiter's 15 s cadence"
  cat > "$work/peer.sh" <<'EOF'
set -e
ecs RegisterTaskDefinition "{\"family\":\"bench\",\"containerDefinitions\":[{\"name\":\"app\",\"image\":\"app:p$RANDOM$RANDOM\",\"essential\":true}]}" >/dev/null
ecs UpdateService '{"cluster":"bench","service":"peer","taskDefinition":"bench"}' >/dev/null
for _ in $(seq 40); do
  ecs DescribeServices '{"cluster":"bench","services":["peer"]}' | python3 -c '
import json,sys
s=json.load(sys.stdin)["services"][0]
sys.exit(0 if len(s["deployments"])==1 and s["runningCount"]==s["desiredCount"] else 1)' && exit 0
  sleep 15
done
exit 255
EOF
fi

# Warm-up (first revisions, connection set-up) outside the measurement.
bash "$work/ours.sh" && bash "$work/peer.sh"
log "ecs-roll deploy ($RUNS runs)"
ours=$(median_of "$work/ours.sh")
log "ecs-roll deploy --interval 1s ($RUNS runs)"
ours_fast=$(median_of "$work/ours-1s.sh")
log "peer: $peer_name ($RUNS runs)"
peer=$(median_of "$work/peer.sh")

figure ecs-roll "ecs-roll deploy on the emulator, 20× time, 2 tasks (median of $RUNS)" s "$ours" "$peer_name" "$peer" \
  --goal "ratio<=1"
figure ecs-roll-1s "ecs-roll deploy --interval 1s" s "$ours_fast" "$peer_name" "$peer" --goal "ratio<=1"
