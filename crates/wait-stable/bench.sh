#!/usr/bin/env bash
# wait-stable figures for scripts/bench, against the ECS rollout emulator (release binaries in
# $DK_BIN_DIR; rows through scripts/bench's `figure`, or target/bench/figures.jsonl when run alone):
#
#   (a) delay between the emulator marking the deployment COMPLETED (its real clock, from
#       GET /_emulator/state) and wait-stable exiting, at --interval 5s and 1s;
#   (b) DescribeServices calls per poll for 25 services (GET /_emulator/calls).
#
# Beside each, the aws CLI waiter (`aws ecs wait services-stable`, moto's venv), measured on the
# same rollouts (PEER_RUNS=3; it polls every 15 s, botocore waiters-2.json), and for (b) its
# documented limit of 10 services per invocation.
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
# scripts/bench's table row (scripts/figures.py), also when this runs alone.
declare -F figure >/dev/null || figure() { python3 "$here/scripts/figures.py" add "$out/figures.jsonl" "$@"; }

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
# One rollout of the `lat` service to a random phase of the polls, waited for by a command; prints
# the delay (s) between the emulator's completion of the deployment and the command's exit.
delay_of() { # i interval_s command… (the deployment id is appended as $DEPLOYMENT_ID in env)
  local i=$1 interval_s=$2 td healthy id exited finished; shift 2
  if [ $((i % 2)) -eq 1 ]; then td=$v2; else td=$v1; fi
  # A random rollout length (one more interval at most) puts completion at a random phase
  # of the polls.
  healthy=$(python3 -c "import random; print('%.1f' % (10 + random.uniform(0, 20 * $interval_s)))")
  sed "s/healthy_after_seconds: 10/healthy_after_seconds: $healthy/g" "$work/scenario.yaml" |
    curl -sf -X POST "$url/_emulator/scenario" --data-binary @- >/dev/null
  id=$(update lat "$td")
  DEPLOYMENT_ID=$id "$@" >/dev/null 2>>"$out/wait-stable.log"
  exited=$(date +%s.%N)
  finished=$(curl -sf "$url/_emulator/state" |
    jq -r --arg id "$id" '.clusters[].services[].deploymentHistory[] | select(.id==$id) | .finishedAtReal')
  python3 -c "print('%.3f' % ($exited - $finished))"
  wait_settled lat
}
ours_wait() { "$bin/wait-stable" --cluster bench --service lat --deployment-id "$DEPLOYMENT_ID" --interval "$1" --timeout 2m -q; }
export -f ours_wait

# The peer, measured: the aws CLI's waiter (15 s between polls) on the same rollouts.
aws_cli="${DK_CACHE:-$HOME/.cache/deploy-kit}/venv/bin/aws"
peer_runs=${PEER_RUNS:-3}
peer_name="aws ecs wait services-stable"
peer_med=
if [ -x "$aws_cli" ]; then
  peer_delays=()
  for i in $(seq "$peer_runs"); do
    peer_delays+=("$(delay_of "$i" 15 "$aws_cli" --endpoint-url "$url" --region us-east-1 ecs wait services-stable \
      --cluster bench --services lat)")
  done
  read -r peer_med _ _ <<<"$(stats "${peer_delays[@]}")"
  peer_name="$peer_name (median of $peer_runs)"
  echo "aws ecs wait services-stable: completion → exit delays (s): ${peer_delays[*]}" >>"$out/wait-stable.log"
fi

for interval in 5s 1s; do
  delays=()
  for i in $(seq "$runs"); do
    delays+=("$(delay_of "$i" "${interval%s}" ours_wait "$interval")")
  done
  read -r med max _ <<<"$(stats "${delays[@]}")"
  echo "wait-stable --interval $interval: completion → exit delays (s): ${delays[*]}" >>"$out/wait-stable.log"
  figure "wait-stable-delay-$interval" "wait-stable: deployment COMPLETED → exit, --interval $interval (median of $runs; max $max)" s "$med" \
    "$peer_name" "$peer_med" --goal "ours<=${interval%s}"
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
figure wait-stable-calls "wait-stable: DescribeServices calls per poll, 25 services (largest batch $largest)" calls "$per_poll" \
  "aws ecs wait services-stable (≤ 10 services per waiter: 3 waiters)" 3 --goal "ours<=3" \
  --note "one call per 10 services is the API's floor"
