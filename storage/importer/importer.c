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
 *   basic auth: $EDGEVIRT_IMPORT_USER, $EDGEVIRT_IMPORT_PASSWORD
 *
 * stdout, one line each: "format FORMAT COMPRESSION", "progress DONE TOTAL"
 * (source bytes; TOTAL 0 when unknown), "done BYTES".  stderr: the reason
 * on failure.  Exit 0: done; 1: failed for good; 2: failed, worth retrying.
 *
 * Raw images (also ISO) are streamed into the volume: compressed or not,
 * no temporary copy, runs of zeros not written.  Other formats are written
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
 * Confinement: no new privileges, killed with its parent, and (Landlock)
 * able to write only the target and inside the scratch directory. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <linux/landlock.h>
#include <sys/syscall.h>

#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14)        /* ABI 3; older headers lack it */
#endif

#include <curl/curl.h>
#include <glib.h>
#include <json-glib/json-glib.h>

#include "format.h"
#include "registry.h"
#include "stream.h"
#include "tar.h"

#define CHUNK (1024 * 1024)
#define BLOCK 4096
#define PROGRESS_INTERVAL_NS (200 * 1000 * 1000LL)
#define QEMU_IMG_MEMORY (1024LL * 1024 * 1024)
#define QEMU_IMG_INFO_CPU_SECONDS 30

typedef struct Options {
        char *target, *scratch, *url, *ca_file, *checksum;
        char *registry;                 /* docker://... : a containerDisk image */
        char *cache;                    /* the image cache's directory */
        char **headers;
        uint64_t size;
        bool from_stdin;
        bool fit;                       /* target: a new file of the image's own size */
} Options;

static const char *cleanup_path;        /* a partial file to remove on failure */
static bool quiet;                      /* no progress lines */

static void G_GNUC_PRINTF(2, 3) G_GNUC_NORETURN die(bool retryable, const char *fmt, ...) {
        va_list ap;
        if (cleanup_path)
                unlink(cleanup_path);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
        exit(retryable ? 2 : 1);
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
        printf("progress %" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT "\n", reader_source_consumed(r), reader_source_total(r));
        fflush(stdout);
}

static void G_GNUC_NORETURN stream_failed(Reader *r) {
        bool retryable = false;
        const char *e = reader_error(r, &retryable);
        die(retryable, "%s", e && *e ? e : "reading the image failed");
}

static bool all_zero(const unsigned char *buf, size_t n) {
        static const unsigned char zero[4096];
        for (size_t off = 0; off < n; off += sizeof zero)
                if (memcmp(buf + off, zero, MIN(sizeof zero, n - off)) != 0)
                        return false;
        return true;
}

/* Make the target read as zeros before writing (an earlier attempt may
 * have left data): files are truncated, thin volumes discarded. */
static int open_target(const Options *o) {
        struct stat st;
        int fd = open(o->target, O_WRONLY | O_CLOEXEC | (o->fit ? O_CREAT : 0), 0644);
        if (fd < 0)
                die(false, "cannot open the volume %s: %s", o->target, g_strerror(errno));
        if (fstat(fd, &st) < 0)
                die(false, "cannot stat %s: %s", o->target, g_strerror(errno));
        if (o->fit) {
                if (ftruncate(fd, 0) < 0)
                        die(false, "cannot reset %s: %s", o->target, g_strerror(errno));
        } else if (S_ISREG(st.st_mode)) {
                if (ftruncate(fd, 0) < 0 || ftruncate(fd, (off_t) o->size) < 0)
                        die(false, "cannot reset %s: %s", o->target, g_strerror(errno));
        } else if (S_ISBLK(st.st_mode)) {
                uint64_t range[2] = { 0, o->size };
                if (ioctl(fd, BLKDISCARD, range) < 0 && ioctl(fd, BLKZEROOUT, range) < 0)
                        die(false, "cannot clear %s: %s", o->target, g_strerror(errno));
        }
        return fd;
}

static void write_all(int fd, const unsigned char *buf, size_t n, uint64_t off) {
        size_t done = 0;
        while (done < n) {
                ssize_t w = pwrite(fd, buf + done, n - done, (off_t) (off + done));
                if (w < 0) {
                        if (errno == EINTR)
                                continue;
                        die(false, "writing the volume failed: %s", g_strerror(errno));
                }
                done += (size_t) w;
        }
}

static void write_raw(Reader *r, const Options *o) {
        g_autofree unsigned char *buf = g_malloc(CHUNK);
        uint64_t off = 0;
        int fd = open_target(o);

        for (;;) {
                ssize_t n = reader_read_full(r, buf, CHUNK);
                if (n < 0)
                        stream_failed(r);
                if (n == 0)
                        break;
                if (off + (uint64_t) n > o->size)
                        die(false, "the image is larger than %s: more than %" G_GUINT64_FORMAT " bytes "
                            "(%s %" G_GUINT64_FORMAT ")", o->fit ? "the image cache takes" : "the volume", off + (uint64_t) n,
                            o->fit ? "the limit is" : "the volume has", o->size);
                /* write runs of non-zero 4 KiB blocks; zero blocks stay holes */
                for (size_t pos = 0; pos < (size_t) n;) {
                        size_t blk = MIN((size_t) BLOCK, (size_t) n - pos);
                        if (all_zero(buf + pos, blk)) {
                                pos += blk;
                                continue;
                        }
                        size_t end = pos + blk;
                        while (end < (size_t) n && !all_zero(buf + end, MIN((size_t) BLOCK, (size_t) n - end)))
                                end += MIN((size_t) BLOCK, (size_t) n - end);
                        write_all(fd, buf + pos, end - pos, off + pos);
                        pos = end;
                }
                off += (uint64_t) n;
                progress(r, false);
        }
        if (o->fit && ftruncate(fd, (off_t) off) < 0)
                die(false, "cannot size %s: %s", o->target, g_strerror(errno));
        if (fsync(fd) < 0)
                die(false, "syncing the volume failed: %s", g_strerror(errno));
        close(fd);
        progress(r, true);
        printf("done %" G_GUINT64_FORMAT "\n", off);
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

static char *run_qemu_img(char **argv, bool limit_cpu) {
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

static void convert(Reader *r, ImageFormat fmt, const Options *o) {
        g_autofree char *image = g_strdup_printf("%s/image.%s", o->scratch, image_format_name(fmt));
        g_autofree unsigned char *buf = g_malloc(CHUNK);
        int fd = open(image, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

        if (fd < 0)
                die(false, "cannot create %s: %s", image, g_strerror(errno));
        for (;;) {
                ssize_t n = reader_read(r, buf, CHUNK);
                if (n < 0)
                        stream_failed(r);
                if (n == 0)
                        break;
                if (write(fd, buf, (size_t) n) != n)
                        die(false, "writing %s failed: %s", image, g_strerror(errno));
                progress(r, false);
        }
        close(fd);
        progress(r, true);

        char *info_argv[] = { "qemu-img", "info", "--output=json", "-f", (char *) image_format_name(fmt), image, NULL };
        g_autofree char *json = run_qemu_img(info_argv, true);
        g_autoptr(JsonParser) p = json_parser_new();
        if (!json_parser_load_from_data(p, json, -1, NULL) || !JSON_NODE_HOLDS_OBJECT(json_parser_get_root(p)))
                die(false, "qemu-img info gave no report");
        JsonObject *info = json_node_get_object(json_parser_get_root(p));
        if (json_object_has_member(info, "backing-filename") || json_object_has_member(info, "full-backing-filename"))
                die(false, "the %s image names a backing file (%s): refused", image_format_name(fmt),
                    json_object_get_string_member_with_default(info, "backing-filename", "?"));
        JsonObject *fs = json_object_has_member(info, "format-specific") ? json_object_get_object_member(info, "format-specific") : NULL;
        JsonObject *fsd = fs && json_object_has_member(fs, "data") ? json_object_get_object_member(fs, "data") : NULL;
        if (fsd && json_object_has_member(fsd, "data-file"))
                die(false, "the %s image names an external data file (%s): refused", image_format_name(fmt),
                    json_object_get_string_member_with_default(fsd, "data-file", "?"));
        if (fsd && json_object_has_member(fsd, "extents")) {
                /* vmdk: every extent must be inside the file itself */
                JsonArray *ext = json_object_get_array_member(fsd, "extents");
                for (guint i = 0; i < json_array_get_length(ext); i++) {
                        const char *fn = json_object_get_string_member_with_default(json_array_get_object_element(ext, i), "filename", "");
                        if (!g_str_equal(fn, image))
                                die(false, "the vmdk image refers to another file (%s): refused", fn);
                }
        }
        gint64 vsize = json_object_get_int_member_with_default(info, "virtual-size", -1);
        if (vsize < 0)
                die(false, "qemu-img info reports no virtual size");
        if ((uint64_t) vsize > o->size)
                die(false, "the image's virtual size is %" G_GINT64_FORMAT " bytes, larger than %s (%" G_GUINT64_FORMAT " bytes)",
                    vsize, o->fit ? "the image cache takes" : "the volume", o->size);

        fd = open_target(o);
        if (o->fit && ftruncate(fd, (off_t) vsize) < 0)
                die(false, "cannot size %s: %s", o->target, g_strerror(errno));
        close(fd);
        char *convert_argv[] = { "qemu-img", "convert", "-f", (char *) image_format_name(fmt), "-O", "raw", "-n",
                                 "--target-is-zero", image, o->target, NULL };
        g_free(run_qemu_img(convert_argv, false));
        unlink(image);
        if (o->fit) {
                int tfd = open(o->target, O_WRONLY | O_CLOEXEC);
                if (tfd < 0 || fsync(tfd) < 0)
                        die(false, "syncing %s failed: %s", o->target, g_strerror(errno));
                close(tfd);
        }
        printf("done %" G_GINT64_FORMAT "\n", vsize);
}

/* Landlock: from here on this process and its children (qemu-img) may
 * write only the target volume and inside the scratch directory.  Reading
 * stays open (libraries, CA bundles).  Best effort on kernels without it. */
static void confine(const Options *o) {
        int abi = (int) syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
        uint64_t write_rights = LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_REMOVE_DIR | LANDLOCK_ACCESS_FS_REMOVE_FILE |
                                LANDLOCK_ACCESS_FS_MAKE_CHAR | LANDLOCK_ACCESS_FS_MAKE_DIR | LANDLOCK_ACCESS_FS_MAKE_REG |
                                LANDLOCK_ACCESS_FS_MAKE_SOCK | LANDLOCK_ACCESS_FS_MAKE_FIFO | LANDLOCK_ACCESS_FS_MAKE_BLOCK |
                                LANDLOCK_ACCESS_FS_MAKE_SYM;
        uint64_t truncate_right = 0;

        if (abi < 1)
                return;
        if (abi >= 2)
                write_rights |= LANDLOCK_ACCESS_FS_REFER;
        if (abi >= 3)
                truncate_right = LANDLOCK_ACCESS_FS_TRUNCATE;
        struct landlock_ruleset_attr attr = { .handled_access_fs = write_rights | truncate_right };
        int ruleset = (int) syscall(SYS_landlock_create_ruleset, &attr, sizeof attr, 0);
        if (ruleset < 0)
                return;
        struct { const char *path; uint64_t rights; } allowed[] = {
                { o->scratch, write_rights | truncate_right },
                { "/dev/null", LANDLOCK_ACCESS_FS_WRITE_FILE },
                { o->target, LANDLOCK_ACCESS_FS_WRITE_FILE | truncate_right },
                { o->cache, write_rights | truncate_right },
        };
        for (size_t i = 0; i < G_N_ELEMENTS(allowed); i++) {
                if (!allowed[i].path)
                        continue;
                int fd = open(allowed[i].path, O_PATH | O_CLOEXEC);
                if (fd < 0)
                        die(false, "cannot open %s: %s", allowed[i].path, g_strerror(errno));
                struct landlock_path_beneath_attr pb = { .allowed_access = allowed[i].rights, .parent_fd = fd };
                if (syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &pb, 0) < 0)
                        die(false, "landlock rule for %s: %s", allowed[i].path, g_strerror(errno));
                close(fd);
        }
        if (syscall(SYS_landlock_restrict_self, ruleset, 0) < 0)
                die(false, "cannot confine the importer: %s", g_strerror(errno));
        close(ruleset);
}

static void parse_args(int argc, char *argv[], Options *o) {
        enum { TARGET = 0x100, SIZE, SCRATCH, URL, STDIN_, CA, HEADER, CHECKSUM, REGISTRY, CACHE };
        static const struct option opts[] = {
                { "target", required_argument, NULL, TARGET }, { "size", required_argument, NULL, SIZE },
                { "scratch", required_argument, NULL, SCRATCH }, { "url", required_argument, NULL, URL },
                { "stdin", no_argument, NULL, STDIN_ }, { "ca-file", required_argument, NULL, CA },
                { "header", required_argument, NULL, HEADER }, { "checksum", required_argument, NULL, CHECKSUM },
                { "registry", required_argument, NULL, REGISTRY }, { "cache", required_argument, NULL, CACHE },
                {}
        };
        g_autoptr(GPtrArray) headers = g_ptr_array_new();
        int c;

        while ((c = getopt_long(argc, argv, "", opts, NULL)) >= 0)
                switch (c) {
                case TARGET: o->target = optarg; break;
                case SIZE: o->size = g_ascii_strtoull(optarg, NULL, 10); break;
                case SCRATCH: o->scratch = optarg; break;
                case URL: o->url = optarg; break;
                case STDIN_: o->from_stdin = true; break;
                case CA: o->ca_file = optarg; break;
                case HEADER: g_ptr_array_add(headers, optarg); break;
                case CHECKSUM: o->checksum = optarg; break;
                case REGISTRY: o->registry = optarg; break;
                case CACHE: o->cache = optarg; break;
                default: die(false, "usage: see the head of storage/importer/importer.c");
                }
        if ((!o->target && !o->cache) || !o->size || !o->scratch || (!!o->url + !!o->from_stdin + !!o->registry) != 1)
                die(false, "edgevirt-importer: --target (or --cache), --size, --scratch and one of --url/--stdin/--registry are needed");
        if (o->cache && !o->registry)
                die(false, "edgevirt-importer: --cache is for --registry sources");
        g_ptr_array_add(headers, NULL);
        o->headers = (char **) g_ptr_array_steal(headers, NULL);
}

/* The disk of a containerDisk image: the layers of the resolved manifest
 * from the top down, each streamed (digest checked at its end),
 * decompressed and read as tar until a file under disk/ appears.  Returns
 * the reader of that file; *ret_tar is the tar reader to finish. */
static Reader *registry_disk(const Options *o, Registry *g, GPtrArray *layers, Reader **ret_tar) {
        char *error = NULL;

        for (guint i = layers->len; i-- > 0;) {
                RegistryLayer *l = layers->pdata[i];
                g_autofree char *url = registry_url(g, "blobs", l->digest);
                char *headers[] = { g->auth, NULL };
                HttpOptions h = { .url = url, .ca_file = o->ca_file, .headers = g->auth ? headers : NULL, .checksum = l->digest };
                const unsigned char *prefix;
                size_t len;
                Reader *r = http_reader_new(&h, &error);
                if (!r)
                        die(false, "layer %s: %s", l->digest, error);
                r = peek_reader_new(r, 8, &prefix, &len);
                Compression comp = detect_compression(prefix, len);
                if (comp != COMPRESSION_NONE)
                        r = decompress_reader_new(r, comp, o->size * 2 + (256u << 20));
                g_autofree char *name = NULL;
                Reader *tar = tar_disk_reader_new(r, &name, &error);
                if (tar) {
                        printf("disk %s in layer %s\n", name, l->digest);
                        fflush(stdout);
                        *ret_tar = tar;
                        return tar;
                }
                if (error) {
                        bool retryable = false;
                        const char *why = reader_error(r, &retryable);
                        die(retryable, "layer %s: %s", l->digest, why ? why : error);
                }
                /* no disk here: the layer must still be whole (digest) */
                unsigned char buf[65536];
                ssize_t n;
                while ((n = reader_read(r, buf, sizeof buf)) > 0)
                        ;
                if (n < 0)
                        stream_failed(r);
                reader_free(r);
        }
        die(false, "no disk file: the image %s has no file under /disk/", o->registry);
}

static void registry_open(const Options *o, Registry *g, char **ret_digest, GPtrArray **ret_layers) {
        char *error = NULL;

        *g = (Registry) { .ca_file = o->ca_file, .user = g_getenv("EDGEVIRT_IMPORT_USER"), .password = g_getenv("EDGEVIRT_IMPORT_PASSWORD") };
        if (registry_parse(o->registry, g, &error) < 0 || registry_resolve(g, ret_digest, ret_layers, &error) < 0)
                die(false, "%s", error);
        printf("manifest %s\n", *ret_digest);
        fflush(stdout);
}

static void import_stream(Reader *r, const Options *o, Reader *tar);

/* --registry with --cache: the image from the cache, pulled into it
 * first when it is not there; then the target, if any, filled from it. */
static void through_cache(const Options *o) {
        Registry g;
        g_autoptr(GPtrArray) layers = NULL;
        g_autofree char *digest = NULL;

        registry_open(o, &g, &digest, &layers);
        const char *hex = digest + strlen("sha256:");
        if (!g_str_has_prefix(digest, "sha256:") || strlen(hex) != 64 || strspn(hex, "0123456789abcdef") != 64)
                die(false, "the registry named the manifest %s: only sha256 digests are supported", digest);
        g_autofree char *path = g_strdup_printf("%s/%s.img", o->cache, hex);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd >= 0)
                printf("cache-hit %s\n", digest);
        else {
                g_autofree char *tmp = g_strdup_printf("%s/.%s.%d.partial", o->cache, hex, (int) getpid());
                Options c = *o;
                Reader *tar = NULL;
                struct stat st;

                c.target = tmp;
                c.fit = true;
                cleanup_path = tmp;
                Reader *r = registry_disk(&c, &g, layers, &tar);
                import_stream(r, &c, tar);
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
        registry_clear(&g);
        if (!o->target)
                return;
        struct stat st;
        if (fstat(fd, &st) < 0)
                die(false, "cannot stat %s: %s", path, g_strerror(errno));
        if ((uint64_t) st.st_size > o->size)
                die(false, "the image's virtual size is %" G_GUINT64_FORMAT " bytes, larger than the volume (%" G_GUINT64_FORMAT " bytes)",
                    (uint64_t) st.st_size, o->size);
        Reader *r = fd_reader_new(fd);
        write_raw(r, o);
        reader_free(r);
}

/* Detect compression and format from the first bytes and write the image
 * into o->target: raw streamed, other formats converted. */
static void import_stream(Reader *r, const Options *o, Reader *tar) {
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

        if (fmt == IMAGE_RAW)
                write_raw(r, o);
        else
                convert(r, fmt, o);
        if (tar) {
                char *error = NULL;
                if (tar_disk_reader_finish(tar, &error) < 0)
                        die(false, "%s", error);
        }
        reader_free(r);
}

int main(int argc, char *argv[]) {
        Options o = {};
        Reader *r, *tar = NULL;

        prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
        prctl(PR_SET_PDEATHSIG, SIGKILL);       /* never outlive the daemon */
        parse_args(argc, argv, &o);
        confine(&o);
        curl_global_init(CURL_GLOBAL_DEFAULT);

        if (o.cache) {
                through_cache(&o);
                return 0;
        }
        if (o.url) {
                char *error = NULL;
                HttpOptions h = {
                        .url = o.url, .ca_file = o.ca_file, .headers = o.headers, .checksum = o.checksum,
                        .user = g_getenv("EDGEVIRT_IMPORT_USER"), .password = g_getenv("EDGEVIRT_IMPORT_PASSWORD"),
                };
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
                r = fd_reader_new(STDIN_FILENO);
        import_stream(r, &o, tar);
        return 0;
}
