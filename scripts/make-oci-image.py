"""Write a small, deterministic OCI image layout: the demo app's image, without Docker.

    python3 scripts/make-oci-image.py OUT_DIR --tag v1 --version 1.0.0 [--extra-mib N]

One gzip layer holding the app (a version file and a start script), one config, one manifest,
index.json naming the tag. Same arguments, same digests: timestamps and gzip headers are fixed.
"""
import argparse
import gzip
import hashlib
import io
import json
import os
import tarfile


def blob(out, data: bytes) -> str:
    digest = hashlib.sha256(data).hexdigest()
    path = os.path.join(out, "blobs", "sha256", digest)
    with open(path, "wb") as f:
        f.write(data)
    return "sha256:" + digest


def layer(files) -> tuple[bytes, str]:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, content in files:
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(content), 0, 0o755
            tar.addfile(info, io.BytesIO(content))
    diff_id = "sha256:" + hashlib.sha256(raw.getvalue()).hexdigest()
    gz = io.BytesIO()
    with gzip.GzipFile(fileobj=gz, mode="wb", mtime=0) as g:
        g.write(raw.getvalue())
    return gz.getvalue(), diff_id


def main():
    p = argparse.ArgumentParser()
    p.add_argument("out")
    p.add_argument("--tag", default="latest")
    p.add_argument("--version", default="1.0.0")
    p.add_argument("--extra-mib", type=int, default=0, help="pseudo-random padding, for size")
    a = p.parse_args()
    os.makedirs(os.path.join(a.out, "blobs", "sha256"), exist_ok=True)
    files = [
        ("app/VERSION", a.version.encode() + b"\n"),
        ("app/start.sh", b"#!/bin/sh\nexec python3 -m http.server 8080\n"),
        ("app/migrate.sh", b"#!/bin/sh\necho migrating to $(cat /app/VERSION)\n"),
    ]
    if a.extra_mib:
        seed = hashlib.sha256(a.version.encode()).digest()
        chunks, block = [], seed
        while len(chunks) * 32 < a.extra_mib * 1048576:
            block = hashlib.sha256(block).digest()
            chunks.append(block)
        files.append(("app/padding.bin", b"".join(chunks)))
    data, diff_id = layer(files)
    layer_digest = blob(a.out, data)
    config = json.dumps({
        "architecture": "amd64", "os": "linux",
        "config": {"Cmd": ["/app/start.sh"], "Labels": {"org.opencontainers.image.version": a.version}},
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
    }, sort_keys=True).encode()
    config_digest = blob(a.out, config)
    manifest = json.dumps({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": layer_digest, "size": len(data)}],
    }, sort_keys=True).encode()
    manifest_digest = blob(a.out, manifest)
    index = {
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": manifest_digest,
            "size": len(manifest), "annotations": {"org.opencontainers.image.ref.name": a.tag},
        }],
    }
    with open(os.path.join(a.out, "index.json"), "w") as f:
        json.dump(index, f)
    with open(os.path.join(a.out, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)
    print(manifest_digest)


if __name__ == "__main__":
    main()
