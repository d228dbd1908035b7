/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* edgevirt-importer --export=VOLUME --format=raw|gzip|qcow2|sha256
 * --scratch=DIR [--checksum=sha256:HEX] [--idle-timeout=S]: a volume's
 * raw disk written to fd 0 (the client's descriptor passed to
 * VirtualMachineExport.Download), as virtctl vmexport download gets it:
 *
 * - raw: the disk's bytes; into a regular file holes stay holes (a seek),
 *   into a pipe they are zeros;
 * - gzip: the raw bytes gzip'd;
 * - qcow2: `qemu-img convert -c` (push.c's image): holes and zero blocks
 *   are not in it, data clusters compressed;
 * - sha256: nothing written, only the checksum said.
 *
 * The disk's sha256 (holes not read) is taken as it is read; with
 * --checksum the export fails when it is not that one (the disk changed
 * since the VirtualMachineExport recorded it).
 *
 * stdout: "progress DONE TOTAL" (bytes of the disk, or of the qcow2, dealt
 * with), then "exported CHECKSUM BYTES" (BYTES: written to fd 0). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "importer.h"
#include "util.h"

#define PROGRESS_INTERVAL_US (500 * 1000)

typedef struct Export {
        Sink out;
        bool seek_holes;                /* raw into a regular file */
        bool gzip;
        z_stream z;
        uint64_t done, total;
        gint64 last;
} Export;

static void say_progress(Export *x) {
        gint64 now = g_get_monotonic_time();
        if (now - x->last < PROGRESS_INTERVAL_US && x->done < x->total)
                return;
        x->last = now;
        printf("progress %" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT "\n", x->done, x->total);
        fflush(stdout);
}

static void deflate_out(Export *x, const void *data, size_t n, int flush) {
        unsigned char buf[1 << 16];
        x->z.next_in = (Bytef *) data;
        x->z.avail_in = (uInt) n;
        do {
                x->z.next_out = buf;
                x->z.avail_out = sizeof buf;
                int zr = deflate(&x->z, flush);
                if (zr == Z_STREAM_ERROR)
                        die(false, "gzip failed: %s", x->z.msg ? x->z.msg : "deflate");
                sink_put(&x->out, buf, sizeof buf - x->z.avail_out);
        } while (x->z.avail_out == 0 || (flush == Z_FINISH && x->z.avail_in));
}

static void emit(Export *x, const void *data, size_t n) {
        if (x->gzip)
                deflate_out(x, data, n, Z_NO_FLUSH);
        else
                sink_put(&x->out, data, n);
}

static void on_chunk(const void *data, size_t n, void *userdata) {
        static const unsigned char zeros[1 << 16];
        Export *x = userdata;

        if (data)
                emit(x, data, n);
        else if (x->seek_holes) {
                if (lseek(x->out.fd, (off_t) n, SEEK_CUR) < 0)
                        die(false, "cannot seek in the output: %s", g_strerror(errno));
        } else
                for (size_t left = n; left;) {
                        size_t k = MIN(left, sizeof zeros);
                        emit(x, zeros, k);
                        left -= k;
                }
        x->done += n;
        say_progress(x);
}

/* The qcow2's bytes (made in scratch) to the output. */
static void send_qcow2(Export *x, const Options *o) {
        unsigned char buf[1 << 16];
        int fd = disk_qcow2_make(o->export_path, o->scratch, true, &x->total);

        for (uint64_t off = 0; off < x->total;) {
                ssize_t k = pread(fd, buf, MIN(sizeof buf, x->total - off), (off_t) off);
                if (k <= 0)
                        die(false, "reading the qcow2 failed: %s", k < 0 ? g_strerror(errno) : "truncated");
                sink_put(&x->out, buf, (size_t) k);
                off += (uint64_t) k;
                x->done = off;
                say_progress(x);
        }
        close(fd);
        g_autofree char *qcow2 = g_build_filename(o->scratch, "disk.qcow2", NULL);
        unlink(qcow2);
}

void export_volume(const Options *o) {
        Export x = { .out = { .fd = STDIN_FILENO, .what = "the export's output" } };
        g_autofree char *checksum = NULL;
        uint64_t size;
        struct stat st = { 0 };

        signal(SIGPIPE, SIG_IGN);       /* a reader that went away: an error, not death */
        if (fstat(x.out.fd, &st) < 0 && !streq(o->format, "sha256"))
                die(false, "no output on fd 0: %s", g_strerror(errno));
        /* holes are seeked over in a regular file written where it stands (not appended to) */
        int flags = fcntl(x.out.fd, F_GETFL);
        bool regular = S_ISREG(st.st_mode) && flags >= 0 && !(flags & O_APPEND);
        off_t start = regular ? lseek(x.out.fd, 0, SEEK_CUR) : 0;
        if (!regular)
                x.out.idle_seconds = o->idle_seconds;   /* a pipe: the client must keep reading */
        /* what the file held past where it stands goes: holes seeked over
         * must read as zeros, and an older, longer file must not keep its tail */
        else if (!streq(o->format, "sha256") && (start < 0 || ftruncate(x.out.fd, start) < 0))
                die(false, "cannot empty the output from where it stands: %s", g_strerror(errno));
        if (streq(o->format, "qcow2") || streq(o->format, "sha256"))
                checksum = disk_checksum(o->export_path, &size);
        if (streq(o->format, "qcow2"))
                send_qcow2(&x, o);
        else if (streq(o->format, "raw") || streq(o->format, "gzip")) {
                x.gzip = streq(o->format, "gzip");
                x.seek_holes = regular && !x.gzip;
                if (x.gzip && deflateInit2(&x.z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
                                           Z_DEFAULT_STRATEGY) != Z_OK)
                        die(false, "gzip failed: %s", x.z.msg ? x.z.msg : "deflateInit2");
                x.total = disk_size(o->export_path);
                checksum = disk_walk(o->export_path, on_chunk, &x, &size);
                if (x.gzip) {
                        deflate_out(&x, NULL, 0, Z_FINISH);
                        deflateEnd(&x.z);
                }
                if (x.seek_holes && ftruncate(x.out.fd, start + (off_t) size) < 0)
                        die(false, "cannot size the output: %s", g_strerror(errno));
        } else if (!streq(o->format, "sha256"))
                die(false, "--format: \"%s\" is not raw, gzip, qcow2 or sha256", o->format);
        if (o->checksum && !streq(o->checksum, checksum))
                die(false, "the disk's checksum is %s, not the %s the export recorded: it changed since the export "
                    "was made (delete the VirtualMachineExport and make it again)", checksum, o->checksum);
        if (!streq(o->format, "sha256") && fsync(x.out.fd) < 0 && errno != EINVAL && errno != EROFS)
                die(false, "writing the export's output failed: %s", g_strerror(errno));
        printf("exported %s %" G_GUINT64_FORMAT "\n", checksum, x.out.bytes);
        fflush(stdout);
}
