# SPDX-License-Identifier: LGPL-2.1-or-later
"""The importer's one-pass readers — qcow2 (storage/importer/qcow2.c) and
streamOptimized vmdk (vmdk.c) — run as the daemon runs them
(edgevirt-importer --stdin, a pipe: no seeking back).  Images qemu writes
in every variant are checked byte for byte against the source or `qemu-img
convert`; images laid out backwards, sharing clusters or lying are made
here by hand, with the bytes they must give known."""
import json
import os
import struct
import subprocess
import zlib

import pytest

from conftest import BUILD

IMPORTER = os.path.join(BUILD, "storage", "importer", "edgevirt-importer")
MiB = 1 << 20
SIZE = 64 * MiB


def run(*cmd):
    subprocess.run(cmd, check=True, capture_output=True)


def import_image(tmp_path, image, size=SIZE):
    """Pipe the image into the importer; (exit code, stdout, stderr, target)."""
    target, scratch = tmp_path / "target", tmp_path / "scratch"
    scratch.mkdir(exist_ok=True)
    with open(target, "wb") as f:
        f.truncate(size)
    with open(image, "rb") as src:
        cat = subprocess.Popen(["cat"], stdin=src, stdout=subprocess.PIPE)
        p = subprocess.run([IMPORTER, "--stdin", f"--target={target}", f"--size={size}", f"--scratch={scratch}"],
                           stdin=cat.stdout, capture_output=True, text=True, timeout=120)
        cat.stdout.close()
        cat.wait()
    assert not os.listdir(scratch), "the spill file must not outlive the import"
    return p.returncode, p.stdout, p.stderr.strip(), target


def spilled(out):
    """Bytes the import kept in its spill file (the header's cluster at least)."""
    return int(next((line.split()[1] for line in out.splitlines() if line.startswith("spilled ")), 0))


def qemu_raw(tmp_path, image, size=SIZE):
    out = tmp_path / "expected.raw"
    run("qemu-img", "convert", "-O", "raw", str(image), str(out))
    with open(out, "r+b") as f:
        f.truncate(size)
    return out


def same(a, b):
    return subprocess.run(["cmp", "-s", str(a), str(b)]).returncode == 0


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    """A raw disk with data, holes and zero runs, at offsets that cross
    clusters of every size."""
    d = tmp_path_factory.mktemp("qcow2-source")
    raw = d / "source.raw"
    rnd = open("/dev/urandom", "rb")
    with open(raw, "wb") as f:
        f.truncate(SIZE)
        for off, n in [(0, 3 * 4096 + 17), (700 * 1024, 200 * 1024), (5 * MiB - 999, 3 * MiB),
                       (33 * MiB, 1 * MiB), (SIZE - 70 * 1024, 70 * 1024)]:
            f.seek(off)
            f.write(rnd.read(n))
        f.seek(20 * MiB)
        f.write(b"\0" * MiB)            # written zeros: no data in the volume
    return raw


VARIANTS = {
    "default": [],
    "v2": ["-o", "compat=0.10"],
    "512-byte clusters": ["-o", "cluster_size=512"],
    "4k clusters": ["-o", "cluster_size=4096"],
    "2M clusters": ["-o", "cluster_size=2M"],
    "zlib compressed": ["-c"],
    "zstd compressed": ["-c", "-o", "compression_type=zstd"],
    "compressed, 4k clusters": ["-c", "-o", "cluster_size=4096"],
    "metadata preallocated": ["-o", "preallocation=metadata"],
}


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_what_qemu_writes(tmp_path, source, variant):
    image = tmp_path / "image.qcow2"
    run("qemu-img", "convert", "-f", "raw", "-O", "qcow2", *VARIANTS[variant], str(source), str(image))
    rc, out, err, target = import_image(tmp_path, image)
    assert rc == 0, err
    assert "format qcow2 none" in out and f"done {SIZE}" in out
    assert same(target, source), "the imported bytes differ from the source"
    # holes stay holes: no more blocks than the source's data
    assert os.stat(target).st_blocks * 512 <= os.stat(source).st_blocks * 512 + 256 * 1024


def test_written_in_place_zero_clusters_and_random_order(tmp_path, source):
    """A disk written by a guest (qemu-io) out of order, with zeroed and
    discarded ranges: L2 tables and data interleaved the way a VM leaves them."""
    image = tmp_path / "vm.qcow2"
    run("qemu-img", "create", "-q", "-f", "qcow2", str(image), str(SIZE))
    cmds = ["write -P 0x11 60M 1M", "write -P 0x22 0 64k", "write -P 0x33 30M 3M", "write -z 30M 1M",
            "write -P 0x44 1M 128k", "discard 60M 512k", "write -P 0x55 62M 64k"]
    run("qemu-io", "-f", "qcow2", *sum((["-c", c] for c in cmds), []), str(image))
    rc, out, err, target = import_image(tmp_path, image)
    assert rc == 0, err
    assert same(target, qemu_raw(tmp_path, image))


def test_an_l1_table_moved_to_the_end(tmp_path, source):
    """Grown past its L1 table, qemu moves the table to the end of the
    file: everything before it must wait in the spill file."""
    image = tmp_path / "grown.qcow2"
    run("qemu-img", "convert", "-f", "raw", "-O", "qcow2", "-o", "cluster_size=4096", str(source), str(image))
    run("qemu-img", "resize", "-q", str(image), str(4 * SIZE))
    rc, out, err, target = import_image(tmp_path, image, size=4 * SIZE)
    assert rc == 0, err
    assert spilled(out) > 2 * MiB, out
    assert same(target, qemu_raw(tmp_path, image, size=4 * SIZE))


def test_compressed_stream_of_a_qcow2(tmp_path, source):
    """qcow2.xz: decompressed and read in the same pass, no scratch copy."""
    image = tmp_path / "image.qcow2"
    run("qemu-img", "convert", "-f", "raw", "-O", "qcow2", str(source), str(image))
    run("xz", "-T2", "-0", str(image))
    rc, out, err, target = import_image(tmp_path, str(image) + ".xz")
    assert rc == 0, err
    assert "format qcow2 xz" in out
    assert spilled(out) <= 4 * 65536, "only the header and refcount clusters wait"
    assert same(target, source)


@pytest.mark.parametrize("variant", ["extended L2", "internal snapshot"])
def test_left_to_qemu_img(tmp_path, source, variant):
    """Valid images the reader does not do (extended L2 entries) or should
    not (internal snapshots: the old clusters would all be spilled) still
    import, through qemu-img: the active state, not the snapshot's."""
    image = tmp_path / "other.qcow2"
    if variant == "extended L2":
        run("qemu-img", "convert", "-f", "raw", "-O", "qcow2", "-o", "extended_l2=on,cluster_size=128k", str(source), str(image))
    else:
        run("qemu-img", "convert", "-f", "raw", "-O", "qcow2", str(source), str(image))
        run("qemu-img", "snapshot", "-c", "before", str(image))
        run("qemu-io", "-f", "qcow2", "-c", "write -P 0x77 2M 1M", str(image))
    rc, out, err, target = import_image(tmp_path, image)
    assert rc == 0, err
    assert "spilled" not in out, "read by qemu-img, not in one pass"
    assert same(target, qemu_raw(tmp_path, image))
    if variant == "extended L2":
        assert same(target, source)


# --- images made by hand ---

def craft(path, size, bits, guest, layout="backwards", version=3, shared=(), compressed=(), l2_at=None, raw_l2=None):
    """A qcow2 of the given virtual size and cluster bits whose guest
    clusters {index: bytes} are stored in the given layout:
      forward    header, L1, L2 tables, data (as qemu writes)
      backwards  header, data, L2 tables, L1 table last
    shared: (a, b) pairs, guest cluster b maps to a's host cluster.
    compressed: guest clusters stored deflated (raw deflate, 4 KiB window).
    raw_l2: {guest index: entry} written as is (lies)."""
    cs = 1 << bits
    per_l2 = cs // 8
    l1_entries = max(1, -(-size // (cs * per_l2)))
    l2_needed = sorted({i // per_l2 for i in list(guest) + [b for _, b in shared] + list(raw_l2 or {})})
    blobs = {}                     # guest index -> stored bytes
    for i, data in guest.items():
        if i in compressed:
            c = zlib.compressobj(9, zlib.DEFLATED, -12)
            blobs[i] = c.compress(data.ljust(cs, b"\0")) + c.flush()
        else:
            blobs[i] = data.ljust(cs, b"\0")
    out = bytearray(cs)             # cluster 0: the header
    pos = cs
    host, l2_host = {}, {}
    l1_host = None

    def place(n):
        nonlocal pos, out
        at = pos
        pos += -(-n // cs) * cs
        out.extend(bytes(pos - len(out)))
        return at

    def place_l1():
        nonlocal l1_host
        l1_host = place(l1_entries * 8)

    def place_l2s():
        for t in l2_needed:
            l2_host[t] = place(cs)

    def place_data():
        nonlocal pos
        packed = [i for i in sorted(blobs) if i in compressed]
        for i in sorted(blobs):
            if i not in compressed:
                host[i] = place(cs)
        if packed:                   # compressed clusters back to back, sector aligned
            at = place(cs * len(packed))
            off = at
            for i in packed:
                host[i] = off
                off += -(-len(blobs[i]) // 512) * 512
    if layout == "forward":
        place_l1(), place_l2s(), place_data()
    else:
        place_data(), place_l2s(), place_l1()
    if l2_at is not None:
        l2_host[l2_needed[0]] = l2_at
    for i, b in blobs.items():
        out[host[i]:host[i] + len(b)] = b
    l2 = {t: bytearray(cs) for t in l2_needed}
    shift = 62 - (bits - 8)
    for i in blobs:
        if i in compressed:
            nsect = -(-(len(blobs[i]) + (host[i] & 511)) // 512)
            e = 1 << 62 | (nsect - 1) << shift | host[i]
        else:
            e = 1 << 63 | host[i]
        l2[i // per_l2][8 * (i % per_l2):8 * (i % per_l2) + 8] = struct.pack(">Q", e)
    for a, b in shared:
        l2[b // per_l2][8 * (b % per_l2):8 * (b % per_l2) + 8] = struct.pack(">Q", host[a])
    for i, e in (raw_l2 or {}).items():
        l2[i // per_l2][8 * (i % per_l2):8 * (i % per_l2) + 8] = struct.pack(">Q", e)
    for t, at in l2_host.items():
        out[at:at + cs] = l2[t]
    for t, at in l2_host.items():
        out[l1_host + 8 * t:l1_host + 8 * t + 8] = struct.pack(">Q", 1 << 63 | at)
    hdr = struct.pack(">4sIQIIQIIQQIIQ", b"QFI\xfb", version, 0, 0, bits, size, 0, l1_entries, l1_host, 0, 0, 0, 0)
    if version == 3:
        hdr += struct.pack(">QQQII", 0, 0, 0, 4, 104)
    out[:len(hdr)] = hdr
    path.write_bytes(bytes(out))
    expected = bytearray(size)
    for i, data in guest.items():
        expected[i * cs:i * cs + len(data)] = data
    for a, b in shared:
        expected[b * cs:b * cs + len(guest[a])] = guest[a]
    return bytes(expected)


def pattern(i, n):
    return bytes((i * 7 + k) % 251 + 1 for k in range(n))


@pytest.mark.parametrize("bits", [9, 12, 16])
@pytest.mark.parametrize("version", [2, 3])
def test_laid_out_backwards(tmp_path, bits, version):
    """Data first, tables after, the L1 table last: every cluster waits in
    the spill file and is placed when its table arrives."""
    cs = 1 << bits
    size = 300 * cs + (cs // 2 if cs >= 1024 else cs)
    guest = {i: pattern(i, cs) for i in (0, 1, 2, 63, 64, 65, 130, 299)}
    guest[300] = pattern(300, size - 300 * cs)       # the short last cluster
    expected = craft(tmp_path / "b.qcow2", size, bits, guest, version=version)
    rc, out, err, target = import_image(tmp_path, tmp_path / "b.qcow2", size=size)
    assert rc == 0, err
    assert spilled(out) >= len(guest) * cs // 2, out
    assert target.read_bytes() == expected


def test_forward_shared_and_compressed(tmp_path):
    bits, cs = 12, 4096
    size = 200 * cs
    guest = {i: pattern(i, cs) for i in (3, 4, 5, 100, 101, 150)}
    expected = craft(tmp_path / "f.qcow2", size, bits, guest, layout="forward", shared=[(4, 40), (4, 41)],
                     compressed={100, 101, 150})
    rc, out, err, target = import_image(tmp_path, tmp_path / "f.qcow2", size=size)
    assert rc == 0, err
    assert target.read_bytes() == expected


@pytest.mark.parametrize("case,fragment", [
    ("truncated", "truncated"),
    ("past the end", "truncated"),
    ("unaligned", "unaligned offset"),
    ("bad deflate", "does not decompress"),
    ("used twice", "twice"),
    ("cluster bits", "cluster size"),
    ("small L1", "L1 table"),
    ("backing file", "names a backing file (/etc/passwd)"),
    ("data file", "names an external data file"),
    ("too large", "larger than the volume"),
    ("endless", "runs past"),
])
def test_lies_are_refused(tmp_path, case, fragment):
    bits, cs = 12, 4096
    size = 64 * cs
    image = tmp_path / "lie.qcow2"
    guest = {i: pattern(i, cs) for i in (1, 2, 3)}
    vol = size
    if case == "truncated":
        craft(image, size, bits, guest, layout="forward")
        data = image.read_bytes()
        image.write_bytes(data[:len(data) - 2 * cs])
    elif case == "past the end":
        craft(image, size, bits, guest, layout="forward", raw_l2={9: 1 << 63 | 1000 * cs})
    elif case == "unaligned":
        craft(image, size, bits, guest, layout="forward", raw_l2={9: 1 << 63 | 3 * cs + 512})
    elif case == "bad deflate":
        craft(image, size, bits, guest, layout="forward", compressed={2})
        data = bytearray(image.read_bytes())
        data[-cs:] = b"\xff" * cs                     # the packed compressed cluster
        image.write_bytes(bytes(data))
    elif case == "used twice":
        # data passes (placed for guest 1), then a second table names it again
        craft(image, 2 * 512 * cs, bits, {1: pattern(1, cs), 600: pattern(600, cs)}, layout="forward")
        data = bytearray(image.read_bytes())
        l1 = struct.unpack(">Q", data[40:48])[0]
        first_l2 = struct.unpack(">Q", data[l1:l1 + 8])[0] & 0x00fffffffffffe00
        data1 = struct.unpack(">Q", data[first_l2 + 8:first_l2 + 16])[0] & 0x00fffffffffffe00
        late = len(data)
        table = bytearray(cs)
        table[0:8] = struct.pack(">Q", 1 << 63 | data1)
        data += table
        data[l1 + 8:l1 + 16] = struct.pack(">Q", 1 << 63 | late)
        image.write_bytes(bytes(data))
        vol = 2 * 512 * cs
    elif case == "cluster bits":
        craft(image, size, bits, guest)
        data = bytearray(image.read_bytes())
        data[20:24] = struct.pack(">I", 30)
        image.write_bytes(bytes(data))
    elif case == "small L1":
        craft(image, size, bits, guest)
        data = bytearray(image.read_bytes())
        data[24:32] = struct.pack(">Q", 600 * cs * 512)     # the size, for one L1 entry
        image.write_bytes(bytes(data))
        vol = 600 * cs * 512
    elif case == "backing file":
        craft(image, size, bits, guest)
        data = bytearray(image.read_bytes())
        data[8:20] = struct.pack(">QI", 200, 11)
        data[200:211] = b"/etc/passwd"
        image.write_bytes(bytes(data))
    elif case == "data file":
        run("qemu-img", "create", "-q", "-f", "qcow2", "-o", f"data_file={tmp_path}/ext.raw", str(image), "1M")
    elif case == "too large":
        craft(image, size, bits, guest)
        vol = size // 2
    elif case == "endless":
        craft(image, size, bits, guest, layout="forward")
        with open(image, "ab") as f:
            f.write(bytes(70 * MiB))
        vol = 1 * MiB
        size = vol
    rc, out, err, target = import_image(tmp_path, image, size=vol)
    assert rc == 1, (out, err)
    assert fragment in err, err


# --- streamOptimized vmdk ---

def test_stream_optimized_vmdk(tmp_path, source):
    image = tmp_path / "disk.vmdk"
    run("qemu-img", "convert", "-f", "raw", "-O", "vmdk", "-o", "subformat=streamOptimized", str(source), str(image))
    rc, out, err, target = import_image(tmp_path, image)
    assert rc == 0, err
    assert same(target, source)
    assert os.stat(target).st_blocks * 512 <= os.stat(source).st_blocks * 512 + 256 * 1024
    # inside gzip too, in the same pass
    run("gzip", "-1", str(image))
    rc, out, err, target = import_image(tmp_path, str(image) + ".gz")
    assert rc == 0, err
    assert "format vmdk gzip" in out and same(target, source)


def test_stream_vmdk_cut_between_grains(tmp_path, source):
    """qemu's streamOptimized images end without an end-of-stream marker
    (their grain tables are up front): one cut between two grains is
    caught by counting the grains the tables name."""
    image = tmp_path / "disk.vmdk"
    run("qemu-img", "convert", "-f", "raw", "-O", "vmdk", "-o", "subformat=streamOptimized", str(source), str(image))
    data = image.read_bytes()
    overhead = struct.unpack_from("<Q", data, 64)[0] * 512
    at, boundaries = overhead, []
    while at + 12 <= len(data):
        lba, size = struct.unpack_from("<QI", data, at)
        if size == 0:
            break
        at += (12 + size + 511) // 512 * 512
        boundaries.append(at)
    assert len(boundaries) > 10
    cut = tmp_path / "cut.vmdk"
    cut.write_bytes(data[:boundaries[len(boundaries) // 2]])
    rc, out, err, target = import_image(tmp_path, cut)
    assert rc == 1 and "grains its tables name" in err, err


def test_other_vmdk_subformats_go_to_qemu_img(tmp_path, source):
    image = tmp_path / "sparse.vmdk"
    run("qemu-img", "convert", "-f", "raw", "-O", "vmdk", str(source), str(image))     # monolithicSparse
    rc, out, err, target = import_image(tmp_path, image)
    assert rc == 0, err
    assert same(target, source)


VMDK_GD_AT_END = 0xffffffffffffffff


def stream_vmdk(path, sectors, grains, grain=128, meta=True, eos=True, marker_type=None, big=None, lie=None):
    """A streamOptimized vmdk as VMware writes it: header, descriptor,
    grains (lba, data) in the given order, then grain table, directory and
    footer markers, then the end-of-stream marker."""
    desc = (f'# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\ncreateType="streamOptimized"\n'
            f'RW {sectors} SPARSE "{path.name}"\n').encode()
    header = struct.pack("<4sIIQQQQIQQQB4sH", b"KDMV", 3, 0x30001, sectors, grain, 1, 20, 512, 0, VMDK_GD_AT_END, 128, 0,
                         b"\n \r\n", 1)
    out = bytearray(header.ljust(512, b"\0") + desc.ljust(20 * 512, b"\0"))
    out = out.ljust(128 * 512, b"\0")

    def sector_align():
        out.extend(bytes(-len(out) % 512))

    for lba, data in grains:
        z = zlib.compress(data)
        if lie == "garbage" and lba == grains[0][0]:
            z = b"\x78\x9c" + b"\xff" * 40
        out += struct.pack("<QI", lba, len(z) if big is None else big) + z
        sector_align()
    if meta:
        for t, n in ((1, 4), (2, 1), (3, 1)):                  # GT, GD, footer markers and their sectors
            out += struct.pack("<QII", n, 0, t if marker_type is None else marker_type).ljust(512, b"\0")
            out += b"\xab" * (512 * n)
    if eos:
        out += struct.pack("<QII", 0, 0, 0).ljust(512, b"\0")
    path.write_bytes(bytes(out))


def test_hand_made_stream_vmdk(tmp_path):
    """Grains out of order, a short last grain, metadata markers between
    them and the end: each grain lands where its marker says."""
    gs = 128 * 512
    sectors = 40 * 128 + 16
    grains = [(5 * 128, pattern(5, gs)), (0, pattern(0, gs)), (39 * 128, pattern(39, gs)),
              (40 * 128, pattern(40, 16 * 512)), (6 * 128, pattern(6, gs))]
    stream_vmdk(tmp_path / "hand.vmdk", sectors, grains)
    expected = bytearray(sectors * 512)
    for lba, data in grains:
        expected[lba * 512:lba * 512 + len(data)] = data
    rc, out, err, target = import_image(tmp_path, tmp_path / "hand.vmdk", size=sectors * 512)
    assert rc == 0, err
    assert target.read_bytes() == bytes(expected)


@pytest.mark.parametrize("case,fragment", [
    ("no end", "truncated"),
    ("past the disk", "past the disk's"),
    ("garbage", "does not decompress"),
    ("marker type", "marker of type 9"),
    ("huge grain", "a grain of"),
    ("too large", "larger than the volume"),
])
def test_vmdk_lies_are_refused(tmp_path, case, fragment):
    gs = 128 * 512
    sectors = 8 * 128
    grains = [(0, pattern(0, gs)), (128, pattern(1, gs))]
    vol = sectors * 512
    kw = {"no end": {"eos": False}, "garbage": {"lie": "garbage"}, "marker type": {"marker_type": 9},
          "huge grain": {"big": 1 << 30}}.get(case, {})
    if case == "past the disk":
        grains.append((8 * 128, pattern(8, gs)))
    if case == "too large":
        vol //= 2
    stream_vmdk(tmp_path / "lie.vmdk", sectors, grains, **kw)
    rc, out, err, target = import_image(tmp_path, tmp_path / "lie.vmdk", size=vol)
    assert rc == 1, (out, err)
    assert fragment in err, err


# --- vdi, dynamic vhd, vhdx (mapped.c) ---

MAPPED_VARIANTS = {
    "vdi": ("vdi", []),
    "vdi static": ("vdi", ["-o", "static=on"]),
    "vhd": ("vpc", []),
    "vhd by its size field": ("vpc", ["-o", "force_size=on"]),
    "vhdx": ("vhdx", []),
    "vhdx 1 MiB blocks": ("vhdx", ["-o", "block_size=1M"]),
    "vhdx 8 MiB blocks, 1 MiB log": ("vhdx", ["-o", "block_size=8M,log_size=1M"]),
    "vhdx fixed": ("vhdx", ["-o", "subformat=fixed"]),
}


@pytest.mark.parametrize("variant", list(MAPPED_VARIANTS))
def test_mapped_formats_what_qemu_writes(tmp_path, source, variant):
    """Read in one pass, as they come (no scratch copy, no qemu-img): the
    bytes qemu-img reads from the same file, the virtual size qemu takes
    (a vhd's from its geometry or its size field, as qemu decides)."""
    fmt, opts = MAPPED_VARIANTS[variant]
    image = tmp_path / f"image.{fmt}"
    run("qemu-img", "convert", "-f", "raw", "-O", fmt, *opts, str(source), str(image))
    room = SIZE + 4 * MiB       # a vhd by its geometry is a little larger
    rc, out, err, target = import_image(tmp_path, image, size=room)
    assert rc == 0, err
    assert f"format {fmt} none" in out and "source stream" in out, out
    info = subprocess.run(["qemu-img", "info", "--output=json", str(image)], capture_output=True, text=True, check=True)
    assert f"done {json.loads(info.stdout)['virtual-size']}" in out, out
    assert same(target, qemu_raw(tmp_path, image, size=room)), "the imported bytes differ from qemu-img's"


VDI_HEADER = 0x200


def hand_vdi(path, blocks, block=MiB, order=None, size=None, bmap_at=None, data_at=None, parent=False,
             entries=None):
    """A vdi as VirtualBox lays it out: header, block map, data blocks in
    the order given (default: block order).  blocks: {index: bytes}."""
    n = (size or SIZE) // block
    order = order if order is not None else sorted(blocks)
    slot = {b: k for k, b in enumerate(order)}
    bmap = entries or [slot.get(i, 0xffffffff) for i in range(n)]
    bmap_at = VDI_HEADER if bmap_at is None else bmap_at
    data_at = data_at if data_at is not None else (bmap_at + 4 * n + 511) // 512 * 512
    hdr = bytearray(VDI_HEADER)
    hdr[0:0x40] = b"<<< Oracle VM VirtualBox Disk Image >>>\n".ljust(0x40, b"\0")
    struct.pack_into("<IIII", hdr, 0x40, 0xbeda107f, 0x00010001, 0x190, 1)
    struct.pack_into("<II", hdr, 0x154, bmap_at, data_at)
    struct.pack_into("<IIIIIQIIII", hdr, 0x15c, 0, 0, 0, 512, 0, size or SIZE, block, 0, n, len(order))
    if parent:
        hdr[0x1b8:0x1c8] = b"\x11" * 16
    out = bytearray(max(bmap_at + 4 * n, data_at + block * len(order)))
    out[0:VDI_HEADER] = hdr
    out[bmap_at:bmap_at + 4 * n] = struct.pack(f"<{n}I", *bmap)
    for b in order:
        out[data_at + slot[b] * block:data_at + (slot[b] + 1) * block] = blocks[b]
    path.write_bytes(bytes(out))


def vdi_blocks():
    return {i: pattern(i, MiB) for i in (0, 5, 6, 40, 63)}


def expected_of(blocks, block=MiB):
    want = bytearray(SIZE)
    for i, data in blocks.items():
        want[i * block:(i + 1) * block] = data
    return bytes(want)


def test_hand_made_vdi_blocks_out_of_order(tmp_path):
    """Blocks in the file in another order than on the disk (as VirtualBox
    allocates them on first write), a discarded entry: each block lands
    where the map says."""
    blocks = vdi_blocks()
    image = tmp_path / "hand.vdi"
    hand_vdi(image, blocks, order=[40, 0, 63, 6, 5])
    data = bytearray(image.read_bytes())
    struct.pack_into("<I", data, VDI_HEADER + 4 * 7, 0xfffffffe)     # block 7: discarded
    image.write_bytes(bytes(data))
    rc, out, err, target = import_image(tmp_path, image)
    assert rc == 0, err
    assert "source stream" in out
    assert target.read_bytes() == expected_of(blocks)
    assert same(target, qemu_raw(tmp_path, image))


@pytest.mark.parametrize("case", ["map after the data", "index past the blocks", "shared block",
                                  "vhdx with an empty log"])
def test_left_to_qemu_img_as_before(tmp_path, source, case):
    """Layouts one pass cannot take (the map after the data, a block read
    twice) or that qemu decides on (a block past the file, a vhdx log:
    read when empty, to be replayed when not) go the scratch way, and read
    as qemu reads them."""
    n = SIZE // MiB
    if case == "vhdx with an empty log":
        image = tmp_path / "log.vhdx"
        run("qemu-img", "convert", "-f", "raw", "-O", "vhdx", str(source), str(image))
        with_header_field(image, 48, b"\x42" * 16)     # a log GUID, and no entry in the log
    else:
        image = tmp_path / "odd.vdi"
        entries = {"index past the blocks": [0, 1000] + [0xffffffff] * (n - 2),
                   "shared block": [0, 0] + [0xffffffff] * (n - 2)}.get(case)
        late = case == "map after the data"
        hand_vdi(image, vdi_blocks(), entries=entries, bmap_at=VDI_HEADER + 5 * MiB if late else None,
                 data_at=VDI_HEADER if late else None)
    rc, out, err, target = import_image(tmp_path, image)
    assert "source scratch" in out and "source stream" not in out, out
    assert rc == 0, err
    assert same(target, qemu_raw(tmp_path, image))


@pytest.mark.parametrize("case,fragment", [
    ("differencing", "differencing image: it needs its parent"),
    ("room for less than the disk", "64 blocks of 1048576 bytes for 134217728 bytes"),
    ("truncated", "truncated: 4 of its 5 blocks"),
    ("too large", "larger than the volume"),
])
def test_vdi_lies_are_refused(tmp_path, case, fragment):
    blocks = vdi_blocks()
    image = tmp_path / "lie.vdi"
    hand_vdi(image, blocks, parent=case == "differencing")
    data = bytearray(image.read_bytes())
    if case == "room for less than the disk":
        struct.pack_into("<Q", data, 0x170, 2 * SIZE)
    if case == "truncated":
        data = data[:-MiB // 2]
    image.write_bytes(bytes(data))
    rc, out, err, target = import_image(tmp_path, image, size=SIZE // 2 if case == "too large" else SIZE)
    assert rc == 1, (out, err)
    assert fragment in err, err


def test_hand_made_vhd_blocks_out_of_order(tmp_path):
    """A dynamic vhd whose BAT names its blocks in another order than the
    file holds them (Azure and Hyper-V write blocks as they are used)."""
    image = tmp_path / "image.vhd"
    run("qemu-img", "create", "-f", "vpc", "-o", "force_size=on", str(image), str(SIZE))
    order = [30, 1, 3]          # each block allocated at the end of the file as it is written
    for i in order:
        run("qemu-io", "-f", "vpc", "-c", f"write -P {i + 1} {i * 2 * MiB} {2 * MiB}", str(image))
    rc, out, err, target = import_image(tmp_path, image)
    assert rc == 0, err
    assert "source stream" in out
    want = bytearray(SIZE)
    for i in order:
        want[i * 2 * MiB:(i + 1) * 2 * MiB] = bytes([i + 1]) * (2 * MiB)
    assert target.read_bytes() == bytes(want)
    assert same(target, qemu_raw(tmp_path, image))


def crc32c(data):
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82f63b78 if c & 1 else c >> 1
        table.append(c)
    c = 0xffffffff
    for b in data:
        c = table[(c ^ b) & 0xff] ^ (c >> 8)
    return c ^ 0xffffffff


def with_header_field(image, offset, value):
    """Both vhdx headers with bytes at offset set, checksums made right."""
    data = bytearray(image.read_bytes())
    for at in (64 * 1024, 128 * 1024):
        data[at + offset:at + offset + len(value)] = value
        struct.pack_into("<I", data, at + 4, 0)
        struct.pack_into("<I", data, at + 4, crc32c(bytes(data[at:at + 4096])))
    image.write_bytes(bytes(data))


@pytest.mark.parametrize("case,fragment", [
    ("headers", "neither of its headers is valid"),
    ("differencing", "differencing"),
    ("checksum", "the checksum of its footer does not match"),
    ("truncated", "is truncated"),
])
def test_vhd_and_vhdx_lies_are_refused(tmp_path, source, case, fragment):
    fmt = "vpc" if case in ("differencing", "checksum") else "vhdx"
    image = tmp_path / f"lie.{fmt}"
    run("qemu-img", "convert", "-f", "raw", "-O", fmt, str(source), str(image))
    data = bytearray(image.read_bytes())
    if case == "headers":
        data[64 * 1024 + 100] ^= 0xff
        data[128 * 1024 + 100] ^= 0xff
        image.write_bytes(bytes(data))
    elif case == "checksum":
        data[30] ^= 1                                   # the creator's version, under the checksum
        image.write_bytes(bytes(data))
    elif case == "differencing":
        struct.pack_into(">II", data, 60, 4, 0)         # disk type 4 in the footer copy, its checksum
        struct.pack_into(">I", data, 64, ~sum(data[:512]) & 0xffffffff)
        image.write_bytes(bytes(data))
    else:
        image.write_bytes(bytes(data[:len(data) - 3 * MiB]))
    rc, out, err, target = import_image(tmp_path, image)
    assert rc == 1, (out, err)
    assert fragment in err, err


@pytest.mark.parametrize("creator,geometry", [("vbox", None), ("vpc ", None), ("win ", None), ("qem2", None),
                                              ("vbox", (65535, 16, 255))])
def test_vhd_size_as_qemu_takes_it(tmp_path, source, creator, geometry):
    """A vhd's virtual size: its geometry's for Virtual PC, VirtualBox and
    most creators, its size field for Hyper-V's and the others qemu
    lists, or when the geometry is the largest there is — as qemu."""
    image = tmp_path / "image.vhd"
    run("qemu-img", "convert", "-f", "raw", "-O", "vpc", "-o", "force_size=on", str(source), str(image))
    data = bytearray(image.read_bytes())
    struct.pack_into(">Q", data, 48, SIZE - 300)                # a size field that is not whole sectors
    data[28:32] = creator.encode()
    if geometry:
        struct.pack_into(">HBB", data, 56, *geometry)
    struct.pack_into(">I", data, 64, 0)
    struct.pack_into(">I", data, 64, ~sum(data[:512]) & 0xffffffff)
    image.write_bytes(bytes(data))
    room = SIZE + 4 * MiB
    rc, out, err, target = import_image(tmp_path, image, size=room)
    info = subprocess.run(["qemu-img", "info", "--output=json", str(image)], capture_output=True, text=True, check=True)
    assert rc == 0, err
    assert "source stream" in out, out
    assert f"done {json.loads(info.stdout)['virtual-size']}" in out, out
    assert same(target, qemu_raw(tmp_path, image, size=room))


@pytest.mark.parametrize("fmt", ["vpc", "vhdx"])
def test_table_offsets_that_wrap(tmp_path, source, fmt):
    """A table offset near 2^64, so that offset + length wraps to a small
    number: not read (it crashed the reader once), left to qemu-img, which
    refuses it."""
    image = tmp_path / f"wrap.{fmt}"
    run("qemu-img", "convert", "-f", "raw", "-O", fmt, str(source), str(image))
    data = bytearray(image.read_bytes())
    if fmt == "vpc":
        entries = struct.unpack_from(">I", data, 512 + 28)[0]
        struct.pack_into(">Q", data, 512 + 16, (1 << 64) - 4 * entries)
    else:
        for at in (192 * 1024, 256 * 1024):         # the BAT's entry in both region tables
            for k in range(struct.unpack_from("<I", data, at + 8)[0]):
                e = at + 16 + 32 * k
                if data[e:e + 4] == bytes.fromhex("6677c22d"):
                    struct.pack_into("<Q", data, e + 16, (1 << 64) - struct.unpack_from("<I", data, e + 24)[0])
            struct.pack_into("<I", data, at + 4, 0)
            struct.pack_into("<I", data, at + 4, crc32c(bytes(data[at:at + 64 * 1024])))
    image.write_bytes(bytes(data))
    rc, out, err, target = import_image(tmp_path, image)
    assert rc == 1, (out, err)
    assert "source scratch" in out and "qemu-img" in err, (out, err)
