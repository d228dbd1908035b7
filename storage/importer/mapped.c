/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vdi, dynamic vhd and vhdx in one pass (see mapped.h).  The formats:
 *   vdi   VirtualBox's; qemu's block/vdi.c.  Little-endian header at 0
 *         (signature 0xbeda107f at 0x40); a block map of u32 entries (the
 *         block's index in the data area, or unallocated/discarded).
 *   vhd   Microsoft's "Virtual Hard Disk Image Format Specification";
 *         qemu's block/vpc.c.  Big-endian footer copy at 0 ("conectix"),
 *         dynamic header ("cxsparse"), a BAT of u32 sector offsets; each
 *         block a sector bitmap then its data (the bitmap is not read:
 *         qemu reads the block whole).
 *   vhdx  Microsoft's [MS-VHDX]; qemu's block/vhdx.c.  Little-endian; two
 *         headers (64 and 128 KiB, the valid one with the higher sequence
 *         number), two region tables (192 and 256 KiB) locating the BAT
 *         and the metadata; u64 BAT entries (state in bits 0-2, file
 *         offset in MiB in bits 20-63), a sector-bitmap entry after every
 *         chunk-ratio payload entries.  CRC-32C over headers and tables. */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mapped.h"

#define BLOCK 4096                              /* zero detection */
#define WRITEBACK_EVERY (32u << 20)
#define KiB 1024u
#define MiB (1024u * 1024u)

/* The smallest blocks read in one pass: a vdi's as qemu reads them (1
 * MiB), a vhd's where its sector bitmaps stay small beside the data.
 * Fuzzing builds take 512 bytes, so that inputs of a few KiB reach the
 * tables and the stream (fuzz/fuzz-onepass.c). */
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
#define VDI_BLOCK_MIN 512u
#define VHD_BLOCK_MIN 512u
#else
#define VDI_BLOCK_MIN MiB
#define VHD_BLOCK_MIN (64 * KiB)
#endif

#define VDI_UNALLOCATED 0xffffffffu
#define VDI_DISCARDED 0xfffffffeu
#define VHDX_PROBE (320 * KiB)                  /* the headers and both region tables */
#define MAX_FILE_OFFSET (UINT64_C(1) << 56)     /* past any image: no sum with a block's length wraps */

static uint16_t le16(const unsigned char *p) {
        return (uint16_t) (p[0] | p[1] << 8);
}

static uint32_t le32(const unsigned char *p) {
        return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 | (uint32_t) p[3] << 24;
}

static uint64_t le64(const unsigned char *p) {
        return (uint64_t) le32(p) | (uint64_t) le32(p + 4) << 32;
}

static uint32_t be32(const unsigned char *p) {
        return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 | (uint32_t) p[2] << 8 | (uint32_t) p[3];
}

static uint64_t be64(const unsigned char *p) {
        return (uint64_t) be32(p) << 32 | be32(p + 4);
}

static bool is_pow2(uint64_t v) {
        return v && !(v & (v - 1));
}

static int refuse(char **error, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
static int refuse(char **error, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        *error = g_strdup_vprintf(fmt, ap);
        va_end(ap);
        return -1;
}

static int for_qemu_img(char **error, const char *why) {
        *error = g_strdup(why);
        return 1;
}

gboolean mapped_format(ImageFormat fmt) {
        return fmt == IMAGE_VDI || fmt == IMAGE_VHD || fmt == IMAGE_VHDX;
}

const char *mapped_format_name(ImageFormat fmt) {
        return fmt == IMAGE_VDI ? "vdi" : fmt == IMAGE_VHD ? "vhd" : "vhdx";
}

/* --- vdi and vhd: a table of u32 entries --- */

typedef struct Table {
        const char *name;
        const unsigned char *at;        /* the table's first entry */
        size_t room;                    /* bytes at hand from there */
        uint32_t entries;
        bool big_endian;
        bool discarded;                 /* 0xfffffffe too maps nothing (vdi) */
        uint32_t block;
        uint64_t size;                  /* virtual */
        uint64_t base, unit;            /* entry e: its data at base + e * unit */
        uint32_t limit;                 /* entries at or past it: qemu's to read */
} Table;

/* Entry i maps the guest's block i; 0xffffffff maps nothing (zeros). */
static int table_map(const Table *t, uint64_t max_size, GArray *out, char **error) {
        if (4ULL * t->entries > t->room)
                return refuse(error, "the %s is truncated: its block table ends past the bytes at hand", t->name);
        if (t->size > max_size)
                return 0;
        for (uint32_t i = 0; i < t->entries; i++) {
                const unsigned char *p = t->at + 4ULL * i;
                uint32_t e = t->big_endian ? be32(p) : le32(p);
                uint64_t guest = (uint64_t) i * t->block;
                if (e == VDI_UNALLOCATED || (e == VDI_DISCARDED && t->discarded) || guest >= t->size)
                        continue;
                if (e >= t->limit)      /* qemu reads past the data: its to say what that is */
                        return for_qemu_img(error, "a block index past the blocks");
                MappedExtent x = { t->base + (uint64_t) e * t->unit, guest, MIN((uint64_t) t->block, t->size - guest) };
                g_array_append_val(out, x);
        }
        return 0;
}

/* --- vdi --- */

typedef struct Vdi {
        uint64_t size, bmap, data;
        uint32_t block, extra, blocks;
} Vdi;

static int vdi_header(const unsigned char *b, size_t n, Vdi *v, char **error) {
        if (n < 0x1c8)
                return refuse(error, "the vdi is truncated: %zu bytes, less than its header", n);
        if (le32(b + 0x44) != 0x00010001)
                return for_qemu_img(error, "a vdi of another version");
        uint32_t type = le32(b + 0x4c);
        static const unsigned char null_uuid[16];
        if (memcmp(b + 0x1a8, null_uuid, 16) != 0 || memcmp(b + 0x1b8, null_uuid, 16) != 0 || type == 4)
                return refuse(error, "the vdi is a differencing image: it needs its parent, which an import "
                                     "does not have");
        if (type != 1 && type != 2)
                return for_qemu_img(error, "a vdi of another type");
        *v = (Vdi) { .bmap = le32(b + 0x154), .data = le32(b + 0x158), .size = le64(b + 0x170),
                     .block = le32(b + 0x178), .extra = le32(b + 0x17c), .blocks = le32(b + 0x180) };
        /* what qemu reads, qemu's way (block/vdi.c); the rest is its to refuse */
        if (le32(b + 0x168) != 512 || !is_pow2(v->block) || v->block < VDI_BLOCK_MIN || v->block > MiB ||
            v->extra != 0 || v->bmap % 512 || v->data % 512)
                return for_qemu_img(error, "a vdi of another block or sector size, or unaligned");
        if ((uint64_t) v->blocks * v->block < v->size || v->bmap < 0x1c8)
                return refuse(error, "the vdi header is corrupt: %u blocks of %u bytes for %" G_GUINT64_FORMAT
                              " bytes, the block map at byte %" G_GUINT64_FORMAT,
                              v->blocks, v->block, v->size, v->bmap);
        v->size = (v->size + 511) & ~UINT64_C(511);     /* qemu rounds it up to a sector */
        if (v->bmap + 4ULL * v->blocks > v->data || v->bmap + 4ULL * v->blocks > MAPPED_MAX_FRONT)
                return for_qemu_img(error, "a vdi whose block map is not before its data");
        return 0;
}

static int vdi_map(const unsigned char *b, size_t n, uint64_t max_size, GArray *out, uint64_t *size,
                   char **error) {
        Vdi v;
        int r = vdi_header(b, n, &v, error);
        if (r != 0)
                return r;
        *size = v.size;
        return table_map(&(Table) { .name = "vdi", .at = b + MIN(n, v.bmap), .room = n - MIN(n, v.bmap),
                                    .entries = v.blocks, .discarded = true, .block = v.block, .size = v.size,
                                    .base = v.data, .unit = v.block, .limit = v.blocks },
                         max_size, out, error);
}

/* --- vhd --- */

typedef struct Vhd {
        uint64_t size, table;
        uint32_t entries, block;
} Vhd;

static int vhd_header(const unsigned char *b, size_t n, Vhd *v, char **error) {
        if (n < 512)
                return refuse(error, "the vhd is truncated: %zu bytes, less than its footer", n);
        uint32_t sum = 0;
        for (size_t i = 0; i < 512; i++)
                sum += i >= 64 && i < 68 ? 0 : b[i];    /* the checksum field as zero */
        if (~sum != be32(b + 64))
                return refuse(error, "the vhd is corrupt: the checksum of its footer does not match");
        uint32_t type = be32(b + 60);
        if (type == 4)
                return refuse(error, "the vhd is a differencing disk: it needs its parent, which an import does "
                                     "not have");
        if (type != 3)
                return for_qemu_img(error, "a vhd that is not dynamic");
        uint64_t dyn = be64(b + 16);
        if (dyn < 512 || dyn > n || n - dyn < 1024 || memcmp(b + dyn, "cxsparse", 8) != 0)
                return for_qemu_img(error, "a vhd whose dynamic header is not among its first bytes");
        /* the virtual size as qemu takes it (block/vpc.c): the footer's
         * size field for the creators that go by it (Hyper-V, qemu's
         * "qem2", Disk2vhd, XenConverter, XenServer) or when the geometry
         * is the largest there is, else the geometry's */
        static const char *const by_size[] = { "win ", "qem2", "d2v ", "CTXS", "tap\0" };
        uint64_t chs = (uint64_t) (b[56] << 8 | b[57]) * b[58] * b[59];
        bool by_geometry = chs != 65535ULL * 16 * 255;
        for (size_t i = 0; i < G_N_ELEMENTS(by_size); i++)
                by_geometry &= memcmp(b + 28, by_size[i], 4) != 0;
        *v = (Vhd) { .size = by_geometry ? chs * 512 : be64(b + 48) & ~UINT64_C(511), .table = be64(b + dyn + 16),
                     .entries = be32(b + dyn + 28), .block = be32(b + dyn + 32) };
        /* small blocks: a table too large to keep, sector bitmaps as large as the data */
        if (!is_pow2(v->block) || v->block < VHD_BLOCK_MIN || v->block > 256 * MiB)
                return for_qemu_img(error, "a vhd of blocks under 64 KiB or over 256 MiB");
        if ((uint64_t) v->entries * v->block < v->size || v->table < 512)
                return refuse(error, "the vhd header is corrupt: %u blocks of %u bytes for %" G_GUINT64_FORMAT
                              " bytes, the table at byte %" G_GUINT64_FORMAT, v->entries, v->block, v->size, v->table);
        if (v->table > MAPPED_MAX_FRONT || 4ULL * v->entries > MAPPED_MAX_FRONT - v->table)
                return for_qemu_img(error, "a vhd whose block table is not among its first bytes");
        return 0;
}

static int vhd_map(const unsigned char *b, size_t n, uint64_t max_size, GArray *out, uint64_t *size,
                   char **error) {
        Vhd v;
        int r = vhd_header(b, n, &v, error);
        if (r != 0)
                return r;
        *size = v.size;
        uint64_t bitmap = ((uint64_t) v.block / (8 * 512) + 511) & ~UINT64_C(511);
        return table_map(&(Table) { .name = "vhd", .at = b + MIN(n, v.table), .room = n - MIN(n, v.table),
                                    .entries = v.entries, .big_endian = true, .block = v.block, .size = v.size,
                                    .base = bitmap, .unit = 512, .limit = UINT32_MAX },
                         max_size, out, error);
}

/* --- vhdx --- */

static uint32_t crc32c(const unsigned char *p, size_t n, size_t skip_at) {
        static uint32_t table[256];
        if (!table[1])
                for (uint32_t i = 0; i < 256; i++) {
                        uint32_t c = i;
                        for (int k = 0; k < 8; k++)
                                c = c & 1 ? (c >> 1) ^ 0x82f63b78u : c >> 1;
                        table[i] = c;
                }
        uint32_t c = 0xffffffffu;
        for (size_t i = 0; i < n; i++) {
                unsigned char byte = i >= skip_at && i < skip_at + 4 ? 0 : p[i];     /* the checksum field as zero */
                c = table[(c ^ byte) & 0xff] ^ (c >> 8);
        }
        return c ^ 0xffffffffu;
}

/* GUIDs as they lie in the file (the first three fields little-endian) */
static const unsigned char BAT_GUID[16] = { 0x66, 0x77, 0xc2, 0x2d, 0x23, 0xf6, 0x00, 0x42,
                                            0x9d, 0x64, 0x11, 0x5e, 0x9b, 0xfd, 0x4a, 0x08 };
static const unsigned char METADATA_GUID[16] = { 0x06, 0xa2, 0x7c, 0x8b, 0x90, 0x47, 0x9a, 0x4b,
                                                 0xb8, 0xfe, 0x57, 0x5f, 0x05, 0x0f, 0x88, 0x6e };
static const unsigned char FILE_PARAMETERS_GUID[16] = { 0x37, 0x67, 0xa1, 0xca, 0x36, 0xfa, 0x43, 0x4d,
                                                        0xb3, 0xb6, 0x33, 0xf0, 0xaa, 0x44, 0xe7, 0x6b };
static const unsigned char DISK_SIZE_GUID[16] = { 0x24, 0x42, 0xa5, 0x2f, 0x1b, 0xcd, 0x76, 0x48,
                                                  0xb2, 0x11, 0x5d, 0xbe, 0xd8, 0x3b, 0xf4, 0xb8 };
static const unsigned char SECTOR_SIZE_GUID[16] = { 0x1d, 0xbf, 0x41, 0x81, 0x6f, 0xa9, 0x09, 0x47,
                                                    0xba, 0x47, 0xf2, 0x33, 0xa8, 0xfa, 0xab, 0x5f };

static const unsigned char PHYSICAL_SECTOR_GUID[16] = { 0xc7, 0x48, 0xa3, 0xcd, 0x5d, 0x44, 0x71, 0x44,
                                                        0x9c, 0xc9, 0xe9, 0x88, 0x52, 0x51, 0xc5, 0x56 };
static const unsigned char PAGE83_GUID[16] = { 0xab, 0x12, 0xca, 0xbe, 0xe6, 0xb2, 0x23, 0x45,
                                               0x93, 0xef, 0xc3, 0x09, 0xe0, 0x00, 0xc7, 0x46 };
static const unsigned char PARENT_LOCATOR_GUID[16] = { 0x2d, 0x5f, 0xd3, 0xa8, 0x0b, 0xb3, 0x4d, 0x45,
                                                       0xab, 0xf7, 0xd3, 0xd8, 0x48, 0x34, 0xab, 0x0c };

typedef struct Vhdx {
        uint64_t bat, bat_len, meta, meta_len;
} Vhdx;

static int vhdx_regions(const unsigned char *b, size_t n, Vhdx *v, char **error) {
        if (n < VHDX_PROBE)
                return refuse(error, "the vhdx is truncated: %zu bytes, less than its headers", n);
        /* the current header: valid, the higher sequence number */
        const unsigned char *h = NULL;
        for (size_t at = 64 * KiB; at <= 128 * KiB; at += 64 * KiB)
                if (memcmp(b + at, "head", 4) == 0 && crc32c(b + at, 4 * KiB, 4) == le32(b + at + 4) &&
                    (!h || le64(b + at + 8) > le64(h + 8)))
                        h = b + at;
        if (!h)
                return refuse(error, "the vhdx is corrupt: neither of its headers is valid");
        /* a log: qemu reads it when it is empty and asks for it to be
         * replayed when it is not (qemu-img check -r all) */
        static const unsigned char null_guid[16];
        if (memcmp(h + 48, null_guid, 16) != 0)
                return for_qemu_img(error, "a vhdx with a log");
        if (le16(h + 66) != 1)
                return for_qemu_img(error, "a vhdx of another version");
        const unsigned char *t = NULL;
        for (size_t at = 192 * KiB; at <= 256 * KiB && !t; at += 64 * KiB)
                if (memcmp(b + at, "regi", 4) == 0 && crc32c(b + at, 64 * KiB, 4) == le32(b + at + 4))
                        t = b + at;
        if (!t)
                return refuse(error, "the vhdx is corrupt: neither of its region tables is valid");
        uint32_t count = le32(t + 8);
        if (count > 2047)
                return refuse(error, "the vhdx is corrupt: %u regions", count);
        *v = (Vhdx) { 0 };
        for (uint32_t i = 0; i < count; i++) {
                const unsigned char *e = t + 16 + 32 * i;
                if (memcmp(e, BAT_GUID, 16) == 0)
                        v->bat = le64(e + 16), v->bat_len = le32(e + 24);
                else if (memcmp(e, METADATA_GUID, 16) == 0)
                        v->meta = le64(e + 16), v->meta_len = le32(e + 24);
                else if (le32(e + 28) & 1)
                        return refuse(error, "the vhdx has a required region this importer does not know");
        }
        if (!v->bat_len || !v->meta_len)
                return refuse(error, "the vhdx is corrupt: its region table has no %s region",
                              !v->bat_len ? "BAT" : "metadata");
        if (v->bat < VHDX_PROBE || v->meta < VHDX_PROBE)
                return refuse(error, "the vhdx is corrupt: its %s region is at byte %" G_GUINT64_FORMAT
                              ", among its headers", v->bat < VHDX_PROBE ? "BAT" : "metadata",
                              v->bat < VHDX_PROBE ? v->bat : v->meta);
        if (v->bat > MAPPED_MAX_FRONT || v->bat_len > MAPPED_MAX_FRONT - v->bat || v->meta > MAPPED_MAX_FRONT ||
            v->meta_len > MAPPED_MAX_FRONT - v->meta)
                return for_qemu_img(error, "a vhdx whose tables are not among its first bytes");
        return 0;
}

/* The metadata item id: its bytes, or NULL. */
static const unsigned char *vhdx_item(const unsigned char *b, const Vhdx *v, const unsigned char *id, uint32_t len) {
        uint16_t count = le16(b + v->meta + 10);
        for (uint32_t i = 0; i < count && 32 + 32 * (i + 1) <= v->meta_len; i++) {
                const unsigned char *e = b + v->meta + 32 + 32 * i;
                uint64_t off = le32(e + 16), ilen = le32(e + 20);
                if (memcmp(e, id, 16) == 0)
                        return ilen >= len && off + ilen <= v->meta_len ? b + v->meta + off : NULL;
        }
        return NULL;
}

/* An item marked required that is none of those the spec defines: per
 * the spec, the file must not be opened. */
static const unsigned char *vhdx_unknown_required(const unsigned char *b, const Vhdx *v) {
        static const unsigned char *const known[] = { FILE_PARAMETERS_GUID, DISK_SIZE_GUID, SECTOR_SIZE_GUID,
                                                      PHYSICAL_SECTOR_GUID, PAGE83_GUID, PARENT_LOCATOR_GUID };
        uint16_t count = le16(b + v->meta + 10);
        for (uint32_t i = 0; i < count && 32 + 32 * (i + 1) <= v->meta_len; i++) {
                const unsigned char *e = b + v->meta + 32 + 32 * i;
                bool is_known = false;
                for (size_t k = 0; k < G_N_ELEMENTS(known); k++)
                        is_known |= memcmp(e, known[k], 16) == 0;
                if ((le32(e + 24) & 4) && !is_known)
                        return e;
        }
        return NULL;
}

static int vhdx_map(const unsigned char *b, size_t n, uint64_t max_size, GArray *out, uint64_t *size,
                   char **error) {
        Vhdx v;
        int r = vhdx_regions(b, n, &v, error);
        if (r != 0)
                return r;
        if (v.bat + v.bat_len > n || v.meta + v.meta_len > n)
                return refuse(error, "the vhdx is truncated: its tables end past its %zu bytes", n);
        if (v.meta_len < 64 * KiB || memcmp(b + v.meta, "metadata", 8) != 0 || le16(b + v.meta + 10) > 2047)
                return refuse(error, "the vhdx is corrupt: no metadata table where its region table says");
        const unsigned char *params = vhdx_item(b, &v, FILE_PARAMETERS_GUID, 8),
                            *disk = vhdx_item(b, &v, DISK_SIZE_GUID, 8),
                            *sector = vhdx_item(b, &v, SECTOR_SIZE_GUID, 4);
        if (!params || !disk || !sector)
                return refuse(error, "the vhdx is corrupt: its metadata lacks the block size, disk size or sector "
                                     "size");
        if (le32(params + 4) & 2)
                return refuse(error, "the vhdx is a differencing disk: it needs its parent, which an import does "
                                     "not have");
        const unsigned char *unknown = vhdx_unknown_required(b, &v);
        if (unknown)
                return refuse(error, "the vhdx has a required metadata item this importer does not know (%08x-%04x-"
                              "%04x-...)", le32(unknown), le16(unknown + 4), le16(unknown + 6));
        uint32_t block = le32(params), lss = le32(sector);
        uint64_t vsize = le64(disk);
        if (lss == 4096)
                return for_qemu_img(error, "a vhdx of 4 KiB sectors");
        vsize &= ~UINT64_C(511);        /* qemu's size: whole sectors */
        if (!is_pow2(block) || block < MiB || block > 256 * MiB || lss != 512 || vsize > (UINT64_C(64) << 40))
                return refuse(error, "the vhdx is corrupt: blocks of %u bytes, sectors of %u, %" G_GUINT64_FORMAT
                              " bytes", block, lss, vsize);
        uint64_t chunk = ((UINT64_C(1) << 23) * lss) / block;
        uint64_t blocks = (vsize + block - 1) / block;
        uint64_t entries = blocks ? blocks + (blocks - 1) / chunk : 0;
        if (entries * 8 > v.bat_len)
                return refuse(error, "the vhdx is corrupt: its BAT has room for %" G_GUINT64_FORMAT " of its %"
                              G_GUINT64_FORMAT " entries", v.bat_len / 8, entries);
        *size = vsize;
        if (vsize > max_size)
                return 0;
        for (uint64_t i = 0; i < blocks; i++) {
                uint64_t e = le64(b + v.bat + 8 * (i + i / chunk));
                unsigned state = e & 7;
                if (state <= 3 || state == 5)
                        continue;       /* not present, undefined, zero, unmapped (also v0.95's): zeros */
                if (state != 6)
                        return refuse(error, "the vhdx is corrupt: block %" G_GUINT64_FORMAT " in state %u%s", i,
                                      state, state == 7 ? " (partly present: a differencing disk's)" : "");
                MappedExtent x = { e >> 20 << 20, i * block, MIN((uint64_t) block, vsize - i * block) };
                g_array_append_val(out, x);
        }
        return 0;
}

/* --- the plan and the map --- */

int mapped_plan(ImageFormat fmt, const unsigned char *buf, size_t n, uint64_t *front, char **error) {
        int r;
        if (fmt == IMAGE_VDI) {
                Vdi v;
                if ((r = vdi_header(buf, n, &v, error)) == 0)
                        *front = v.bmap + 4ULL * v.blocks;
                return r;
        }
        if (fmt == IMAGE_VHD) {
                Vhd v;
                if ((r = vhd_header(buf, n, &v, error)) == 0)
                        *front = v.table + 4ULL * v.entries;
                return r;
        }
        if (fmt != IMAGE_VHDX)
                return for_qemu_img(error, "not a format read here");
        if (n < VHDX_PROBE) {
                *front = VHDX_PROBE;
                return 0;
        }
        Vhdx v;
        if ((r = vhdx_regions(buf, n, &v, error)) == 0)
                *front = MAX(v.bat + v.bat_len, v.meta + v.meta_len);
        return r;
}

static int by_file_offset(gconstpointer a, gconstpointer b) {
        const MappedExtent *x = a, *y = b;
        return x->file_off < y->file_off ? -1 : x->file_off > y->file_off;
}

int mapped_map(ImageFormat fmt, const unsigned char *buf, size_t n, uint64_t max_size, MappedImage *m,
               char **error) {
        g_autoptr(GArray) out = g_array_new(FALSE, FALSE, sizeof(MappedExtent));
        uint64_t size = 0;
        int r = fmt == IMAGE_VDI ? vdi_map(buf, n, max_size, out, &size, error)
                : fmt == IMAGE_VHD ? vhd_map(buf, n, max_size, out, &size, error)
                : fmt == IMAGE_VHDX ? vhdx_map(buf, n, max_size, out, &size, error)
                : for_qemu_img(error, "not a format read here");
        if (r != 0)
                return r;
        g_array_sort(out, by_file_offset);
        const MappedExtent *x = (const MappedExtent *) (void *) out->data;
        for (guint i = 0; i < out->len; i++)
                if (x[i].file_off > MAX_FILE_OFFSET)
                        return refuse(error, "the %s is corrupt: a block at byte %" G_GUINT64_FORMAT
                                      ", past any file", mapped_format_name(fmt), x[i].file_off);
        /* qemu reads such a block twice; one pass cannot */
        for (guint i = 1; i < out->len; i++)
                if (x[i].file_off < x[i - 1].file_off + x[i - 1].len)
                        return for_qemu_img(error, "blocks that share their bytes");
        *m = (MappedImage) { .fmt = fmt, .size = size, .n = out->len };
        m->extents = (MappedExtent *) (void *) g_array_free(g_steal_pointer(&out), FALSE);
        return 0;
}

void mapped_image_clear(MappedImage *m) {
        g_clear_pointer(&m->extents, g_free);
        m->n = 0;
}

/* --- the stream --- */

struct MappedStream {
        MappedImage m;
        int target;
        uint64_t max_bytes, pos, unsynced;
        size_t next;                    /* the first extent not wholly written */
        char *error;
        int write_errno;
};

MappedStream *mapped_stream_new(MappedImage *m, int target_fd, uint64_t max_bytes) {
        MappedStream *s = g_new0(MappedStream, 1);
        s->m = *m;
        *m = (MappedImage) { 0 };
        s->target = target_fd;
        s->max_bytes = max_bytes;
        return s;
}

static int write_data(MappedStream *s, const unsigned char *buf, size_t n, uint64_t at) {
        for (size_t pos = 0, a, b; next_data_run(buf, n, BLOCK, &pos, &a, &b);)
                for (size_t done = a; done < b;) {
                        ssize_t w = pwrite(s->target, buf + done, b - done, (off_t) (at + done));
                        if (w < 0 && errno == EINTR)
                                continue;
                        if (w <= 0) {
                                s->write_errno = w < 0 ? errno : ENOSPC;
                                s->error = g_strdup_printf("writing the volume failed: %s", g_strerror(s->write_errno));
                                return -1;
                        }
                        done += (size_t) w;
                        s->unsynced += (uint64_t) w;
                }
        if (s->unsynced >= WRITEBACK_EVERY) {
                (void) sync_file_range(s->target, 0, 0, SYNC_FILE_RANGE_WRITE);
                s->unsynced = 0;
        }
        return 0;
}

int mapped_stream_feed(MappedStream *s, const unsigned char *buf, size_t n, char **error) {
        if (s->pos + n > s->max_bytes) {
                *error = g_strdup_printf("the %s runs past %" G_GUINT64_FORMAT " bytes, more than an image for this "
                                         "volume can need", mapped_format_name(s->m.fmt), s->max_bytes);
                return -1;
        }
        while (n > 0 && s->next < s->m.n) {
                const MappedExtent *x = &s->m.extents[s->next];
                size_t take;
                if (s->pos < x->file_off)
                        take = (size_t) MIN((uint64_t) n, x->file_off - s->pos);       /* not the disk's */
                else {
                        take = (size_t) MIN((uint64_t) n, x->file_off + x->len - s->pos);
                        if (write_data(s, buf, take, x->guest_off + (s->pos - x->file_off)) < 0) {
                                *error = g_steal_pointer(&s->error);
                                return -1;
                        }
                        if (s->pos + take == x->file_off + x->len)
                                s->next++;
                }
                s->pos += take;
                buf += take;
                n -= take;
        }
        s->pos += n;    /* after the last block (a vhd's footer): not the disk's */
        return 0;
}

int mapped_stream_finish(MappedStream *s, char **error) {
        if (s->next < s->m.n) {
                *error = g_strdup_printf("the %s is truncated: %zu of its %zu blocks in its %" G_GUINT64_FORMAT
                                         " bytes", mapped_format_name(s->m.fmt), s->next, s->m.n, s->pos);
                return -1;
        }
        return 0;
}

int mapped_stream_write_errno(const MappedStream *s) {
        return s->write_errno;
}

MappedStream *mapped_stream_free(MappedStream *s) {
        if (!s)
                return NULL;
        mapped_image_clear(&s->m);
        g_free(s->error);
        g_free(s);
        return NULL;
}
