#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The fuzzing lane: build the libFuzzer targets with clang (ASan + UBSan)
# and run each for a bounded time on seeds from the repository.  TAP out:
# a target that crashes, leaks or trips an oracle is "not ok", and the
# input that did it is kept in OUT_DIR/crashes/ (make it a regression test).
#
# usage: fuzz/run.sh BUILD_DIR OUTPUT.tap [SECONDS]
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=$1
out=$2
seconds=${3:-20}
dir=$(dirname "$out")/fuzz
rm -rf "$dir"
mkdir -p "$dir/crashes" "$dir/seeds/manifest" "$dir/seeds/parsers" "$dir/seeds/decompress" "$dir/seeds/registry" "$dir/seeds/onepass" "$dir/seeds/archive"

if [ ! -f "$build/build.ninja" ]; then
        CC=clang meson setup "$build" "$top" -Dfuzzing=true -Db_sanitize=address,undefined -Db_lundef=false \
                >"$dir/setup.log" 2>&1 || { printf '1..1\nnot ok 1 - fuzz build setup failed\n' >"$out"; exit 1; }
fi
targets="fuzz-manifest fuzz-schema fuzz-parsers fuzz-decompress fuzz-registry fuzz-onepass fuzz-archive"
ninja -C "$build" $(for t in $targets; do echo "fuzz/$t"; done) >"$dir/build.log" 2>&1 ||
        { printf '1..1\nnot ok 1 - fuzz build failed (%s)\n' "$dir/build.log" >"$out"; exit 1; }

# seeds: the manifests we ship and test with; strings; compressed samples
cp "$top"/tests/compat/*/*.yaml "$top"/examples/*.yaml "$dir/seeds/manifest/"
# hostile JSON and YAML: nesting at and past the limit, NUL escapes,
# duplicate keys (also spelled with escapes), numbers past 64 bits
python3 - "$dir/seeds/manifest" <<'PY'
import sys
d = sys.argv[1]
seeds = {
    "deep-128.json": "[" * 128 + "]" * 128,
    "deep-129.json": '{"x":' + '{"a":' * 128 + "1" + "}" * 129,
    "deep-yaml-129.yaml": "a: " + "[" * 129 + "]" * 129 + "\n",
    "deep-alias.yaml": "a: &d " + "[" * 100 + "]" * 100 + "\nb: " + "[" * 40 + "*d" + "]" * 40 + "\n",
    "nul-value.json": '{"metadata": {"name": "a\\u0000b"}}',
    "nul-key.json": '{"data": {"a\\u0000b": "1", "a": "2"}}',
    "nul-yaml.yaml": 'metadata:\n  name: "a\\0b"\ndata:\n  "k\\x00": "\\u0000"\n',
    "dup.json": '{"a": 1, "b": {"c": 2, "c": 3}}',
    "dup-escaped.json": '{"a": 1, "\\u0061": 2, "\\ud83d\\ude00": [1.5e3, -0, 1180591620717411303424]}',
    "numbers.json": '{"n": [9223372036854775807, -9223372036854775808, 9223372036854775808, 1e308, 1e400, 0.5]}',
    # doubles %.17g writes without a '.': json-glib 1.6 appended ".0" ("1e+21.0")
    "exponents.json": '{"n": [1e21, 1e22, -1e100, 1E+21]}',
    # YAML's merge key is a plain <<; JSON's "<<" and a quoted '<<' are keys
    "merge-key.json": '{"<<": {"a": 1}, "b": [{"<<": [{"c": 2}]}]}',
    "merge-key.yaml": "a: &a {x: 1}\nb: {<<: *a, '<<': 2}\nc:\n  <<: [*a, {z: 3}]\n  !!merge <<: {w: 4}\n",
}
for name, text in seeds.items():
    open(f"{d}/{name}", "w").write(text)
PY
printf '1.5Gi' >"$dir/seeds/parsers/q"; printf 'app in (web,db),!legacy' >"$dir/seeds/parsers/s"
printf 'kubevirt.io/vm' >"$dir/seeds/parsers/k"
printf '{"auths":{"registry:5000":{"auth":"cHVsbGVyOnMzY3JldA=="}}}' >"$dir/seeds/parsers/dockerconfig"
head -c 65536 /dev/zero | tr '\0' 'x' >"$dir/seeds/decompress/plain"
for c in "gzip -c" "xz -c" "zstd -qc" "bzip2 -c"; do
        $c <"$dir/seeds/decompress/plain" >"$dir/seeds/decompress/sample.${c%% *}"
done

# registry: an index, a manifest, a tar with a disk file
printf '{"schemaVersion":2,"manifests":[{"digest":"sha256:%064d","platform":{"os":"linux","architecture":"amd64"}}]}' 0 \
        >"$dir/seeds/registry/index.json"
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","layers":[{"mediaType":"x","digest":"sha256:%064d"}]}' 0 \
        >"$dir/seeds/registry/manifest.json"
mkdir -p "$dir/tar/disk" && printf 'QFI\373' >"$dir/tar/disk/disk.qcow2" && tar -C "$dir/tar" -cf "$dir/seeds/registry/layer.tar" disk
# archive: an OCI archive and a docker-archive of one small image each
python3 - "$dir/seeds/archive" <<'PY'
import gzip, hashlib, io, json, sys, tarfile
def tar(members):
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as t:
        for name, data in members.items():
            i = tarfile.TarInfo(name); i.size = len(data); t.addfile(i, io.BytesIO(data))
    return out.getvalue()
sha = lambda b: "sha256:" + hashlib.sha256(b).hexdigest()
layer = tar({"disk/disk.img": b"x" * 1024})
gz = gzip.compress(layer)
config = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": [sha(layer)]}}).encode()
manifest = json.dumps({"schemaVersion": 2, "config": {"digest": sha(config), "size": len(config)},
                       "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": sha(gz), "size": len(gz)}]}).encode()
index = json.dumps({"schemaVersion": 2, "manifests": [{"digest": sha(manifest), "size": len(manifest),
                    "annotations": {"org.opencontainers.image.ref.name": "example.com/vm/disk:v1"}}]}).encode()
blobs = {"blobs/sha256/" + sha(b)[7:]: b for b in (gz, config, manifest)}
open(sys.argv[1] + "/oci.tar", "wb").write(tar({"oci-layout": b'{"imageLayoutVersion":"1.0.0"}', "index.json": index, **blobs}))
docker = json.dumps([{"Config": sha(config)[7:] + ".json", "RepoTags": ["disk:v1"], "Layers": ["l/layer.tar"]}]).encode()
open(sys.argv[1] + "/docker.tar", "wb").write(tar({"manifest.json": docker, sha(config)[7:] + ".json": config, "l/layer.tar": layer}))
# regression (CI, stop 32): a hard link of a 100-byte target whose size
# runs past the archive's end (the link's name leaked)
out = io.BytesIO()
with tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT) as t:
    i = tarfile.TarInfo("blobs/l"); i.type = tarfile.LNKTYPE; i.linkname = "x" * 100; t.addfile(i)
h = bytearray(out.getvalue()[:512])
h[124:136] = b"%011o\0" % 1048576
h[148:156] = b" " * 8
h[148:156] = b"%06o\0 " % sum(h)
open(sys.argv[1] + "/link-past-end.tar", "wb").write(bytes(h) + bytes(512))
PY
# one-pass readers: small qcow2 images as qemu writes them (512-byte
# clusters), plain, compressed, with zeroed ranges; a streamOptimized vmdk
# of two grains made here (qemu's start their markers at 128 KiB)
for v in "" "-c" "-o compat=0.10"; do
        f="$dir/seeds/onepass/img$(echo "$v" | tr -dc 'a-z0-9')"
        qemu-img create -q -f qcow2 -o cluster_size=512 "$f.tmp" 64k >/dev/null &&
                qemu-io -f qcow2 -c "write -P 0x5a 1k 3k" -c "write -z 8k 1k" -c "write -P 0x11 40k 1k" "$f.tmp" >/dev/null &&
                qemu-img convert -O qcow2 -o cluster_size=512 $v "$f.tmp" "$f" && rm -f "$f.tmp"
done
python3 - "$dir/seeds/onepass/stream.vmdk" <<'PY'
import struct, sys, zlib
desc = b'# Disk DescriptorFile\nversion=1\ncreateType="streamOptimized"\nRW 64 SPARSE "s.vmdk"\n'
out = bytearray(struct.pack("<4sIIQQQQIQQQB4sH", b"KDMV", 3, 0x30001, 64, 8, 1, 1, 512, 0, 2**64 - 1, 2, 0,
                            b"\n \r\n", 1).ljust(512, b"\0"))
out += desc.ljust(512, b"\0")
for lba, fill in ((0, b"A"), (16, b"B")):
    z = zlib.compress(fill * 4096)
    out += struct.pack("<QI", lba, len(z)) + z
    out += bytes(-len(out) % 512)
out += struct.pack("<QII", 0, 0, 0).ljust(512, b"\0")
open(sys.argv[1], "wb").write(out)
PY
# vdi and dynamic vhd of 512-byte blocks, made here (qemu's blocks are 1
# and 2 MiB: seeds too large to mutate; a fuzzing build reads blocks this
# small, mapped.c), blocks out of order
python3 - "$dir/seeds/onepass" <<'PY'
import struct, sys
d = sys.argv[1]
vdi = bytearray(0x200)
struct.pack_into("<II", vdi, 0x40, 0xbeda107f, 0x00010001)
struct.pack_into("<I", vdi, 0x4c, 1)
struct.pack_into("<II", vdi, 0x154, 0x200, 0x400)
struct.pack_into("<I", vdi, 0x168, 512)
struct.pack_into("<QIIII", vdi, 0x170, 4096, 512, 0, 8, 2)
vdi += struct.pack("<8I", 1, 0xffffffff, 0xfffffffe, 0, *([0xffffffff] * 4)).ljust(0x200, b"\0")
vdi += b"B" * 512 + b"A" * 512
open(d + "/small.vdi", "wb").write(vdi)
footer = bytearray(512)
footer[0:8] = b"conectix"
struct.pack_into(">Q", footer, 16, 512)
footer[28:32] = b"win "
struct.pack_into(">QQ", footer, 40, 4096, 4096)
struct.pack_into(">I", footer, 60, 3)
struct.pack_into(">I", footer, 64, ~sum(footer) & 0xffffffff)
dyn = bytearray(1024)
dyn[0:8] = b"cxsparse"
struct.pack_into(">QQIII", dyn, 8, 2**64 - 1, 1536, 0x10000, 8, 512)
bat = struct.pack(">8I", 7, 0xffffffff, 5, *([0xffffffff] * 5)).ljust(512, b"\0")
body = b"\0" * 512 + b"C" * 512 + b"\0" * 512 + b"D" * 512
open(d + "/small.vhd", "wb").write(bytes(footer + dyn + bat) + body + bytes(footer))
PY
seed_for() { case $1 in fuzz-manifest|fuzz-schema) echo manifest ;; fuzz-parsers) echo parsers ;; fuzz-registry) echo registry ;; fuzz-archive) echo archive ;; fuzz-onepass) echo onepass ;; *) echo decompress ;; esac; }
n=0 failed=0
echo "1..$(echo $targets | wc -w)" >"$out"
for t in $targets; do
        n=$((n + 1))
        mkdir -p "$dir/corpus-$t"
        ASAN_OPTIONS=detect_leaks=1 "$build/fuzz/$t" -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=4096 \
                -artifact_prefix="$dir/crashes/$t-" "$dir/corpus-$t" "$dir/seeds/$(seed_for "$t")" >"$dir/$t.log" 2>&1
        rc=$?
        runs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$dir/$t.log")
        if [ $rc -eq 0 ]; then
                echo "ok $n - $t (${runs:-0} inputs in ${seconds}s)" >>"$out"
        else
                echo "not ok $n - $t: $(grep -m1 -E 'ERROR|ERROR:|Assertion|==.*==' "$dir/$t.log") (log $dir/$t.log)" >>"$out"
                # what a clean clone's CI run leaves behind is its output:
                # the whole report and the input, so the failure can be replayed
                # (base64 -d >crash && build/fuzz/$t crash)
                sed -n '/ERROR\|==[0-9]*==/,$p' "$dir/$t.log" | head -n 40 | sed 's/^/# /' >>"$out"
                for c in "$dir/crashes/$t-"*; do
                        [ -f "$c" ] || continue
                        size=$(stat -c %s "$c")
                        echo "# input $(basename "$c") ($size bytes$([ "$size" -gt 65536 ] &&
                                echo ", the first 65536")), base64:" >>"$out"
                        head -c 65536 "$c" | base64 -w 76 | sed 's/^/#   /' >>"$out"
                done
                failed=1
        fi
done
exit $failed
