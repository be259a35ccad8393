#!/usr/bin/env bash
# wait-stable figures for scripts/bench, against the ECS rollout emulator (release binaries in
# $DK_BIN_DIR; rows through scripts/bench's `row`, or printed plainly when run alone):
#
#   (a) delay between the emulator marking the deployment COMPLETED (its real clock, from
#       GET /_emulator/state) and wait-stable exiting, at --interval 5s and 1s;
#   (b) DescribeServices calls per poll for 25 services (GET /_emulator/calls).
#
# Beside each, the aws CLI waiter (`aws ecs wait services-stable`): a documented 15 s delay
# between polls (botocore waiters-2.json), at most 10 services per invocation.
#
#   DK_BIN_DIR=target/release crates/wait-stable/bench.sh      # RUNS=6 by default
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
bin=${DK_BIN_DIR:-$here/target/release}
out=${DK_BENCH_OUT:-$here/target/bench}
runs=${RUNS:-6}
mkdir -p "$out"
for b in ecs-emulator wait-stable; do
  [ -x "$bin/$b" ] || { echo "bench.sh: $bin/$b is missing; cargo build --release -p $b" >&2; exit 2; }
done
if ! declare -F row >/dev/null; then
  row() { printf '| %s | %s | %s | %s | %s |\n' "$@"; }
fi

work=$(mktemp -d)
emu_pid=
cleanup() { [ -n "$emu_pid" ] && kill "$emu_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

# Emulated time runs 20x; an image is healthy 5 s + 10 s (more in (a), see below) after launch.
cat > "$work/scenario.yaml" <<'YAML'
time_scale: 20
images:
  "bench:v1": { behavior: healthy, start_seconds: 5, healthy_after_seconds: 10, stop_seconds: 2 }
  "bench:v2": { behavior: healthy, start_seconds: 5, healthy_after_seconds: 10, stop_seconds: 2 }
  "bench:slow": { behavior: healthy, start_seconds: 100000 }
YAML
"$bin/ecs-emulator" --port-file "$work/port" --scenario "$work/scenario.yaml" 2>"$work/emulator.log" &
emu_pid=$!
for _ in $(seq 100); do [ -s "$work/port" ] && break; sleep 0.05; done
url="http://127.0.0.1:$(cat "$work/port")"

# One ECS JSON 1.1 call with curl (the emulator does not check signatures).
ecs() { # Operation JSON
  curl -sf -X POST "$url/" -H 'Content-Type: application/x-amz-json-1.1' \
    -H "X-Amz-Target: AmazonEC2ContainerServiceV20141113.$1" -d "$2"
}
register() { # image -> task definition ARN
  ecs RegisterTaskDefinition "{\"family\":\"bench\",\"containerDefinitions\":[{\"name\":\"app\",\"image\":\"$1\",\"essential\":true}]}" |
    jq -r .taskDefinition.taskDefinitionArn
}
export AWS_ENDPOINT_URL_ECS=$url AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing
unset AWS_ENDPOINT_URL AWS_PROFILE

ecs CreateCluster '{"clusterName":"bench"}' >/dev/null
v1=$(register bench:v1)
v2=$(register bench:v2)
slow=$(register bench:slow)
create_service() { # name
  ecs CreateService "{\"cluster\":\"bench\",\"serviceName\":\"$1\",\"taskDefinition\":\"$v1\",\"desiredCount\":2,
    \"deploymentConfiguration\":{\"maximumPercent\":200,\"minimumHealthyPercent\":100,
    \"deploymentCircuitBreaker\":{\"enable\":true,\"rollback\":true}}}" >/dev/null
}
update() { # name td -> new PRIMARY deployment id
  ecs UpdateService "{\"cluster\":\"bench\",\"service\":\"$1\",\"taskDefinition\":\"$2\"}" |
    jq -r '.service.deployments[] | select(.status=="PRIMARY") | .id'
}
settled() { # name -> success once the service has one COMPLETED deployment
  ecs DescribeServices "{\"cluster\":\"bench\",\"services\":[\"$1\"]}" |
    jq -e '.services[0].deployments | length == 1 and .[0].rolloutState == "COMPLETED"' >/dev/null
}
wait_settled() { for _ in $(seq 600); do settled "$1" && return 0; sleep 0.05; done; echo "bench.sh: $1 never settled" >&2; return 1; }

# (a) completion → exit delay.
create_service lat
wait_settled lat
stats() { python3 -c 'import sys,statistics as s; v=[float(x) for x in sys.argv[1:]]; print("%.2f %.2f %.2f" % (s.median(v), max(v), min(v)))' "$@"; }
for interval in 5s 1s; do
  delays=()
  for i in $(seq "$runs"); do
    if [ $((i % 2)) -eq 1 ]; then td=$v2; else td=$v1; fi
    # A random rollout length (one more interval at most) puts completion at a random phase
    # of the polls.
    healthy=$(python3 -c "import random; print('%.1f' % (10 + random.uniform(0, 20 * ${interval%s})))")
    sed "s/healthy_after_seconds: 10/healthy_after_seconds: $healthy/g" "$work/scenario.yaml" |
      curl -sf -X POST "$url/_emulator/scenario" --data-binary @- >/dev/null
    id=$(update lat "$td")
    "$bin/wait-stable" --cluster bench --service lat --deployment-id "$id" --interval "$interval" --timeout 2m -q \
      2>>"$out/wait-stable.log"
    exited=$(date +%s.%N)
    finished=$(curl -sf "$url/_emulator/state" |
      jq -r --arg id "$id" '.clusters[].services[].deploymentHistory[] | select(.id==$id) | .finishedAtReal')
    delays+=("$(python3 -c "print('%.3f' % ($exited - $finished))")")
    wait_settled lat
  done
  read -r med max min <<<"$(stats "${delays[@]}")"
  echo "wait-stable --interval $interval: completion → exit delays (s): ${delays[*]}" >>"$out/wait-stable.log"
  row "wait-stable: deployment COMPLETED → exit, --interval $interval (s, median of $runs; max $max)" "$med" \
    "aws ecs wait services-stable: polls every 15 s → up to 15 (mean 7.5)" \
    "$(python3 -c "print('%.2f×' % ($med/7.5))")" "< one interval (${interval%s} s)"
done

# (b) DescribeServices calls per poll for 25 services, none finishing (the slow image), 1 s polls.
names=()
for i in $(seq -w 1 25); do create_service "svc$i"; names+=("svc$i"); done
for n in "${names[@]}"; do wait_settled "$n"; done
for n in "${names[@]}"; do update "$n" "$slow" >/dev/null; done
curl -sf -X DELETE "$url/_emulator/calls" >/dev/null
args=(); for n in "${names[@]}"; do args+=(--service "$n"); done
set +e
"$bin/wait-stable" --cluster bench "${args[@]}" --interval 1s --timeout 10s -q >/dev/null 2>&1
code=$?
set -e
[ "$code" -eq 4 ] || echo "bench.sh: expected a timeout (exit 4) for the calls-per-poll run, got $code" >&2
read -r calls polls largest <<<"$(curl -sf "$url/_emulator/calls" |
  jq -r '.describe_services_batch_sizes as $b | "\($b | length) \(($b | add) / 25) \($b | max)"')"
per_poll=$(python3 -c "print('%.2f' % ($calls / $polls))")
echo "25 services, 10 s at --interval 1s: $calls DescribeServices calls in $polls polls, largest batch $largest" >>"$out/wait-stable.log"
row "wait-stable: DescribeServices calls per poll, 25 services (largest batch $largest)" "$per_poll" \
  "aws ecs wait services-stable: ≤ 10 services per waiter → 3 waiters, 3 calls per 15 s" "" "one call per 10 services (3)"
