/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* edgevirt-importer: fills one volume with one image, as CDI's importer
 * does, in a process of its own (a crash or a hostile image never touches
 * the daemon).  The daemon starts one per DataVolume.
 *
 *   edgevirt-importer --target=PATH --size=BYTES --scratch=DIR
 *                     (--url=URL | --stdin) [--ca-file=FILE]
 *                     [--header="Name: value"]... [--checksum=sha256:HEX]
 *   edgevirt-importer --registry=docker://... --cache=DIR --size=BYTES
 *                     --scratch=DIR [--target=PATH]
 *   edgevirt-importer --archive --cache=DIR --size=BYTES --scratch=DIR
 *                     [--name=REFERENCE]   (the archive on stdin; archive-load.c)
 *   edgevirt-importer --save=DIR/HEX.img --name=REFERENCE --scratch=DIR
 *                     (an OCI archive to fd 0; archive-save.c)
 *   edgevirt-importer --push=VOLUME --registry=docker://HOST/REPOSITORY --scratch=DIR
 *                     [--ca-file=FILE] [--insecure]   (a containerDisk; push.c)
 *   edgevirt-importer --export=VOLUME --format=raw|gzip|qcow2|sha256 --scratch=DIR
 *                     [--checksum=sha256:HEX]   (the disk to fd 0; export.c)
 *   edgevirt-importer --registry=docker://... --resolve [--ca-file=FILE]
 *   edgevirt-importer --registry=docker://... --cache=DIR --size=BYTES
 *                     --scratch=DIR --file=/PATH...   (a kernel boot's files; boot-files.c)
 *   and [--control-fd=FD] [--stall-timeout=SECONDS] [--idle-timeout=SECONDS]
 *   basic auth: $EDGEVIRT_IMPORT_USER, $EDGEVIRT_IMPORT_PASSWORD
 *
 * --stall-timeout: a server that sends nothing that long has broken the
 * transfer (resumed with Range, as a dropped connection).  Before each
 * resumption the importer says "wait SECONDS REASON" and, with
 * --control-fd, blocks until the daemon writes a byte there (it gives our
 * import slot to others meanwhile), then says "resume".  --idle-timeout:
 * an upload (--stdin, not a regular file) that brings no byte that long
 * fails with "upload idle for N s" (exit 2).
 *
 * --resolve only asks the registry which manifest the reference names now
 * (a DataImportCron's poll): "manifest DIGEST", nothing downloaded.
 *
 * stdout, one line each: "format FORMAT COMPRESSION", "source HOW" (the
 * image read in one pass as it comes, "stream"; through a copy in the
 * scratch directory, "scratch"; in place over NBD, "nbd"), "progress DONE
 * TOTAL" (source bytes; TOTAL 0 when unknown), "spilled BYTES" (qcow2: what
 * waited in the spill file), "done BYTES".  stderr: the reason
 * on failure.  Exit 0: done; 1: failed for good; 2: failed, worth retrying.
 *
 * Raw images (also ISO) are streamed into the volume: compressed or not,
 * no temporary copy, runs of zeros not written.  So are qcow2 (qcow2.c),
 * streamOptimized vmdk (vmdk.c), vdi, dynamic vhd and vhdx (mapped.c),
 * read in one pass whatever the source.  Other formats (and layouts those
 * readers leave to qemu-img) are read in place over NBD from an http(s)
 * server that serves ranges, or written
 * to the scratch directory, inspected by qemu-img info (under CPU and
 * memory limits: refused when they name a backing file or an external data
 * file, or claim more than the volume holds) and converted by qemu-img.  A
 * decompressed stream larger than the volume is refused while it flows.
 *
 * With --cache (registry sources), the image goes through the daemon's
 * image cache: DIR/HEX.img is the disk of the manifest sha256:HEX as a
 * sparse raw file of the image's own virtual size (at most --size).  When
 * it is there already nothing is downloaded ("cache-hit DIGEST"), else it
 * is pulled into a temporary file and renamed into place ("cached DIGEST
 * VSIZE").  A --target is then filled from it; without one the import ends
 * there (a pull for VMs' containerDisks).
 *
 * Confinement: no new privileges, killed with its parent, (Landlock)
 * able to write only the target and inside the scratch directory, and
 * (seccomp) without the system calls an importer has no use for: mounts,
 * namespaces, tracing, modules, BPF, keyrings, clocks, raw sockets...
 * Children (qemu-img, nbdkit) inherit all of it.  --self-test tries what
 * is refused and says whether it was. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>


#include <curl/curl.h>
#include <glib.h>
#include <json-glib/json-glib.h>

#include "format.h"
#include "importer.h"
#include "json-read.h"
#include "qcow2.h"
#include "registry.h"
#include "stream.h"
#include "tar.h"
#include "vmdk.h"
#include "mapped.h"

#define CHUNK (1024 * 1024)
#define BLOCK 4096
#define PROGRESS_INTERVAL_NS (200 * 1000 * 1000LL)
#define QEMU_IMG_MEMORY (1024LL * 1024 * 1024)
#define QEMU_IMG_INFO_CPU_SECONDS 30


static const char *cleanup_path;        /* a partial file to remove on failure */
static const char *scratch_copy;        /* the scratch copy being converted: removed on failure */
static char *written;                   /* the volume being written: emptied on failure */
static uint64_t written_size;
static char *target_path;               /* the file or device being written, for messages */
static int control_fd = -1;             /* Options.control_fd, for the download thread */
static bool quiet;                      /* no progress lines */

static int clear_target(int fd, const Options *o);

void die(bool retryable, const char *fmt, ...) {
        va_list ap;
        if (cleanup_path)
                unlink(cleanup_path);
        if (scratch_copy)
                unlink(scratch_copy);
        if (written) {
                /* nothing half-written stays behind, and a full file
                 * system gets back what this attempt took */
                int fd = open(written, O_WRONLY | O_CLOEXEC);
                if (fd >= 0) {
                        (void) clear_target(fd, &(Options) { .size = written_size });
                        close(fd);
                }
        }
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
        exit(retryable ? 2 : 1);
}

/* Before resuming a broken transfer (the download thread): the daemon
 * takes our import slot back, gives it to whoever waits, and after the
 * back-off — once a slot is ours again — writes a byte to the control fd. */
static void wait_for_slot(unsigned seconds, const char *reason) {
        g_autofree char *why = g_strdup(reason);
        char b;
        ssize_t n;

        if (control_fd < 0) {
                g_usleep((gulong) seconds * G_USEC_PER_SEC);
                return;
        }
        g_strdelimit(why, "\r\n", ' ');
        printf("wait %u %s\n", seconds, why);
        fflush(stdout);
        while ((n = read(control_fd, &b, 1)) < 0 && errno == EINTR)
                ;
        if (n != 1)
                die(true, "the daemon stopped the transfer while it was waiting to resume (%s)", why);
        printf("resume\n");
        fflush(stdout);
}

HttpOptions http_options(const Options *o, const char *url) {
        return (HttpOptions) {
                .url = url, .ca_file = o->ca_file, .stall_seconds = o->stall_seconds, .wait = wait_for_slot,
        };
}

static long long now_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void progress(Reader *r, bool force) {
        static long long last;
        long long t = now_ns();
        if (quiet || (!force && t - last < PROGRESS_INTERVAL_NS))
                return;
        last = t;
        printf("progress %" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT "\n", reader_source_consumed(r),
               reader_source_total(r));
        fflush(stdout);
}

void stream_failed(Reader *r) {
        bool retryable = false;
        const char *e = reader_error(r, &retryable);
        die(retryable, "%s", e && *e ? e : "reading the image failed");
}

void drain_layer(Reader *r) {
        unsigned char buf[65536];
        ssize_t n;
        while ((n = reader_read(r, buf, sizeof buf)) > 0)
                ;
        if (n < 0)
                stream_failed(r);
        reader_free(r);
}

/* The target reading as zeros: a file truncated (to its size, a volume;
 * empty, a file made to fit), a block device discarded. */
static int clear_target(int fd, const Options *o) {
        struct stat st;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (o->fit || S_ISREG(st.st_mode))
                return ftruncate(fd, 0) < 0 || (!o->fit && ftruncate(fd, (off_t) o->size) < 0) ? -errno : 0;
        if (S_ISBLK(st.st_mode)) {
                uint64_t range[2] = { 0, o->size };
                if (ioctl(fd, BLKDISCARD, range) < 0 && ioctl(fd, BLKZEROOUT, range) < 0)
                        return -errno;
        }
        return 0;
}

/* Make the target read as zeros before writing (an earlier attempt may
 * have left data): files are truncated, thin volumes discarded. */
static int open_target(const Options *o) {
        int fd = open(o->target, O_WRONLY | O_CLOEXEC | (o->fit ? O_CREAT : 0), 0600);
        if (fd < 0)
                die(false, "cannot open the volume %s: %s", o->target, g_strerror(errno));
        if (clear_target(fd, o) < 0)
                die(false, "cannot clear %s: %s", o->target, g_strerror(errno));
        g_free(target_path);
        target_path = g_strdup(o->target);
        if (!o->fit) {  /* a file made to fit is cleanup_path's */
                g_free(written);
                written = g_strdup(o->target);
                written_size = o->size;
        }
        return fd;
}

/* What --size bounds, for messages. */
static const char *limit_name(const Options *o) {
        return o->fit && !o->for_volume ? "the image cache takes ([Images] MaxImageSize)" : "the volume";
}

#define WRITEBACK_EVERY (32u << 20)

/* A write to the volume failed with err. A full file system or thin pool
 * is worth another try (the daemon backs off; space may be freed
 * meanwhile), and the message says where the space ran out. */
static void G_GNUC_NORETURN die_write_failed(int err) {
        const char *target = target_path;
        if (target && (err == ENOSPC || err == EDQUOT)) {
                g_autofree char *dir = g_path_get_dirname(target);
                struct stat st;
                if (stat(target, &st) == 0 && S_ISBLK(st.st_mode))
                        die(true, "writing the volume failed: no space left on %s (%s)", target, g_strerror(err));
                die(true, "writing the volume failed: the file system of %s is full (%s)", dir, g_strerror(err));
        }
        die(false, "writing the volume failed: %s", g_strerror(err));
}

static void write_all(int fd, const unsigned char *buf, size_t n, uint64_t off) {
        static uint64_t unsynced;
        size_t done = 0;
        while (done < n) {
                ssize_t w = pwrite(fd, buf + done, n - done, (off_t) (off + done));
                if (w < 0) {
                        if (errno == EINTR)
                                continue;
                        die_write_failed(errno);
                }
                done += (size_t) w;
        }
        unsynced += n;
        if (unsynced >= WRITEBACK_EVERY) {
                /* the disk writes while the stream decodes: the fsync at
                 * the end has little left to do */
                (void) sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
                unsynced = 0;
        }
}


static void limit_child(gpointer data) {
        /* qemu-img info parses the untrusted header first: bound what it may
         * take.  convert runs only on an image info accepted, and needs
         * threads (address space) in proportion to the machine. */
        if (GPOINTER_TO_INT(data)) {
                struct rlimit mem = { QEMU_IMG_MEMORY, QEMU_IMG_MEMORY };
                struct rlimit cpu = { QEMU_IMG_INFO_CPU_SECONDS, QEMU_IMG_INFO_CPU_SECONDS };
                setrlimit(RLIMIT_AS, &mem);
                setrlimit(RLIMIT_CPU, &cpu);
        }
}

char *run_qemu_img(char **argv, bool limit_cpu) {
        g_autofree char *out = NULL, *err = NULL;
        g_autoptr(GError) e = NULL;
        int status;

        if (!g_spawn_sync(NULL, argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDIN_FROM_DEV_NULL, limit_child,
                          GINT_TO_POINTER(limit_cpu), &out, &err, &status, &e))
                die(false, "cannot run qemu-img: %s", e->message);
        if (!g_spawn_check_wait_status(status, NULL))
                die(false, "qemu-img %s refused the image: %s", argv[1], g_strstrip(err));
        return g_steal_pointer(&out);
}

/* qemu-img info on the image (a file, or an NBD export of the remote one)
 * under limits, and what it must not be: a backing file, an external data
 * file, vmdk extents elsewhere, larger than the volume.  Its virtual size. */
static gint64 inspect(const char *image, ImageFormat fmt, const Options *o) {
        char *info_argv[] = { "qemu-img", "info", "--output=json", "-f", (char *) image_format_name(fmt),
                              (char *) image, NULL };
        g_autofree char *json = run_qemu_img(info_argv, true);
        g_autoptr(JsonNode) report = json_read_object(json, strlen(json), NULL);
        if (!report)
                die(false, "qemu-img info gave no report");
        JsonObject *info = json_node_get_object(report);
        if (json_object_has_member(info, "backing-filename") || json_object_has_member(info, "full-backing-filename"))
                die(false, "the %s image names a backing file (%s): refused", image_format_name(fmt),
                    json_object_get_string_member_with_default(info, "backing-filename", "?"));
        JsonObject *fs = json_object_has_member(info, "format-specific") ?
                json_object_get_object_member(info, "format-specific") : NULL;
        JsonObject *fsd = fs && json_object_has_member(fs, "data") ? json_object_get_object_member(fs, "data") : NULL;
        if (fsd && json_object_has_member(fsd, "data-file"))
                die(false, "the %s image names an external data file (%s): refused", image_format_name(fmt),
                    json_object_get_string_member_with_default(fsd, "data-file", "?"));
        if (fsd && json_object_has_member(fsd, "extents")) {
                /* vmdk: every extent must be inside the file itself */
                JsonArray *ext = json_object_get_array_member(fsd, "extents");
                for (guint i = 0; i < json_array_get_length(ext); i++) {
                        JsonObject *extent = json_array_get_object_element(ext, i);
                        const char *fn = json_object_get_string_member_with_default(extent, "filename", "");
                        if (!g_str_equal(fn, image))
                                die(false, "the vmdk image refers to another file (%s): refused", fn);
                }
        }
        gint64 vsize = json_object_get_int_member_with_default(info, "virtual-size", -1);
        if (vsize < 0)
                die(false, "qemu-img info reports no virtual size");
        if ((uint64_t) vsize > o->size)
                die(false, "the image's virtual size is %" G_GINT64_FORMAT " bytes, larger than %s (%"
                    G_GUINT64_FORMAT " bytes)", vsize, limit_name(o), o->size);
        return vsize;
}

/* qemu-img convert failed with err on stderr.  A full file system under
 * the volume is worth another try, as for the one-pass writers (the
 * volume is emptied, the full file system named); so is an I/O error
 * reading over NBD (the server going away mid-way). */
static void G_GNUC_NORETURN convert_failed(const char *err, bool nbd) {
        if (strstr(err, "No space left on device") || strstr(err, g_strerror(ENOSPC)))
                die_write_failed(ENOSPC);
        if (strstr(err, "Disk quota exceeded") || strstr(err, g_strerror(EDQUOT)))
                die_write_failed(EDQUOT);
        die(nbd && strstr(err, "Input/output error"), "qemu-img convert failed: %s", err);
}

/* qemu-img convert; with -p in argv, its percentages become progress
 * lines (of 10000). */
static void run_convert(char **argv, bool nbd) {
        g_autoptr(GError) e = NULL;
        g_autoptr(GString) err = g_string_new(NULL);
        int out_fd, err_fd, status;
        GPid pid;
        char buf[4096];

        if (!g_spawn_async_with_pipes(NULL, argv, NULL,
                                      G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDIN_FROM_DEV_NULL,
                                      NULL, NULL, &pid, NULL, &out_fd, &err_fd, &e))
                die(false, "cannot run qemu-img: %s", e->message);
        for (;;) {
                ssize_t n = read(out_fd, buf, sizeof buf - 1);
                if (n <= 0)
                        break;
                buf[n] = '\0';
                /* "    (45.20/100%)\r": the last one counts */
                char *last = NULL;
                for (char *q = strchr(buf, '('); q; q = strchr(q + 1, '('))
                        last = q;
                double pct;
                if (last && sscanf(last, "(%lf/100%%)", &pct) == 1 && !quiet) {
                        printf("progress %u 10000\n", (unsigned) (pct * 100));
                        fflush(stdout);
                }
        }
        ssize_t n;
        while ((n = read(err_fd, buf, sizeof buf)) > 0)
                g_string_append_len(err, buf, n);
        close(out_fd);
        close(err_fd);
        waitpid(pid, &status, 0);
        if (!g_spawn_check_wait_status(status, NULL))
                convert_failed(g_strstrip(err->str), nbd);
}

static void write_converted(const char *image, ImageFormat fmt, gint64 vsize, const Options *o, bool nbd) {
        int fd = open_target(o);
        if (o->fit && ftruncate(fd, (off_t) vsize) < 0)
                die(false, "cannot size %s: %s", o->target, g_strerror(errno));
        close(fd);
        char *argv[] = { "qemu-img", "convert", nbd ? "-p" : "-q", "-f", (char *) image_format_name(fmt), "-O", "raw",
                         "-n", "--target-is-zero", (char *) image, o->target, NULL };
        run_convert(argv, nbd);
        /* qemu-img convert leaves the data in the page cache (its default
         * cache mode for the target is unsafe): on disk before "done" */
        int tfd = open(o->target, O_WRONLY | O_CLOEXEC);
        if (tfd < 0 || fsync(tfd) < 0) {
                int err = errno;
                if (tfd >= 0 && (err == ENOSPC || err == EDQUOT))
                        die_write_failed(err);
                die(false, "syncing %s failed: %s", o->target, g_strerror(err));
        }
        close(tfd);
        printf("done %" G_GINT64_FORMAT "\n", vsize);
}

/* The writers that take the stream as it comes (raw; the one-pass readers
 * qcow2.c and vmdk.c): the volume opened for an image of vsize bytes; the
 * stream fed to feed by one read loop; the volume synced, "done". */
typedef int (*FeedFn)(void *stream, const unsigned char *buf, size_t n, char **error);

static int open_for(const Options *o, uint64_t vsize) {
        if (vsize > o->size)
                die(false, "the image's virtual size is %" G_GUINT64_FORMAT " bytes, larger than %s (%"
                    G_GUINT64_FORMAT " bytes)", vsize, limit_name(o), o->size);
        int fd = open_target(o);
        if (o->fit && ftruncate(fd, (off_t) vsize) < 0)
                die(false, "cannot size %s: %s", o->target, g_strerror(errno));
        return fd;
}

/* The bytes are fed where the chain holds them when it lends them (an
 * http download's ring), else through buf. */
static void pump(Reader *r, FeedFn feed, void *stream) {
        g_autofree unsigned char *buf = g_malloc(CHUNK);
        char *error = NULL;
        for (;;) {
                const unsigned char *data;
                ssize_t n = reader_borrow(r, buf, CHUNK, &data);
                if (n < 0)
                        stream_failed(r);
                if (n == 0)
                        break;
                if (feed(stream, data, (size_t) n, &error) < 0)
                        die(false, "%s", error);
                reader_release(r, (size_t) n);
                progress(r, false);
        }
}

static void done_with(Reader *r, int fd, uint64_t vsize) {
        if (fsync(fd) < 0)
                die(false, "syncing the volume failed: %s", g_strerror(errno));
        close(fd);
        progress(r, true);
        printf("done %" G_GUINT64_FORMAT "\n", vsize);
}

/* A write that failed for want of space is retried (die_write_failed). */
static int feed_qcow2(void *q, const unsigned char *buf, size_t n, char **error) {
        int r = qcow2_stream_feed(q, buf, n, error);
        if (r < 0 && qcow2_stream_write_errno(q))
                die_write_failed(qcow2_stream_write_errno(q));
        return r;
}

static int feed_vmdk(void *v, const unsigned char *buf, size_t n, char **error) {
        int r = vmdk_stream_feed(v, buf, n, error);
        if (r < 0 && vmdk_stream_write_errno(v))
                die_write_failed(vmdk_stream_write_errno(v));
        return r;
}

/* qcow2 read in one pass as its bytes arrive (qcow2.c): from any source,
 * compressed or not, straight into the volume; only what arrives before
 * the table naming it waits in a spill file in the scratch directory. */
static void write_qcow2(Reader *r, const Qcow2Header *h, const Options *o, uint64_t max_bytes) {
        g_autofree char *spill_path = g_strdup_printf("%s/spill.qcow2", o->scratch);
        char *error = NULL;
        int fd = open_for(o, h->size);
        int spill = open(spill_path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (spill < 0)
                die(false, "cannot create %s: %s", spill_path, g_strerror(errno));
        unlink(spill_path);     /* gone with the process, whatever happens */
        Qcow2Stream *q = qcow2_stream_new(h, fd, spill, max_bytes);
        pump(r, feed_qcow2, q);
        if (qcow2_stream_finish(q, &error) < 0) {
                if (qcow2_stream_write_errno(q))
                        die_write_failed(qcow2_stream_write_errno(q));
                die(false, "%s", error);
        }
        if (qcow2_stream_spilled(q) > 0 && !quiet)
                printf("spilled %" G_GUINT64_FORMAT "\n", qcow2_stream_spilled(q));
        qcow2_stream_free(q);
        close(spill);
        done_with(r, fd, h->size);
}

/* streamOptimized vmdk (vmdk.c): each grain where its marker says. */
static void write_vmdk(Reader *r, const VmdkHeader *h, const Options *o, uint64_t max_bytes) {
        char *error = NULL;
        int fd = open_for(o, h->capacity);
        VmdkStream *v = vmdk_stream_new(h, fd, max_bytes);
        pump(r, feed_vmdk, v);
        if (vmdk_stream_finish(v, &error) < 0) {
                if (vmdk_stream_write_errno(v))
                        die_write_failed(vmdk_stream_write_errno(v));
                die(false, "%s", error);
        }
        vmdk_stream_free(v);
        done_with(r, fd, h->capacity);
}

static int feed_mapped(void *m, const unsigned char *buf, size_t n, char **error) {
        int r = mapped_stream_feed(m, buf, n, error);
        if (r < 0 && mapped_stream_write_errno(m))
                die_write_failed(mapped_stream_write_errno(m));
        return r;
}

/* vdi, dynamic vhd, vhdx (mapped.c): each block where the table before
 * it says. */
static void write_mapped(Reader *r, MappedImage *m, const Options *o, uint64_t max_bytes) {
        char *error = NULL;
        uint64_t vsize = m->size;
        int fd = open_for(o, vsize);
        MappedStream *s = mapped_stream_new(m, fd, max_bytes);
        pump(r, feed_mapped, s);
        if (mapped_stream_finish(s, &error) < 0)
                die(false, "%s", error);
        mapped_stream_free(s);
        done_with(r, fd, vsize);
}

/* The tables of a vdi, vhd or vhdx: the first bytes, as many as they
 * take (peeked: the stream still starts at 0).  0 and *m, or 1 (for
 * qemu-img). */
static int map_tables(Reader **r, ImageFormat fmt, const unsigned char *prefix, size_t len, const Options *o,
                      MappedImage *m) {
        char *error = NULL;
        uint64_t front = 0;
        int ok;
        while ((ok = mapped_plan(fmt, prefix, len, &front, &error)) == 0 && front > len) {
                size_t had = len;
                *r = peek_reader_new(*r, (size_t) front, &prefix, &len);
                if (reader_error(*r, NULL))
                        stream_failed(*r);
                if (len <= had)
                        die(false, "the %s is truncated: its tables end at byte %" G_GUINT64_FORMAT ", past its %zu",
                            mapped_format_name(fmt), front, len);
        }
        if (ok == 0)
                ok = mapped_map(fmt, prefix, len, o->size, m, &error);
        if (ok < 0)
                die(false, "%s", error);
        g_free(error);  /* 1: valid, but for qemu-img */
        return ok;
}

/* Raw: the stream as it comes, zero blocks skipped, at most o->size. */
typedef struct RawSink {
        const Options *o;
        int fd;
        uint64_t off;
} RawSink;

static int feed_raw(void *sink, const unsigned char *buf, size_t n, char **error) {
        RawSink *w = sink;
        const Options *o = w->o;
        if (w->off + n > o->size) {
                *error = g_strdup_printf("the image is larger than %s: more than %" G_GUINT64_FORMAT
                                         " bytes (%s %" G_GUINT64_FORMAT ")",
                                         limit_name(o), w->off + n,
                                         o->fit && !o->for_volume ? "the limit is" : "the volume has", o->size);
                return -1;
        }
        for (size_t pos = 0, a, b; next_data_run(buf, n, BLOCK, &pos, &a, &b);)
                write_all(w->fd, buf + a, b - a, w->off + a);
        w->off += n;
        return 0;
}

static void write_raw(Reader *r, const Options *o) {
        RawSink w = { .o = o, .fd = open_target(o) };
        pump(r, feed_raw, &w);
        if (o->fit && ftruncate(w.fd, (off_t) w.off) < 0)
                die(false, "cannot size %s: %s", o->target, g_strerror(errno));
        done_with(r, w.fd, w.off);
}

/* Formats that need random access, from a stream: through scratch space. */
static void convert(Reader *r, ImageFormat fmt, const Options *o) {
        g_autofree char *image = g_strdup_printf("%s/image.%s", o->scratch, image_format_name(fmt));
        g_autofree unsigned char *buf = g_malloc(CHUNK);
        int fd = open(image, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

        if (fd < 0)
                die(false, "cannot create %s: %s", image, g_strerror(errno));
        scratch_copy = image;
        printf("source scratch\n");
        fflush(stdout);
        for (;;) {
                ssize_t n = reader_read(r, buf, CHUNK);
                if (n < 0)
                        stream_failed(r);
                if (n == 0)
                        break;
                ssize_t w = write(fd, buf, (size_t) n);
                if (w != n) {
                        /* the scratch directory's file system full: as for the volume, another try later */
                        int err = w < 0 ? errno : ENOSPC;
                        if (err == ENOSPC || err == EDQUOT)
                                die(true, "writing the scratch copy failed: the file system of %s is full (%s)",
                                    o->scratch, g_strerror(err));
                        die(false, "writing %s failed: %s", image, g_strerror(err));
                }
                progress(r, false);
        }
        close(fd);
        progress(r, true);
        gint64 vsize = inspect(image, fmt, o);
        write_converted(image, fmt, vsize, o, false);
        unlink(image);
        scratch_copy = NULL;
}

/* An uncompressed image on an http(s) server that serves byte ranges:
 * qemu-img reads it in place through nbdkit's curl plugin (with its
 * readahead and retry filters), as CDI does: no scratch copy.  Returns
 * false (nothing done) when the server cannot be read so. */
static bool convert_remote(ImageFormat fmt, const Options *o) {
        g_autofree char *sock = g_strdup_printf("%s/nbd.sock", o->scratch);
        g_autofree char *uri = g_strdup_printf("nbd+unix:///?socket=%s", sock);
        g_autofree char *url = g_strdup_printf("url=%s", o->url);
        g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func(g_free);
        g_autoptr(GError) e = NULL;
        const char *user = g_getenv("EDGEVIRT_IMPORT_USER"), *password = g_getenv("EDGEVIRT_IMPORT_PASSWORD");
        int err_fd;
        GPid pid;

        for (const char *const *a = (const char *const[]) { "nbdkit", "--readonly", "--exit-with-parent",
                                                            "--foreground", "-U", sock, "--filter=readahead",
                                                            "--filter=retry", "curl", "protocols=http,https",
                                                            "retry-exponential=no", NULL }; *a; a++)
                g_ptr_array_add(argv, g_strdup(*a));
        g_ptr_array_add(argv, g_strdup(url));
        if (o->ca_file)
                g_ptr_array_add(argv, g_strdup_printf("cainfo=%s", o->ca_file));
        if (user && *user) {
                /* the password in a file of the scratch directory, not on a command line */
                g_autofree char *pwfile = g_strdup_printf("%s/nbd.password", o->scratch);
                if (!g_file_set_contents_full(pwfile, password ? password : "", -1, G_FILE_SET_CONTENTS_NONE, 0600, &e))
                        die(false, "%s", e->message);
                g_ptr_array_add(argv, g_strdup_printf("user=%s", user));
                g_ptr_array_add(argv, g_strdup_printf("password=+%s", pwfile));
        }
        for (char **h = o->headers; h && *h; h++)
                g_ptr_array_add(argv, g_strdup_printf("header=%s", *h));
        g_ptr_array_add(argv, NULL);
        if (!g_spawn_async_with_pipes(NULL, (char **) argv->pdata, NULL,
                                      G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDIN_FROM_DEV_NULL |
                                      G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, &pid, NULL, NULL, &err_fd, &e))
                return false;   /* no nbdkit: the scratch way */
        for (int i = 0; i < 500 && access(sock, F_OK) < 0; i++) {
                if (waitpid(pid, NULL, WNOHANG) == pid) {
                        close(err_fd);
                        return false;
                }
                g_usleep(10000);
        }
        /* can it be opened at all (a server without ranges cannot)? */
        char *probe_argv[] = { "qemu-img", "info", "-f", "raw", uri, NULL };
        g_autofree char *out = NULL, *err = NULL;
        int status = 0;
        if (!g_spawn_sync(NULL, probe_argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDIN_FROM_DEV_NULL, NULL, NULL, &out,
                          &err, &status, NULL) || !g_spawn_check_wait_status(status, NULL)) {
                kill(pid, SIGTERM);
                waitpid(pid, NULL, 0);
                close(err_fd);
                unlink(sock);
                return false;
        }
        printf("source nbd\n");
        fflush(stdout);
        gint64 vsize = inspect(uri, fmt, o);
        write_converted(uri, fmt, vsize, o, true);
        kill(pid, SIGTERM);
        waitpid(pid, NULL, 0);
        close(err_fd);
        unlink(sock);
        return true;
}

/* --registry with --cache: the image from the cache, pulled into it
 * first when it is not there; then the target, if any, filled from it. */
/* A reference pinned to a digest (…@sha256:HEX) whose image the cache has:
 * nothing to ask the registry (a host without one, its images loaded from
 * an archive).  The cache is content-addressed by that digest. */
static char *cached_pinned(const Options *o) {
        const char *at = strstr(o->registry, "@sha256:");
        const char *hex = at ? at + strlen("@sha256:") : NULL;
        g_autofree char *path = NULL;

        if (!hex || strlen(hex) != 64 || strspn(hex, "0123456789abcdef") != 64)
                return NULL;
        path = g_strdup_printf("%s/%s.img", o->cache, hex);
        return access(path, R_OK) == 0 ? g_strdup(at + 1) : NULL;
}

/* A disk edgevirt pushed is checked against the checksum its manifest
 * carries: the bytes are the ones that were pushed, end to end. */
static void verify_disk(const char *path, const char *want) {
        uint64_t size;
        if (!want)
                return;
        g_autofree char *got = disk_checksum(path, &size);
        if (!streq(got, want))
                die(false, "the disk's checksum is %s, not the %s the image's " REGISTRY_DISK_CHECKSUM
                    " annotation says: refused", got, want);
        printf("verified %s\n", got);
}

static void through_cache(const Options *o) {
        Registry g = { 0 };
        g_autoptr(GPtrArray) layers = NULL;
        g_autofree char *digest = cached_pinned(o);
        bool pinned = digest != NULL;

        if (!pinned)
                registry_open(o, &g, &digest, &layers);
        const char *hex = digest + strlen("sha256:");
        if (!g_str_has_prefix(digest, "sha256:") || strlen(hex) != 64 || strspn(hex, "0123456789abcdef") != 64)
                die(false, "the registry named the manifest %s: only sha256 digests are supported", digest);
        g_autofree char *path = g_strdup_printf("%s/%s.img", o->cache, hex);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd >= 0)
                printf("cache-hit %s\n", digest);
        else if (pinned)
                die(true, "the cached image %s went away meanwhile", digest);
        else {
                g_autofree char *tmp = g_strdup_printf("%s/.%s.%d.partial", o->cache, hex, (int) getpid());
                Options c = *o;
                Reader *tar = NULL;
                struct stat st;

                c.target = tmp;
                c.fit = true;
                c.for_volume = o->target != NULL;
                cleanup_path = tmp;
                Reader *r = registry_disk(&c, &g, layers, &tar);
                import_stream(r, &c, tar);
                verify_disk(tmp, g.disk_checksum);
                if (rename(tmp, path) < 0)
                        die(false, "cannot move the image into the cache: %s", g_strerror(errno));
                cleanup_path = NULL;
                fd = open(path, O_RDONLY | O_CLOEXEC);
                if (fd < 0 || fstat(fd, &st) < 0)
                        die(false, "cannot open %s: %s", path, g_strerror(errno));
                printf("cached %s %" G_GUINT64_FORMAT "\n", digest, (uint64_t) st.st_size);
                quiet = true;   /* the copy below is local: progress was the download's */
        }
        fflush(stdout);
        if (!pinned)
                registry_clear(&g);
        if (!o->target)
                return;
        struct stat st;
        if (fstat(fd, &st) < 0)
                die(false, "cannot stat %s: %s", path, g_strerror(errno));
        if ((uint64_t) st.st_size > o->size)
                die(false, "the image's virtual size is %" G_GUINT64_FORMAT " bytes, larger than the volume (%"
                    G_GUINT64_FORMAT " bytes)", (uint64_t) st.st_size, o->size);
        Reader *r = fd_reader_new(fd, 0);
        write_raw(r, o);
        reader_free(r);
}

/* Detect compression and format from the first bytes and write the image
 * into o->target: raw streamed, other formats converted. */
void import_stream(Reader *r, const Options *o, Reader *tar) {
        const unsigned char *prefix;
        size_t len;

        /* compression, from the first bytes */
        r = peek_reader_new(r, 8, &prefix, &len);
        if (reader_error(r, NULL))
                stream_failed(r);
        Compression comp = detect_compression(prefix, len);
        if (len == 0) {
                /* an empty body ends in an error when the source failed */
                unsigned char b;
                if (reader_read(r, &b, 1) < 0)
                        stream_failed(r);
                die(false, "the image is empty");
        }
        if (comp != COMPRESSION_NONE)
                /* a compressed image may not expand past what any format
                 * of it could need in this volume */
                r = decompress_reader_new(r, comp, o->size + o->size / 8 + (64u << 20));

        /* format, from the first decompressed bytes */
        r = peek_reader_new(r, FORMAT_PROBE_SIZE, &prefix, &len);
        if (reader_error(r, NULL))
                stream_failed(r);
        ImageFormat fmt = detect_format(prefix, len);
        printf("format %s %s\n", image_format_name(fmt), compression_name(comp));
        fflush(stdout);
        if (fmt == IMAGE_QCOW)
                die(false, "qcow (version 1) images are not supported: convert them to qcow2");

        /* what a one-pass reader takes: qcow2, streamOptimized vmdk, vdi, vhd, vhdx */
        Qcow2Header qh;
        VmdkHeader vh;
        MappedImage mi = { 0 };
        int streamable = -1;
        uint64_t max_bytes = o->size + o->size / 8 + (64u << 20);
        if (fmt == IMAGE_QCOW2 || fmt == IMAGE_VMDK) {
                char *error = NULL;
                streamable = fmt == IMAGE_QCOW2 ? qcow2_header_parse(prefix, len, &qh, &error)
                                                : vmdk_header_parse(prefix, len, &vh, &error);
                if (streamable < 0)
                        die(false, "%s", error);
                g_free(error);  /* valid, but for qemu-img */
        }
        if (mapped_format(fmt))
                streamable = map_tables(&r, fmt, prefix, len, o, &mi);

        if (fmt == IMAGE_RAW || streamable == 0) {
                printf("source stream\n");
                fflush(stdout);
        }
        if (fmt == IMAGE_RAW)
                write_raw(r, o);
        else if (streamable == 0 && fmt == IMAGE_QCOW2)
                write_qcow2(r, &qh, o, max_bytes);
        else if (streamable == 0 && mapped_format(fmt))
                write_mapped(r, &mi, o, max_bytes);
        else if (streamable == 0)
                write_vmdk(r, &vh, o, max_bytes);
        else if (o->url && !o->checksum && comp == COMPRESSION_NONE && fmt != IMAGE_VMDK) {
                /* read in place by qemu-img; the stream was only for the first bytes */
                reader_free(r);
                r = NULL;
                if (!convert_remote(fmt, o)) {
                        char *error = NULL;
                        HttpOptions h = http_options(o, o->url);
                        h.headers = o->headers;
                        h.user = g_getenv("EDGEVIRT_IMPORT_USER");
                        h.password = g_getenv("EDGEVIRT_IMPORT_PASSWORD");
                        r = http_reader_new(&h, &error);
                        if (!r)
                                die(false, "%s", error);
                        convert(r, fmt, o);
                }
        } else
                convert(r, fmt, o);
        if (tar) {
                char *error = NULL;
                if (tar_disk_reader_finish(tar, &error) < 0)
                        die(false, "%s", error);
        }
        if (r)
                reader_free(r);
}

int main(int argc, char *argv[]) {
        Options o = { .control_fd = -1 };
        Reader *r, *tar = NULL;

        sigset_t none;
        sigemptyset(&none);
        /* the daemon blocks the signals its event loop takes; a blocked
         * SIGTERM would be inherited by nbdkit and qemu-img too */
        sigprocmask(SIG_SETMASK, &none, NULL);
        prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
        prctl(PR_SET_PDEATHSIG, SIGKILL);       /* never outlive the daemon */
        importer_parse_args(argc, argv, &o);
        control_fd = o.control_fd;
        importer_confine(&o);
        if (o.self_test)
                return importer_self_test(&o);
        curl_global_init(CURL_GLOBAL_DEFAULT);

        if (o.archive) {
                load_archive(&o);
                return 0;
        }
        if (o.save) {
                save_archive(&o);
                return 0;
        }
        if (o.push) {
                push_image(&o);
                return 0;
        }
        if (o.export_path) {
                export_volume(&o);
                return 0;
        }
        if (o.resolve) {
                Registry g;
                g_autoptr(GPtrArray) layers = NULL;
                g_autofree char *digest = NULL;
                registry_open(&o, &g, &digest, &layers);
                registry_clear(&g);
                return 0;
        }
        if (o.files) {
                extract_boot_files(&o);
                return 0;
        }
        if (o.cache) {
                through_cache(&o);
                return 0;
        }
        if (o.url) {
                char *error = NULL;
                HttpOptions h = http_options(&o, o.url);
                h.headers = o.headers;
                h.checksum = o.checksum;
                h.user = g_getenv("EDGEVIRT_IMPORT_USER");
                h.password = g_getenv("EDGEVIRT_IMPORT_PASSWORD");
                r = http_reader_new(&h, &error);
                if (!r)
                        die(false, "%s", error);
        } else if (o.registry) {
                Registry g;
                g_autoptr(GPtrArray) layers = NULL;
                g_autofree char *digest = NULL;
                registry_open(&o, &g, &digest, &layers);
                r = registry_disk(&o, &g, layers, &tar);
                registry_clear(&g);
        } else
                r = fd_reader_new(STDIN_FILENO, o.idle_seconds);
        import_stream(r, &o, tar);
        return 0;
}
