/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* streamOptimized vmdk in one pass (see vmdk.h).  The format, from
 * VMware's "Virtual Disk Format 5.0" and qemu's block/vmdk.c: a
 * little-endian sparse extent header in sector 0, the text descriptor
 * after it, and from overHead sectors on a sequence of sector-aligned
 * markers: { u64 lba; u32 size; } followed by size bytes of zlib data for
 * a grain, or { u64 sectors; u32 0; u32 type; } for metadata (0 end of
 * stream, 1 grain table, 2 grain directory, 3 footer) whose sectors follow
 * the marker's own sector. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>
#include <zlib.h>

#include "format.h"
#include "vmdk.h"

#define FLAG_COMPRESS (1u << 16)
#define FLAG_MARKER (1u << 17)
#define COMPRESS_DEFLATE 1
#define BLOCK 4096
#define RUN_GRAINS 16                           /* grains gathered into one write */
#define WRITEBACK_EVERY (32u << 20)
#define MAX_FRONT (8u << 20)                    /* grain tables up front kept to count grains */
#define GD_AT_END UINT64_MAX

enum { MARKER_EOS, MARKER_GT, MARKER_GD, MARKER_FOOTER };

typedef enum { SKIP, MARKER, META_TYPE, GRAIN, DONE } Phase;

struct VmdkStream {
        VmdkHeader h;
        int target;
        uint64_t max_bytes, pos;
        Phase phase;
        uint64_t skip;                  /* SKIP: bytes left */
        unsigned char head[16];         /* a marker being read */
        size_t head_len;
        uint64_t lba, meta_sectors;
        unsigned char *data;            /* a grain's compressed bytes */
        size_t data_len, data_want, data_cap;
        unsigned char *run;             /* decompressed grains, contiguous on the disk */
        uint64_t run_start;
        size_t run_len, run_cap;
        uint64_t unsynced;
        unsigned char *front;           /* the bytes before the markers, when tables are there */
        uint64_t grains, expected;      /* grains seen; grains the tables name (0: unknown) */
        z_stream z;
        char *error;
        int write_errno;
};

static uint64_t le64(const unsigned char *p) {
        uint64_t v = 0;
        for (int i = 7; i >= 0; i--)
                v = v << 8 | p[i];
        return v;
}

static uint32_t le32(const unsigned char *p) {
        return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 | (uint32_t) p[3] << 24;
}

int vmdk_header_parse(const unsigned char *buf, size_t n, VmdkHeader *h, char **error) {
        if (n < 512 || memcmp(buf, "KDMV", 4) != 0) {
                *error = g_strdup("the vmdk is not a sparse extent (a descriptor file or a flat disk)");
                return 1;
        }
        uint32_t version = le32(buf + 4), flags = le32(buf + 8);
        uint64_t capacity = le64(buf + 12), grain = le64(buf + 20), desc_off = le64(buf + 28),
                 desc_len = le64(buf + 36);
        uint64_t overhead = le64(buf + 64), gd = le64(buf + 56);
        uint32_t gt_entries = le32(buf + 44);
        unsigned compress = buf[77] | buf[78] << 8;

        /* the subformat, from the descriptor inside the extent */
        g_autofree char *desc = NULL;
        if (desc_off > 0 && desc_len > 0 && desc_off < n / 512 && desc_len <= 2048)
                desc = g_strndup((const char *) buf + desc_off * 512, (gsize) MIN(desc_len * 512, n - desc_off * 512));
        if (!desc || !strstr(desc, "createType=\"streamOptimized\"")) {
                *error = g_strdup("the vmdk is not streamOptimized");
                return 1;
        }
        if (version < 1 || version > 3 || !(flags & FLAG_COMPRESS) || !(flags & FLAG_MARKER) ||
            compress != COMPRESS_DEFLATE) {
                *error = g_strdup_printf("the streamOptimized vmdk has version %u, flags 0x%x, compression %u", version,
                                         flags, compress);
                return 1;
        }
        if (grain < 8 || grain > 4096 || (grain & (grain - 1))) {
                *error = g_strdup_printf("the vmdk header is corrupt: a grain of %" G_GUINT64_FORMAT " sectors", grain);
                return -1;
        }
        if (capacity > (UINT64_C(1) << 54) || overhead == 0 || overhead > (UINT64_C(1) << 40)) {
                *error = g_strdup_printf("the vmdk header is corrupt: %" G_GUINT64_FORMAT
                                         " sectors, data from sector %" G_GUINT64_FORMAT,
                                         capacity, overhead);
                return -1;
        }
        *h = (VmdkHeader) { .capacity = capacity * 512, .grain = grain * 512, .data_offset = overhead * 512,
                            .gd_offset = gd != GD_AT_END && gd < overhead ? gd * 512 : 0, .gt_entries = gt_entries };
        return 0;
}

VmdkStream *vmdk_stream_new(const VmdkHeader *h, int target_fd, uint64_t max_bytes) {
        VmdkStream *s = g_new0(VmdkStream, 1);
        s->h = *h;
        s->target = target_fd;
        s->max_bytes = max_bytes;
        s->phase = SKIP;
        s->skip = h->data_offset;
        s->data_cap = 2 * h->grain + 512;       /* qemu's bound for a grain's compressed size */
        s->data = g_malloc(s->data_cap);
        s->run_cap = RUN_GRAINS * h->grain;
        s->run = g_malloc(s->run_cap);
        if (h->gd_offset && h->data_offset <= MAX_FRONT && h->gt_entries > 0 && h->gt_entries <= 65536)
                s->front = g_malloc0(h->data_offset);
        inflateInit(&s->z);
        return s;
}

/* qemu's layout: the grain directory and tables before the markers.  How
 * many grains they name (entries past 1: 0 is a hole, 1 a zero grain). */
static void count_named_grains(VmdkStream *s) {
        uint64_t per_gt = s->h.grain * s->h.gt_entries;
        uint64_t tables = s->h.capacity / per_gt + (s->h.capacity % per_gt != 0);
        for (uint64_t i = 0; i < tables; i++) {
                uint64_t at = s->h.gd_offset + 4 * i;
                if (at + 4 > s->h.data_offset)
                        return;
                uint64_t gt = (uint64_t) le32(s->front + at) * 512;
                if (gt == 0)
                        continue;
                if (gt + 4ULL * s->h.gt_entries > s->h.data_offset) {
                        s->expected = 0;        /* tables elsewhere: not counted */
                        return;
                }
                for (uint32_t k = 0; k < s->h.gt_entries; k++)
                        s->expected += le32(s->front + gt + 4 * k) > 1;
        }
}

static int flush(VmdkStream *s) {
        for (size_t pos = 0, a, b; next_data_run(s->run, s->run_len, BLOCK, &pos, &a, &b);)
                for (size_t done = a; done < b;) {
                        ssize_t w = pwrite(s->target, s->run + done, b - done, (off_t) (s->run_start + done));
                        if (w < 0 && errno == EINTR)
                                continue;
                        if (w <= 0) {
                                s->write_errno = w < 0 ? errno : ENOSPC;
                                s->error = g_strdup_printf("writing the volume failed: %s", g_strerror(errno));
                                return -1;
                        }
                        done += (size_t) w;
                        s->unsynced += (uint64_t) w;
                }
        s->run_len = 0;
        if (s->unsynced >= WRITEBACK_EVERY) {
                (void) sync_file_range(s->target, 0, 0, SYNC_FILE_RANGE_WRITE);
                s->unsynced = 0;
        }
        return 0;
}

/* A whole grain has arrived: inflate it into the run. */
static int place_grain(VmdkStream *s) {
        uint64_t at = s->lba * 512;
        if (s->lba >= s->h.capacity / 512) {
                s->error = g_strdup_printf("the vmdk is corrupt: a grain at sector %" G_GUINT64_FORMAT
                                           ", past the disk's %" G_GUINT64_FORMAT " sectors",
                                           s->lba, s->h.capacity / 512);
                return -1;
        }
        if (s->run_len > 0 && (s->run_start + s->run_len != at || s->run_len + s->h.grain > s->run_cap) && flush(s) < 0)
                return -1;
        if (s->run_len == 0)
                s->run_start = at;
        s->z.next_in = s->data;
        s->z.avail_in = (uInt) s->data_len;
        s->z.next_out = s->run + s->run_len;
        s->z.avail_out = (uInt) MIN(s->h.grain, s->h.capacity - at);
        int r = inflate(&s->z, Z_FINISH);
        size_t out = (size_t) (s->z.next_out - (s->run + s->run_len));
        inflateReset(&s->z);
        if (r != Z_STREAM_END) {
                s->error = g_strdup_printf("the vmdk is corrupt: the grain at sector %" G_GUINT64_FORMAT
                                           " does not decompress%s",
                                           s->lba, r == Z_BUF_ERROR ? " into a grain" : "");
                return -1;
        }
        s->run_len += out;
        return 0;
}

int vmdk_stream_feed(VmdkStream *s, const unsigned char *buf, size_t n, char **error) {
        if (s->pos + n > s->max_bytes) {
                s->error = g_strdup_printf("the vmdk runs past %" G_GUINT64_FORMAT
                                           " bytes, more than an image for this volume can need",
                                           s->max_bytes);
                goto fail;
        }
        s->pos += n;
        while (n > 0) {
                size_t take = 0;
                switch (s->phase) {
                case DONE:
                        return 0;       /* what follows the end-of-stream marker is not the disk */
                case SKIP:
                        take = (size_t) MIN((uint64_t) n, s->skip);
                        if (s->front)   /* the initial skip: the tables are in it */
                                memcpy(s->front + (s->h.data_offset - s->skip), buf, take);
                        s->skip -= take;
                        if (s->skip == 0)
                                s->phase = MARKER;
                        if (s->skip == 0 && s->front) {
                                count_named_grains(s);
                                g_clear_pointer(&s->front, g_free);
                        }
                        break;
                case MARKER:
                case META_TYPE: {
                        size_t want = s->phase == MARKER ? 12 : 16;
                        take = MIN(n, want - s->head_len);
                        memcpy(s->head + s->head_len, buf, take);
                        s->head_len += take;
                        if (s->head_len < want)
                                break;
                        if (s->phase == MARKER) {
                                uint32_t size = le32(s->head + 8);
                                s->lba = le64(s->head);
                                if (size == 0) {
                                        s->phase = META_TYPE;
                                        break;
                                }
                                if (size > s->data_cap) {
                                        s->error = g_strdup_printf("the vmdk is corrupt: a grain of %u "
                                                                   "compressed bytes", size);
                                        goto fail;
                                }
                                s->data_want = size;
                                s->data_len = 0;
                                s->phase = GRAIN;
                                break;
                        }
                        uint32_t type = le32(s->head + 12);
                        s->head_len = 0;
                        if (type == MARKER_EOS) {
                                s->phase = DONE;
                                break;
                        }
                        if (type > MARKER_FOOTER || s->lba > (UINT64_C(1) << 40)) {
                                s->error = g_strdup_printf("the vmdk is corrupt: a marker of type %u", type);
                                goto fail;
                        }
                        /* the rest of the marker's sector, then its metadata */
                        s->skip = 512 - 16 + s->lba * 512;
                        s->phase = SKIP;
                        break;
                }
                case GRAIN:
                        take = MIN(n, s->data_want - s->data_len);
                        memcpy(s->data + s->data_len, buf, take);
                        s->data_len += take;
                        if (s->data_len < s->data_want)
                                break;
                        if (place_grain(s) < 0)
                                goto fail;
                        s->grains++;
                        s->head_len = 0;
                        /* markers start on sectors */
                        s->skip = (512 - (12 + s->data_want) % 512) % 512;
                        s->phase = s->skip ? SKIP : MARKER;
                        break;
                }
                buf += take;
                n -= take;
        }
        return 0;
fail:
        *error = g_steal_pointer(&s->error);
        return -1;
}

int vmdk_stream_finish(VmdkStream *s, char **error) {
        bool between = s->phase == MARKER && s->head_len == 0;
        if (s->expected && s->grains != s->expected) {
                *error = g_strdup_printf("the vmdk is truncated: %" G_GUINT64_FORMAT " of the %" G_GUINT64_FORMAT
                                         " grains its tables name in its %" G_GUINT64_FORMAT " bytes",
                                         s->grains, s->expected, s->pos);
                return -1;
        }
        if (s->phase != DONE && !(between && s->h.gd_offset && s->expected)) {
                *error = g_strdup_printf("the vmdk is truncated: no end-of-stream marker in its %" G_GUINT64_FORMAT
                                         " bytes", s->pos);
                return -1;
        }
        if (flush(s) < 0) {
                *error = g_steal_pointer(&s->error);
                return -1;
        }
        return 0;
}

int vmdk_stream_write_errno(const VmdkStream *s) {
        return s->write_errno;
}

VmdkStream *vmdk_stream_free(VmdkStream *s) {
        if (!s)
                return NULL;
        inflateEnd(&s->z);
        g_free(s->front);
        g_free(s->data);
        g_free(s->run);
        g_free(s->error);
        g_free(s);
        return NULL;
}
