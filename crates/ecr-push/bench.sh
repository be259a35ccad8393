#!/usr/bin/env bash
# ecr-push against skopeo, same machine, same registry, same run (called by scripts/bench with
# $DK_BIN_DIR = release binaries and the stand-ins' env sourced; runnable alone the same way).
#
# Figures (medians; the two tools' runs alternate so load changes hit both alike):
#   - cold push of a deterministic 3-layer image (1 + 10 + 50 MiB of seeded random data, gzip)
#     into a fresh repository each run. The registry cannot be wiped between runs, so each run
#     gets a new repository name, and both tools' blob caches are deleted before each run — else
#     both would mount the layers from the previous run's repository instead of uploading them
#     (skopeo's cache: /var/lib/containers/cache/blob-info-cache-v1.boltdb when root).
#   - warm re-push of the same image and tag (nothing to upload).
#   - peak RSS (`/usr/bin/time -v`) pushing a 1 GiB single-layer image, both tools.
# Goals: cold ≤ 0.7× skopeo, warm ≤ 0.5× skopeo, RSS ≤ 64 MiB.
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
cd "$here"
: "${DK_BIN_DIR:?set DK_BIN_DIR to the release binaries (scripts/bench does)}"
: "${DK_REGISTRY:?source target/standins/env first (scripts/bench does)}"
out=${DK_BENCH_OUT:-$here/target/bench}
mkdir -p "$out"
runs=${ECR_PUSH_BENCH_RUNS:-5}
bin="$DK_BIN_DIR/ecr-push"
[ -x "$bin" ] || bin="$DK_BIN_DIR/deploy-kit ecr-push"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
reg="$DK_REGISTRY"
skopeo_cache_files="/var/lib/containers/cache/blob-info-cache-v1.boltdb /var/lib/containers/cache/blob-info-cache-v1.sqlite $HOME/.local/share/containers/cache/blob-info-cache-v1.boltdb $HOME/.local/share/containers/cache/blob-info-cache-v1.sqlite"

log() { printf '[%s] ecr-push bench: %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
# scripts/bench's table row (scripts/figures.py), also when this runs alone.
declare -F figure >/dev/null || figure() { python3 "$here/scripts/figures.py" add "$out/figures.jsonl" "$@"; }

# Deterministic OCI layout: seeded random bytes in a one-file tar, gzip-framed with stored
# (level 0) deflate blocks — random data does not compress, and this keeps a 1 GiB image quick to
# write. Streams in 4 MiB pieces, so building the big image needs little memory.
make_layout() { # dir ref size_mib...
  python3 - "$@" <<'PY'
import gzip, hashlib, io, json, os, random, sys, tarfile, zlib
d, ref, sizes = sys.argv[1], sys.argv[2], [int(s) for s in sys.argv[3:]]
blobs = os.path.join(d, "blobs", "sha256"); os.makedirs(blobs, exist_ok=True)
def put(data):
    h = hashlib.sha256(data).hexdigest()
    open(os.path.join(blobs, h), "wb").write(data); return "sha256:" + h, len(data)
layers, diff_ids = [], []
for i, mib in enumerate(sizes):
    rng = random.Random(1000 + i); n = mib << 20
    hdr = tarfile.TarInfo(f"layer{i}.bin"); hdr.size = n; hdr.mtime = 0; hdr.mode = 0o644
    head = hdr.tobuf(format=tarfile.GNU_FORMAT)
    pad = (512 - n % 512) % 512
    tmp = os.path.join(d, "layer.tmp")
    gz_sha, tar_sha = hashlib.sha256(), hashlib.sha256()
    comp = zlib.compressobj(0, zlib.DEFLATED, 31)
    with open(tmp, "wb") as f:
        def w(b):
            tar_sha.update(b); c = comp.compress(b); gz_sha.update(c); f.write(c)
        w(head); left = n
        while left:
            k = min(left, 4 << 20); w(rng.randbytes(k)); left -= k
        w(b"\0" * pad + b"\0" * 1024)
        c = comp.flush(); gz_sha.update(c); f.write(c)
    size = os.path.getsize(tmp); dg = "sha256:" + gz_sha.hexdigest()
    os.replace(tmp, os.path.join(blobs, dg[7:]))
    layers.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": dg, "size": size})
    diff_ids.append("sha256:" + tar_sha.hexdigest())
cfg = json.dumps({"architecture": "amd64", "os": "linux", "config": {},
                  "rootfs": {"type": "layers", "diff_ids": diff_ids}}).encode()
cd, cs = put(cfg)
man = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                  "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cs},
                  "layers": layers}).encode()
md, ms = put(man)
open(os.path.join(d, "oci-layout"), "w").write('{"imageLayoutVersion":"1.0.0"}')
json.dump({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
           "digest": md, "size": ms, "annotations": {"org.opencontainers.image.ref.name": ref}}]},
          open(os.path.join(d, "index.json"), "w"))
print(md)
PY
}

# Median wall times of commands run in turn (ours, peer, …; the order rotates each round) after
# the same preparation, so a change in machine load during the run hits all alike. Prints the
# medians in the order given.
alternate() { # runs prepare command…
  python3 - "$@" <<'PY'
import statistics, subprocess, sys, time
runs, prepare, cmds = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
times = [[] for _ in cmds]
for i in range(runs):
    for k in range(len(cmds)):
        j = (k + i) % len(cmds)
        subprocess.run(["bash", "-c", prepare], check=True)
        t = time.perf_counter()
        subprocess.run(["bash", "-c", cmds[j]], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times[j].append(time.perf_counter() - t)
print(" ".join("%.4f" % statistics.median(t) for t in times))
PY
}

# The registry's own floor for a cold push: curl PUTting the image's blobs in parallel (one
# session each, no HEADs, no manifest, no hashing on the client side).
cat > "$work/curl-floor.sh" <<'SH'
#!/usr/bin/env bash
reg=$1; dir=$2; repo=floor-$RANDOM$RANDOM
for f in "$dir"/blobs/sha256/*; do
  h=$(basename "$f")
  ( loc=$(curl -s -i -X POST "http://$reg/v2/$repo/blobs/uploads/" | tr -d '\r' | awk 'tolower($1)=="location:" {print $2}')
    curl -s -o /dev/null -X PUT -H 'Content-Type: application/octet-stream' -T "$f" "$loc&digest=sha256:$h" ) &
done
wait
SH
chmod +x "$work/curl-floor.sh"

log "building the 61 MiB test image"
make_layout "$work/img" bench 1 10 50 >/dev/null
ours_cache="$work/ours-cache"
ours="XDG_CACHE_HOME=$ours_cache $bin --source oci:$work/img:bench --registry http://$reg --no-ecr-auth -q --tag v1"
peer="skopeo copy -q --dest-tls-verify=false oci:$work/img:bench"
wipe="rm -rf $ours_cache $skopeo_cache_files"

log "cold pushes ($runs runs each, alternating)"
read -r cold_ours cold_peer cold_floor < <(alternate "$runs" "$wipe" \
  "$ours --repository bench-cold-ours-\$RANDOM\$RANDOM" "$peer docker://$reg/bench-cold-skopeo-\$RANDOM\$RANDOM:v1" \
  "$work/curl-floor.sh $reg $work/img")
figure ecr-push-cold "ecr-push cold push, 3 layers 61 MiB (median of $runs)" s "$cold_ours" "skopeo copy" "$cold_peer" --goal "ratio<=0.7"
figure ecr-push-floor "registry floor: the same blobs PUT by parallel curls" s "$cold_floor" "skopeo copy" "$cold_peer" \
  --note "the best any client can do"

log "warm re-pushes ($((runs * 2)) runs each, alternating)"
warm=$(date +%s%N)
eval "$ours --repository bench-warm-ours-$warm" >/dev/null 2>&1
$peer "docker://$reg/bench-warm-skopeo-$warm:v1"
read -r warm_ours warm_peer < <(alternate $((runs * 2)) "true" \
  "$ours --repository bench-warm-ours-$warm" "$peer docker://$reg/bench-warm-skopeo-$warm:v1")
figure ecr-push-warm "ecr-push warm re-push, same tag (median of $((runs * 2)))" s "$warm_ours" "skopeo copy" "$warm_peer" --goal "ratio<=0.5"

log "building the 1 GiB single-layer image"
make_layout "$work/big" big 1024 >/dev/null
rss() { # command…: peak RSS in MiB
  /usr/bin/time -v "$@" 2>"$work/time.txt" >/dev/null || { cat "$work/time.txt" >&2; return 1; }
  awk -F': ' '/Maximum resident set size/ {printf "%.1f", $2/1024}' "$work/time.txt"
}
eval "$wipe"
t0=$(date +%s.%N)
rss_ours=$(XDG_CACHE_HOME=$ours_cache rss $bin --source "oci:$work/big:big" --registry "http://$reg" --no-ecr-auth -q \
  --repository "bench-big-ours-$warm" --tag v1)
t1=$(date +%s.%N)
rss_peer=$(rss skopeo copy -q --dest-tls-verify=false "oci:$work/big:big" "docker://$reg/bench-big-skopeo-$warm:v1")
t2=$(date +%s.%N)
figure ecr-push-rss "ecr-push peak RSS pushing a 1 GiB layer" MiB "$rss_ours" "skopeo copy" "$rss_peer" --goal "ours<=64"
figure ecr-push-1gib "ecr-push cold push of the 1 GiB layer (one run)" s "$(python3 -c "print('%.2f'%($t1-$t0))")" \
  "skopeo copy" "$(python3 -c "print('%.2f'%($t2-$t1))")"
