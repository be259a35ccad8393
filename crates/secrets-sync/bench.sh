#!/usr/bin/env bash
# secrets-sync on moto: 200 keys, one secret per key (aws:PREFIX/), beside the peer a team would
# script — a loop of `aws secretsmanager put-secret-value`, one call per key. Called by
# scripts/bench (which starts the stand-ins, builds release binaries and defines `figure`).
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
out=${DK_BENCH_OUT:-$here/target/bench}
# scripts/bench's table row (scripts/figures.py), also when this runs alone.
declare -F figure >/dev/null || figure() { python3 "$here/scripts/figures.py" add "$out/figures.jsonl" "$@"; }
aws="$DK_CACHE/venv/bin/aws --endpoint-url $DK_MOTO_URL --region us-east-1"
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1 AWS_ENDPOINT_URL="$DK_MOTO_URL"
ss="$DK_BIN_DIR/secrets-sync"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
prefix="bench-$RANDOM$RANDOM/"
for i in $(seq -w 1 200); do echo "KEY_$i=value-$i-$RANDOM$RANDOM"; done > "$work/a.env"
# The same keys with 10 values changed.
awk -F= 'NR % 20 == 0 { print $1 "=changed-" NR; next } { print }' "$work/a.env" > "$work/b.env"
now() { date +%s.%N; }
secs() { python3 -c "print('%.2f' % ($2 - $1))"; }

t0=$(now); "$ss" apply --from "$work/a.env" --to "aws:$prefix" -q >/dev/null; t1=$(now)
create=$(secs "$t0" "$t1")
t0=$(now); "$ss" apply --from "$work/b.env" --to "aws:$prefix" -q >/dev/null; t1=$(now)
update=$(secs "$t0" "$t1")
t0=$(now); "$ss" apply --from "$work/b.env" --to "aws:$prefix" -q >/dev/null; t1=$(now)
noop=$(secs "$t0" "$t1")

# Peer: one put-secret-value per key (the secrets exist now), as a sync script does it.
t0=$(now)
while IFS='=' read -r k v; do
  $aws secretsmanager put-secret-value --secret-id "$prefix$k" --secret-string "$v" >/dev/null
done < "$work/a.env"
t1=$(now)
peer=$(secs "$t0" "$t1")

peer_name="aws secretsmanager put-secret-value ×200 loop"
figure secrets-sync-create "secrets-sync apply: 200 keys, one secret per key, first sync (creates 200) on moto" s "$create" \
  "$peer_name" "$peer" --goal "ratio<=0.1"
figure secrets-sync-update "secrets-sync apply: 200 keys, 10 changed" s "$update" "$peer_name" "$peer" --goal "ratio<=0.1"
figure secrets-sync-noop "secrets-sync apply: 200 keys, none changed" s "$noop" "$peer_name" "$peer" --goal "ratio<=0.1"
