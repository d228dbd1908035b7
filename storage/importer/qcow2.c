/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* qcow2 in one pass, in the order the bytes arrive (see qcow2.h).  The
 * format, from qemu's docs/interop/qcow2.txt: big-endian header; L1 table
 * of 8-byte entries (bits 9-55: the L2 table's host offset); L2 tables of
 * one cluster, 8-byte entries (bit 62: compressed; bit 0: reads as zeros;
 * bits 9-55: the data cluster's host offset, 0 when unallocated).
 *
 * What is owed — an L1 part, an L2 table, a data cluster, the last
 * cluster of a compressed run — waits in a min-heap keyed by the host
 * offset where it will arrive; each arriving cluster pays what it owes. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include <glib.h>
#include <zlib.h>
#include <zstd.h>

#include "format.h"
#include "qcow2.h"

#define L1E_OFFSET_MASK 0x00fffffffffffe00ULL
#define L2E_OFFSET_MASK 0x00fffffffffffe00ULL
#define QCOW_OFLAG_COMPRESSED (1ULL << 62)
#define QCOW_OFLAG_ZERO 1ULL
#define MAX_L1_BYTES (32u << 20)                /* qemu's QCOW_MAX_L1_SIZE */
#define MAX_PENDING (1u << 24)                  /* entries owed at once: 384 MiB */
#define MAX_RUN 256                             /* iovecs in one write */
#define BLOCK 4096                              /* zero detection */
#define WRITEBACK_EVERY (32u << 20)             /* start writing back this often */

#define INCOMPAT_DIRTY (1ULL << 0)
#define INCOMPAT_CORRUPT (1ULL << 1)
#define INCOMPAT_DATA_FILE (1ULL << 2)
#define INCOMPAT_COMPRESSION (1ULL << 3)
#define INCOMPAT_EXTL2 (1ULL << 4)

#define EXT_DATA_FILE 0x44415441u

enum { KIND_DATA, KIND_L2, KIND_L1, KIND_COMPRESSED };

typedef struct Pending {
        uint64_t key;           /* host offset of the cluster it waits for */
        uint64_t a;             /* guest offset (data), index (tables) << 2, | kind */
        uint64_t b;             /* compressed: the L2 entry */
} Pending;

struct Qcow2Stream {
        Qcow2Header h;
        uint64_t csize, l2_entries, l1_needed;
        int target, spill;
        uint64_t max_bytes;
        uint64_t pos;                   /* host offset of the next cluster */
        unsigned char *cbuf;            /* a cluster being assembled */
        size_t clen;
        unsigned char *tmp, *l2buf, *cin;
        Pending *heap;
        size_t n, cap;
        uint8_t *consumed;              /* bit per host cluster passed that was not spilled */
        size_t consumed_len;
        uint64_t spilled;
        struct iovec run[MAX_RUN];      /* contiguous guest writes from the caller's buffer */
        int nrun;
        uint64_t run_start, run_len;
        uint64_t unsynced;              /* bytes written since writeback last started */
        z_stream z;
        ZSTD_DCtx *zd;
        char *error;
        int write_errno;
};

static uint64_t be64(const unsigned char *p) {
        return (uint64_t) p[0] << 56 | (uint64_t) p[1] << 48 | (uint64_t) p[2] << 40 | (uint64_t) p[3] << 32 |
               (uint64_t) p[4] << 24 | (uint64_t) p[5] << 16 | (uint64_t) p[6] << 8 | p[7];
}

static uint32_t be32(const unsigned char *p) {
        return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 | (uint32_t) p[2] << 8 | p[3];
}

/* A name from the header, printable. */
static char *header_string(const unsigned char *buf, size_t n, uint64_t off, uint64_t len) {
        if (len == 0 || off > n || len > n - off)
                return g_strdup("?");
        char *s = g_strndup((const char *) buf + off, len);
        for (char *c = s; *c; c++)
                if ((unsigned char) *c < 0x20 || (unsigned char) *c >= 0x7f)
                        *c = '?';
        return s;
}

int qcow2_header_parse(const unsigned char *buf, size_t n, Qcow2Header *h, char **error) {
        if (n < 72 || memcmp(buf, "QFI\xfb", 4) != 0) {
                *error = g_strdup("the qcow2 header is truncated");
                return -1;
        }
        *h = (Qcow2Header) { .version = be32(buf + 4), .cluster_bits = be32(buf + 20), .size = be64(buf + 24),
                             .l1_size = be32(buf + 36), .l1_offset = be64(buf + 40) };
        uint64_t backing_off = be64(buf + 8);
        uint32_t backing_len = be32(buf + 16), crypt = be32(buf + 32);
        uint64_t incompat = 0;
        uint32_t header_len = 72;

        if (h->version != 2 && h->version != 3) {
                *error = g_strdup_printf("qcow2 version %u is not known", h->version);
                return -1;
        }
        if (h->cluster_bits < 9 || h->cluster_bits > 21) {
                *error = g_strdup_printf("the qcow2 header is corrupt: cluster size 2^%u", h->cluster_bits);
                return -1;
        }
        uint64_t csize = 1ULL << h->cluster_bits;
        if (h->version == 3) {
                if (n < 104) {
                        *error = g_strdup("the qcow2 header is truncated");
                        return -1;
                }
                incompat = be64(buf + 72);
                header_len = be32(buf + 100);
                if (header_len < 104 || header_len > csize) {
                        *error = g_strdup_printf("the qcow2 header is corrupt: header length %u", header_len);
                        return -1;
                }
                if (header_len > 104 && n > 104)
                        h->compression = buf[104];
        }
        if (backing_off != 0 && backing_len != 0) {
                g_autofree char *name = header_string(buf, n, backing_off, MIN(backing_len, 1023u));
                *error = g_strdup_printf("the qcow2 image names a backing file (%s): refused", name);
                return -1;
        }
        if (incompat & INCOMPAT_DATA_FILE) {
                /* the file's name, from its header extension */
                g_autofree char *name = NULL;
                for (uint64_t off = header_len; off + 8 <= MIN((uint64_t) n, csize);) {
                        uint32_t type = be32(buf + off), len = be32(buf + off + 4);
                        if (type == 0)
                                break;
                        if (type == EXT_DATA_FILE) {
                                name = header_string(buf, n, off + 8, len);
                                break;
                        }
                        off += 8 + (((uint64_t) len + 7) & ~7ULL);
                }
                *error = g_strdup_printf("the qcow2 image names an external data file (%s): refused",
                                         name ? name : "?");
                return -1;
        }
        if (((incompat & INCOMPAT_COMPRESSION) != 0) != (h->compression != 0)) {
                *error = g_strdup("the qcow2 header is corrupt: the compression type and its feature bit disagree");
                return -1;
        }
        if (crypt != 0) {
                *error = g_strdup("the qcow2 image is encrypted");
                return 1;
        }
        if (be32(buf + 60) != 0) {
                /* their old clusters would all wait in the spill file:
                 * qemu-img reads only what the active table names */
                *error = g_strdup("the qcow2 image has internal snapshots");
                return 1;
        }
        if (incompat & ~(INCOMPAT_DIRTY | INCOMPAT_COMPRESSION)) {
                *error = g_strdup_printf("the qcow2 image has incompatible features 0x%" G_GINT64_MODIFIER "x",
                                         incompat);
                return 1;
        }
        if (h->compression > 1) {
                *error = g_strdup_printf("the qcow2 image uses compression type %u", h->compression);
                return 1;
        }
        uint64_t coverage = csize * (csize / 8);
        uint64_t needed = h->size / coverage + (h->size % coverage != 0);
        if ((uint64_t) h->l1_size * 8 > MAX_L1_BYTES || needed > h->l1_size) {
                *error = g_strdup_printf("the qcow2 header is corrupt: an L1 table of %u entries for %"
                                         G_GUINT64_FORMAT " bytes", h->l1_size, h->size);
                return -1;
        }
        if (needed > 0 && (h->l1_offset & (csize - 1) || h->l1_offset > L1E_OFFSET_MASK)) {
                *error = g_strdup_printf("the qcow2 header is corrupt: L1 table at %" G_GUINT64_FORMAT, h->l1_offset);
                return -1;
        }
        return 0;
}

/* The heap of what is owed. */
static int push(Qcow2Stream *s, uint64_t key, uint64_t a, uint64_t b) {
        if (s->n == MAX_PENDING) {
                s->error = g_strdup_printf("the qcow2 image maps more than %u clusters ahead of where they are stored: "
                                           "too much to read in one pass", MAX_PENDING);
                return -1;
        }
        if (s->n == s->cap) {
                s->cap = s->cap ? s->cap * 2 : 1024;
                s->heap = g_renew(Pending, s->heap, s->cap);
        }
        size_t i = s->n++;
        while (i > 0 && s->heap[(i - 1) / 2].key > key) {
                s->heap[i] = s->heap[(i - 1) / 2];
                i = (i - 1) / 2;
        }
        s->heap[i] = (Pending) { key, a, b };
        return 0;
}

static Pending pop(Qcow2Stream *s) {
        Pending top = s->heap[0], last = s->heap[--s->n];
        size_t i = 0;
        for (;;) {
                size_t c = 2 * i + 1;
                if (c >= s->n)
                        break;
                if (c + 1 < s->n && s->heap[c + 1].key < s->heap[c].key)
                        c++;
                if (s->heap[c].key >= last.key)
                        break;
                s->heap[i] = s->heap[c];
                i = c;
        }
        if (s->n > 0)
                s->heap[i] = last;
        return top;
}

static int fail_errno(Qcow2Stream *s, const char *what) {
        s->error = g_strdup_printf("%s: %s", what, g_strerror(errno));
        return -1;
}

static int flush(Qcow2Stream *s) {
        int i = 0;
        uint64_t off = s->run_start;
        while (i < s->nrun) {
                ssize_t w = pwritev(s->target, s->run + i, s->nrun - i, (off_t) off);
                if (w < 0) {
                        if (errno == EINTR)
                                continue;
                        s->write_errno = errno;
                        return fail_errno(s, "writing the volume failed");
                }
                off += (uint64_t) w;
                s->unsynced += (uint64_t) w;
                while (i < s->nrun && (size_t) w >= s->run[i].iov_len)
                        w -= (ssize_t) s->run[i++].iov_len;
                if (i < s->nrun) {
                        s->run[i].iov_base = (char *) s->run[i].iov_base + w;
                        s->run[i].iov_len -= (size_t) w;
                }
        }
        s->nrun = 0;
        s->run_len = 0;
        if (s->unsynced >= WRITEBACK_EVERY) {
                /* the disk writes while the network reads: the caller's
                 * fsync at the end has little left to do */
                (void) sync_file_range(s->target, 0, 0, SYNC_FILE_RANGE_WRITE);
                s->unsynced = 0;
        }
        return 0;
}

static int add_run(Qcow2Stream *s, const unsigned char *data, size_t len, uint64_t guest) {
        if (s->nrun > 0 && (s->run_start + s->run_len != guest || s->nrun == MAX_RUN) && flush(s) < 0)
                return -1;
        if (s->nrun == 0)
                s->run_start = guest;
        s->run[s->nrun++] = (struct iovec) { (void *) data, len };
        s->run_len += len;
        return 0;
}

/* A guest cluster's bytes, but for its runs of zero blocks (the volume
 * reads as zeros already, and stays sparse); from the caller's buffer
 * (stable until the feed returns) gathered into runs, else written now. */
static int emit(Qcow2Stream *s, const unsigned char *data, uint64_t guest, bool stable) {
        size_t len = (size_t) MIN(s->csize, s->h.size - guest);
        for (size_t pos = 0, a, b; next_data_run(data, len, BLOCK, &pos, &a, &b);)
                if (add_run(s, data + a, b - a, guest + a) < 0)
                        return -1;
        return stable ? 0 : flush(s);
}

static bool is_consumed(const Qcow2Stream *s, uint64_t cluster) {
        return cluster / 8 < s->consumed_len && s->consumed[cluster / 8] & (1u << (cluster % 8));
}

static void mark_consumed(Qcow2Stream *s, uint64_t cluster) {
        if (cluster / 8 >= s->consumed_len) {
                size_t len = MAX(s->consumed_len * 2, cluster / 8 + 4096);
                s->consumed = g_realloc(s->consumed, len);
                memset(s->consumed + s->consumed_len, 0, len - s->consumed_len);
                s->consumed_len = len;
        }
        s->consumed[cluster / 8] |= 1u << (cluster % 8);
}

/* Bytes that passed before anything named them: from the spill file. */
static int read_back(Qcow2Stream *s, unsigned char *buf, size_t len, uint64_t off) {
        for (uint64_t c = off >> s->h.cluster_bits; c <= (off + len - 1) >> s->h.cluster_bits; c++)
                if (is_consumed(s, c)) {
                        s->error = g_strdup_printf("the qcow2 image uses its cluster at %" G_GUINT64_FORMAT " twice "
                                                   "(as a table and as data, or for two guest clusters): refused",
                                                   c << s->h.cluster_bits);
                        return -1;
                }
        size_t done = 0;
        while (done < len) {
                ssize_t r = pread(s->spill, buf + done, len - done, (off_t) (off + done));
                if (r < 0 && errno == EINTR)
                        continue;
                if (r < 0)
                        return fail_errno(s, "reading the spill file failed");
                if (r == 0)
                        break;
                done += (size_t) r;
        }
        memset(buf + done, 0, len - done);      /* zeros were not written */
        return 0;
}

static int decompress(Qcow2Stream *s, const unsigned char *in, size_t in_len, unsigned char *out) {
        if (s->h.compression == 0) {
                s->z.next_in = (unsigned char *) in;
                s->z.avail_in = (uInt) in_len;
                s->z.next_out = out;
                s->z.avail_out = (uInt) s->csize;
                int r = inflate(&s->z, Z_FINISH);
                bool ok = (r == Z_STREAM_END || r == Z_BUF_ERROR) && s->z.avail_out == 0;
                inflateReset(&s->z);
                return ok ? 0 : -1;
        }
        ZSTD_inBuffer zin = { in, in_len, 0 };
        ZSTD_outBuffer zout = { out, s->csize, 0 };
        size_t r = 0;
        ZSTD_DCtx_reset(s->zd, ZSTD_reset_session_only);
        while (zout.pos < zout.size) {
                size_t in_pos = zin.pos, out_pos = zout.pos;
                r = ZSTD_decompressStream(s->zd, &zout, &zin);
                if (ZSTD_isError(r) || (zin.pos <= in_pos && zout.pos <= out_pos))
                        return -1;
        }
        return r == 0 ? 0 : -1;
}

/* A compressed cluster whose bytes have all passed (or the stream ended). */
static int place_compressed(Qcow2Stream *s, uint64_t entry, uint64_t guest) {
        unsigned shift = 62 - (s->h.cluster_bits - 8);
        uint64_t coffset = entry & ((1ULL << shift) - 1);
        uint64_t nsect = ((entry >> shift) & ((1ULL << (s->h.cluster_bits - 8)) - 1)) + 1;
        uint64_t clen = nsect * 512 - (coffset & 511);
        uint64_t avail = coffset < s->pos ? MIN(clen, s->pos - coffset) : 0;

        if (avail == 0) {
                s->error = g_strdup_printf("the qcow2 image is truncated: the compressed data of guest offset %"
                                           G_GUINT64_FORMAT " is at %" G_GUINT64_FORMAT ", past its end (%"
                                           G_GUINT64_FORMAT " bytes)", guest, coffset, s->pos);
                return -1;
        }
        if (read_back(s, s->cin, (size_t) avail, coffset) < 0)
                return -1;
        memset(s->cin + avail, 0, clen - avail);
        if (decompress(s, s->cin, (size_t) clen, s->tmp) < 0) {
                s->error = g_strdup_printf("the qcow2 image is corrupt: the compressed cluster of guest offset %"
                                           G_GUINT64_FORMAT " does not decompress", guest);
                return -1;
        }
        return emit(s, s->tmp, guest, false);
}

static int corrupt_offset(Qcow2Stream *s, const char *what, uint64_t off) {
        s->error = g_strdup_printf("the qcow2 image is corrupt: %s at unaligned offset %" G_GUINT64_FORMAT, what, off);
        return -1;
}

/* An L2 table (the cluster at h is arriving; below it, all has passed). */
static int handle_l2(Qcow2Stream *s, const unsigned char *l2, uint64_t l1_index, uint64_t h) {
        uint64_t base = l1_index * s->l2_entries * s->csize;
        for (uint64_t k = 0; k < s->l2_entries && base + k * s->csize < s->h.size; k++) {
                uint64_t guest = base + k * s->csize, e = be64(l2 + 8 * k);
                if (e & QCOW_OFLAG_COMPRESSED) {
                        unsigned shift = 62 - (s->h.cluster_bits - 8);
                        uint64_t coffset = e & ((1ULL << shift) - 1);
                        uint64_t nsect = ((e >> shift) & ((1ULL << (s->h.cluster_bits - 8)) - 1)) + 1;
                        uint64_t last = coffset + nsect * 512 - (coffset & 511) - 1;
                        uint64_t key = last & ~(s->csize - 1);
                        if (key < h ? place_compressed(s, e, guest) < 0 : push(s, key, guest | KIND_COMPRESSED, e) < 0)
                                return -1;
                        continue;
                }
                uint64_t off = e & L2E_OFFSET_MASK;
                if (e & QCOW_OFLAG_ZERO || off == 0)
                        continue;       /* the volume reads as zeros already */
                if (off & (s->csize - 1))
                        return corrupt_offset(s, "a data cluster", off);
                if (off >= h) {
                        if (push(s, off, guest | KIND_DATA, 0) < 0)
                                return -1;
                } else if (read_back(s, s->tmp, s->csize, off) < 0 || emit(s, s->tmp, guest, false) < 0)
                        return -1;
        }
        return 0;
}

/* The part of the L1 table in the cluster at h. */
static int handle_l1(Qcow2Stream *s, const unsigned char *data, uint64_t first, uint64_t h) {
        uint64_t end = MIN(s->l1_needed, first + s->csize / 8);
        for (uint64_t i = first; i < end; i++) {
                uint64_t off = be64(data + 8 * (i - first)) & L1E_OFFSET_MASK;
                if (off == 0)
                        continue;
                if (off & (s->csize - 1))
                        return corrupt_offset(s, "an L2 table", off);
                if (off >= h) {
                        if (push(s, off, i << 2 | KIND_L2, 0) < 0)
                                return -1;
                } else if (read_back(s, s->l2buf, s->csize, off) < 0 || handle_l2(s, s->l2buf, i, h) < 0)
                        return -1;
        }
        return 0;
}

/* The cluster at s->pos: avail bytes of it arrived (fewer only at the
 * end; data is zero past them). */
static int process(Qcow2Stream *s, const unsigned char *data, size_t avail, bool stable) {
        uint64_t h = s->pos;
        bool consumed = false;
        g_autoptr(GArray) compressed = NULL;

        while (s->n > 0 && s->heap[0].key == h) {
                Pending p = pop(s);
                int r = 0;
                switch (p.a & 3) {
                case KIND_DATA:
                        r = emit(s, data, p.a & ~3ULL, stable);
                        break;
                case KIND_L1:
                        r = handle_l1(s, data, p.a >> 2, h);
                        break;
                case KIND_L2:
                        r = handle_l2(s, data, p.a >> 2, h);
                        break;
                case KIND_COMPRESSED:
                        if (!compressed)
                                compressed = g_array_new(FALSE, FALSE, sizeof(Pending));
                        g_array_append_val(compressed, p);
                        continue;
                }
                if (r < 0)
                        return -1;
                consumed = true;
        }
        if (consumed)
                mark_consumed(s, h >> s->h.cluster_bits);
        else if (!all_zero(data, avail)) {
                for (size_t done = 0; done < avail;) {
                        ssize_t w = pwrite(s->spill, data + done, avail - done, (off_t) (h + done));
                        if (w < 0 && errno != EINTR)
                                return fail_errno(s, "writing the spill file failed");
                        done += w > 0 ? (size_t) w : 0;
                }
                s->spilled += avail;
        }
        s->pos = h + avail;
        for (guint i = 0; compressed && i < compressed->len; i++) {
                Pending *p = &g_array_index(compressed, Pending, i);
                if (place_compressed(s, p->b, p->a & ~3ULL) < 0)
                        return -1;
        }
        return 0;
}

Qcow2Stream *qcow2_stream_new(const Qcow2Header *h, int target_fd, int spill_fd, uint64_t max_bytes) {
        Qcow2Stream *s = g_new0(Qcow2Stream, 1);
        s->h = *h;
        s->csize = 1ULL << h->cluster_bits;
        s->l2_entries = s->csize / 8;
        uint64_t coverage = s->csize * s->l2_entries;
        s->l1_needed = h->size / coverage + (h->size % coverage != 0);
        s->target = target_fd;
        s->spill = spill_fd;
        s->max_bytes = max_bytes;
        s->cbuf = g_malloc(s->csize);
        s->tmp = g_malloc(s->csize);
        s->l2buf = g_malloc(s->csize);
        s->cin = g_malloc(2 * s->csize);
        if (h->compression == 0)
                inflateInit2(&s->z, -12);
        else
                s->zd = ZSTD_createDCtx();
        /* the L1 table's clusters are owed first */
        for (uint64_t i = 0; i < s->l1_needed; i += s->csize / 8)
                push(s, h->l1_offset + i * 8, i << 2 | KIND_L1, 0);
        return s;
}

static int give_error(Qcow2Stream *s, char **error) {
        *error = g_steal_pointer(&s->error);
        return -1;
}

int qcow2_stream_feed(Qcow2Stream *s, const unsigned char *buf, size_t n, char **error) {
        if (s->pos + s->clen + n > s->max_bytes) {
                s->error = g_strdup_printf("the qcow2 image runs past %" G_GUINT64_FORMAT " bytes, more than an image "
                                           "for this volume can need", s->max_bytes);
                return give_error(s, error);
        }
        while (n > 0) {
                if (s->clen > 0 || n < s->csize) {
                        size_t take = (size_t) MIN((uint64_t) n, s->csize - s->clen);
                        memcpy(s->cbuf + s->clen, buf, take);
                        s->clen += take;
                        buf += take;
                        n -= take;
                        if (s->clen == s->csize) {
                                s->clen = 0;
                                if (process(s, s->cbuf, s->csize, false) < 0)
                                        return give_error(s, error);
                        }
                        continue;
                }
                if (process(s, buf, s->csize, true) < 0)
                        return give_error(s, error);
                buf += s->csize;
                n -= s->csize;
        }
        if (flush(s) < 0)
                return give_error(s, error);
        return 0;
}

static const char *kind_name(uint64_t a) {
        switch (a & 3) {
        case KIND_L1:
                return "its L1 table";
        case KIND_L2:
                return "an L2 table";
        default:
                return "a data cluster";
        }
}

int qcow2_stream_finish(Qcow2Stream *s, char **error) {
        if (s->clen > 0) {
                size_t avail = s->clen;
                memset(s->cbuf + avail, 0, s->csize - avail);
                s->clen = 0;
                if (process(s, s->cbuf, avail, false) < 0)
                        return give_error(s, error);
        }
        while (s->n > 0) {
                Pending p = pop(s);
                if ((p.a & 3) == KIND_COMPRESSED) {
                        if (place_compressed(s, p.b, p.a & ~3ULL) < 0)
                                return give_error(s, error);
                        continue;
                }
                s->error = g_strdup_printf("the qcow2 image is truncated: %s is at %" G_GUINT64_FORMAT
                                           ", past its end (%" G_GUINT64_FORMAT " bytes)",
                                           kind_name(p.a), p.key, s->pos);
                return give_error(s, error);
        }
        if (flush(s) < 0)
                return give_error(s, error);
        return 0;
}

int qcow2_stream_write_errno(const Qcow2Stream *s) {
        return s->write_errno;
}

uint64_t qcow2_stream_spilled(const Qcow2Stream *s) {
        return s->spilled;
}

Qcow2Stream *qcow2_stream_free(Qcow2Stream *s) {
        if (!s)
                return NULL;
        if (s->h.compression == 0)
                inflateEnd(&s->z);
        else
                ZSTD_freeDCtx(s->zd);
        g_free(s->cbuf);
        g_free(s->tmp);
        g_free(s->l2buf);
        g_free(s->cin);
        g_free(s->heap);
        g_free(s->consumed);
        g_free(s->error);
        g_free(s);
        return NULL;
}
