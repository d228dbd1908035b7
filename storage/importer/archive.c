/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Image archives (archive.h): the tar's members are listed first (read in
 * place from a regular file, else spooled into the scratch directory,
 * one file per member, named by number: a member's own name never
 * becomes a path), then the archive's own table of contents is read:
 * index.json (OCI) or manifest.json (docker-archive).  Every manifest and
 * config is checked against its digest when read; layers when streamed. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-glib/json-glib.h>

#include "archive.h"
#include "json-read.h"
#include "registry.h"
#include "tar.h"

#define MAX_MEMBERS 65536
#define MAX_JSON (4u << 20)

typedef struct Member {
        int fd;                         /* the archive, read in place; -1: spooled to path */
        char *path;
        uint64_t offset, size;
} Member;

static void member_free(Member *m) {
        g_free(m->path);
        g_free(m);
}

struct Archive {
        GHashTable *members;            /* name -> Member */
        GHashTable *links;              /* name -> the member it links to (resolved when asked) */
        int fd;                         /* the archive */
        uint64_t spooled, spool_limit;  /* bytes copied to scratch, and at most */
};

/* --- readers: a range of a file, a digest check --- */

typedef struct RangeReader {
        Reader r;
        int fd;
        bool own_fd;
        uint64_t pos, end;
} RangeReader;

static ssize_t range_read(Reader *r, void *buf, size_t n) {
        RangeReader *rr = (RangeReader *) r;
        if (rr->pos >= rr->end)
                return 0;
        for (;;) {
                ssize_t k = pread(rr->fd, buf, MIN(n, rr->end - rr->pos), (off_t) rr->pos);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0) {
                        g_snprintf(r->error, sizeof r->error, "reading the archive failed: %s", g_strerror(errno));
                        return -1;
                }
                if (k == 0) {
                        g_snprintf(r->error, sizeof r->error, "the archive is truncated");
                        return -1;
                }
                rr->pos += (uint64_t) k;
                r->consumed += (uint64_t) k;
                return k;
        }
}

static void plain_free(Reader *r) {
        g_free(r);
}

static void range_free(Reader *r) {
        RangeReader *rr = (RangeReader *) r;
        if (rr->own_fd)
                close(rr->fd);
        g_free(r);
}

static RangeReader *range_reader_new(int fd, uint64_t offset, uint64_t size) {
        RangeReader *rr = g_new0(RangeReader, 1);
        rr->r.read = range_read;
        rr->r.free = range_free;
        rr->r.total = size;
        rr->fd = fd;
        rr->pos = offset;
        rr->end = offset + size;
        return rr;
}

typedef struct DigestReader {
        Reader r;
        GChecksum *sum;
        char *want, *what;
} DigestReader;

static ssize_t digest_read(Reader *r, void *buf, size_t n) {
        DigestReader *d = (DigestReader *) r;
        ssize_t k = reader_read(r->inner, buf, n);
        if (k > 0)
                g_checksum_update(d->sum, buf, (gsize) k);
        if (k == 0 && !streq(g_checksum_get_string(d->sum), d->want + strlen("sha256:"))) {
                g_snprintf(r->error, sizeof r->error, "digest mismatch: %s should be %s but is sha256:%s", d->what,
                           d->want, g_checksum_get_string(d->sum));
                return -1;
        }
        return k;
}

static void digest_free(Reader *r) {
        DigestReader *d = (DigestReader *) r;
        g_checksum_free(d->sum);
        g_free(d->want);
        g_free(d->what);
        g_free(d);
}

static Reader *digest_reader_new(Reader *inner, const char *digest, const char *what) {
        DigestReader *d = g_new0(DigestReader, 1);
        d->r.read = digest_read;
        d->r.free = digest_free;
        d->r.inner = inner;
        d->sum = g_checksum_new(G_CHECKSUM_SHA256);
        d->want = g_strdup(digest);
        d->what = g_strdup(what);
        return &d->r;
}

/* On top of a decompressor: at its end, the compressed bytes below are
 * read to their end too (an xz decoder stops at its end marker), so the
 * digest reader there always checks them. */
typedef struct EndReader {
        Reader r;
        Reader *bottom;                 /* in the chain under inner */
} EndReader;

static ssize_t end_read(Reader *r, void *buf, size_t n) {
        EndReader *e = (EndReader *) r;
        ssize_t k = reader_read(r->inner, buf, n);
        unsigned char rest[4096];
        ssize_t m = 1;
        while (k == 0 && (m = reader_read(e->bottom, rest, sizeof rest)) > 0)
                ;
        if (m < 0) {
                g_snprintf(r->error, sizeof r->error, "%s", reader_error(e->bottom, NULL));
                return -1;
        }
        return k;
}

static bool sha256_digest(const char *s) {
        return g_str_has_prefix(s, "sha256:") && strlen(s) == 7 + 64 && strspn(s + 7, "0123456789abcdef") == 64;
}

/* --- the member list --- */

static int add_member(Archive *a, const char *name, int fd, const char *path, uint64_t offset, uint64_t size,
                      char **error) {
        if (g_hash_table_size(a->members) >= MAX_MEMBERS) {
                *error = g_strdup_printf("the archive has more than %u files", MAX_MEMBERS);
                return -1;
        }
        if (g_hash_table_contains(a->members, name)) {
                *error = g_strdup_printf("the archive holds %s twice", name);
                return -1;
        }
        Member *m = g_new0(Member, 1);
        *m = (Member) { fd, g_strdup(path), offset, size };
        g_hash_table_insert(a->members, g_strdup(name), m);
        return 0;
}

/* A link (docker save links a layer shared by two images): its target
 * as a member name; a symbolic link's is relative to its directory. */
static void add_link(Archive *a, const TarEntry *e) {
        g_autofree char *dir = e->symlink ? g_path_get_dirname(e->name) : g_strdup(".");
        g_autofree char *joined = e->link[0] == '/' || !e->symlink ? g_strdup(e->link) :
                                  g_build_filename(dir, e->link, NULL);
        g_auto(GStrv) parts = g_strsplit(joined, "/", -1);
        g_autoptr(GPtrArray) out = g_ptr_array_new();

        for (char **p = parts; *p; p++) {
                if (streq(*p, "..") && out->len)
                        g_ptr_array_remove_index(out, out->len - 1);
                else if (**p && !streq(*p, ".") && !streq(*p, ".."))
                        g_ptr_array_add(out, *p);
        }
        g_ptr_array_add(out, NULL);
        if (g_hash_table_size(a->links) < MAX_MEMBERS)
                g_hash_table_replace(a->links, g_strdup(e->name), g_strjoinv("/", (char **) out->pdata));
}

/* A regular file, uncompressed: headers read in place, data skipped. */
static int list_in_place(Archive *a, int fd, uint64_t size, char **error) {
        RangeReader *rr = range_reader_new(fd, 0, size);
        int k;

        for (;;) {
                TarEntry e;
                k = tar_next(&rr->r, &e, rr->r.error, sizeof rr->r.error);
                if (k <= 0)
                        break;
                g_autofree char *name = e.name, *link = e.link;
                if (e.size + e.pad > rr->end - rr->pos) {
                        *error = g_strdup_printf("the archive is truncated (inside %s)", name);
                        k = -2;
                        break;
                }
                if (e.regular && add_member(a, name, fd, NULL, rr->pos, e.size, error) < 0) {
                        k = -2;
                        break;
                }
                if (link)
                        add_link(a, &e);
                rr->pos += e.size + e.pad;
        }
        if (k == -1)
                *error = g_strdup_printf("%s", rr->r.error);
        reader_free(&rr->r);
        return k < 0 ? -1 : 0;
}

/* Anything else: each regular member copied into scratch/member-N. */
static int list_spooled(Archive *a, Reader *r, const char *scratch, char **error) {
        char why[512] = "";
        unsigned char buf[65536];

        for (unsigned n = 0;; n++) {
                TarEntry e;
                int k = tar_next(r, &e, why, sizeof why);
                if (k < 0) {
                        *error = g_strdup(why);
                        return -1;
                }
                if (k == 0)
                        return 0;
                g_autofree char *name = e.name;
                if (e.link)
                        add_link(a, &e);
                g_free(e.link);
                if (!e.regular) {
                        if (tar_skip(r, e.size + e.pad, why, sizeof why) < 0) {
                                *error = g_strdup(why);
                                return -1;
                        }
                        continue;
                }
                g_autofree char *path = g_strdup_printf("%s/member-%u", scratch, n);
                int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
                if (fd < 0) {
                        *error = g_strdup_printf("cannot create %s: %s", path, g_strerror(errno));
                        return -1;
                }
                a->spooled += e.size;
                if (a->spooled > a->spool_limit) {
                        close(fd);
                        *error = g_strdup_printf("the archive is larger than the %" G_GUINT64_FORMAT " bytes that "
                                                 "are spooled from a pipe or a compressed archive: pass an "
                                                 "uncompressed file", a->spool_limit);
                        return -1;
                }
                for (uint64_t left = e.size; left > 0;) {
                        ssize_t got = reader_read(r, buf, MIN(left, sizeof buf));
                        if (got <= 0) {
                                *error = got < 0 ? g_strdup(reader_error(r, NULL)) :
                                         g_strdup_printf("the archive is truncated (inside %s)", name);
                                return -1;
                        }
                        if (write(fd, buf, (size_t) got) != got) {
                                *error = g_strdup_printf("cannot write %s: %s", path, g_strerror(errno));
                                close(fd);
                                return -1;
                        }
                        left -= (uint64_t) got;
                }
                close(fd);
                if (tar_skip(r, e.pad, why, sizeof why) < 0) {
                        *error = g_strdup(why);
                        return -1;
                }
                if (add_member(a, name, -1, path, 0, e.size, error) < 0)
                        return -1;
        }
}

Archive *archive_open(int fd, const char *scratch, unsigned idle_seconds, uint64_t spool_limit, char **error) {
        g_autoptr(Archive) a = g_new0(Archive, 1);
        unsigned char head[8] = { 0 };
        struct stat st;
        int r;

        a->members = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify) member_free);
        a->links = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
        a->fd = fd;
        a->spool_limit = spool_limit;
        if (fstat(fd, &st) < 0) {
                *error = g_strdup_printf("cannot stat the archive: %s", g_strerror(errno));
                return NULL;
        }
        if (S_ISREG(st.st_mode) && pread(fd, head, sizeof head, 0) >= 0 &&
            detect_compression(head, sizeof head) == COMPRESSION_NONE)
                r = list_in_place(a, fd, (uint64_t) st.st_size, error);
        else {
                const unsigned char *prefix;
                size_t len;
                Reader *in = peek_reader_new(fd_reader_new(fd, idle_seconds), 8, &prefix, &len);
                Compression c = detect_compression(prefix, len);
                if (c != COMPRESSION_NONE)
                        in = decompress_reader_new(in, c, spool_limit + spool_limit / 8);
                r = list_spooled(a, in, scratch, error);
                reader_free(in);
        }
        if (r < 0)
                return NULL;
        if (g_hash_table_size(a->members) == 0) {
                *error = g_strdup("the archive is empty: not an image archive");
                return NULL;
        }
        return g_steal_pointer(&a);
}

Archive *archive_free(Archive *a) {
        if (!a)
                return NULL;
        g_hash_table_unref(a->members);
        g_hash_table_unref(a->links);
        g_free(a);
        return NULL;
}

/* A member by name, through at most 8 links. */
static Member *member(Archive *a, const char *name) {
        Member *m = g_hash_table_lookup(a->members, name);
        for (int i = 0; !m && name && i < 8; i++) {
                name = g_hash_table_lookup(a->links, name);
                m = name ? g_hash_table_lookup(a->members, name) : NULL;
        }
        return m;
}

static Reader *member_reader(Archive *a, const char *name, char **error) {
        Member *m = member(a, name);
        if (!m) {
                *error = g_strdup_printf("%s is not in the archive", name);
                return NULL;
        }
        if (m->fd >= 0)
                return &range_reader_new(m->fd, m->offset, m->size)->r;
        int fd = open(m->path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
                *error = g_strdup_printf("cannot open %s: %s", m->path, g_strerror(errno));
                return NULL;
        }
        RangeReader *rr = range_reader_new(fd, 0, m->size);
        rr->own_fd = true;
        return &rr->r;
}

/* A small member (a manifest, a config), whole; digest checked when given. */
static GBytes *read_json_member(Archive *a, const char *name, const char *digest, char **error) {
        Member *m = member(a, name);
        if (!m) {
                *error = g_strdup_printf("%s is not in the archive", name);
                return NULL;
        }
        if (m->size > MAX_JSON) {
                *error = g_strdup_printf("%s: %" G_GUINT64_FORMAT " bytes is too large for a manifest or config", name,
                                         m->size);
                return NULL;
        }
        g_autofree char *data = g_malloc(m->size + 1);
        Reader *r = member_reader(a, name, error);
        ssize_t n = reader_read_full(r, data, m->size);
        if (n != (ssize_t) m->size)
                *error = g_strdup_printf("%s: %s", name, n < 0 ? reader_error(r, NULL) : "truncated");
        reader_free(r);
        if (n != (ssize_t) m->size)
                return NULL;
        data[m->size] = '\0';
        if (digest) {
                g_autofree char *hex = g_compute_checksum_for_data(G_CHECKSUM_SHA256, (guchar *) data, m->size);
                if (!streq(hex, digest + strlen("sha256:"))) {
                        *error = g_strdup_printf("digest mismatch: %s is sha256:%s", name, hex);
                        return NULL;
                }
        }
        gsize len = m->size;
        return g_bytes_new_take(g_steal_pointer(&data), len);
}

/* blobs/sha256/HEX, checked against its digest. */
static GBytes *read_blob(Archive *a, const char *digest, char **error) {
        if (!sha256_digest(digest)) {
                *error = g_strdup_printf("\"%s\" is not a sha256 digest", digest);
                return NULL;
        }
        g_autofree char *name = g_strdup_printf("blobs/sha256/%s", digest + strlen("sha256:"));
        return read_json_member(a, name, digest, error);
}

static JsonNode *parse(GBytes *b, bool object, const char *what, char **error) {
        g_autoptr(GError) e = NULL;
        gsize len;
        const char *text = g_bytes_get_data(b, &len);
        JsonNode *n = object ? json_read_object(text, len, &e) : json_read(text, len, &e);
        if (!n)
                *error = g_strdup_printf("%s: not JSON%s: %s", what, object ? " object" : "", e->message);
        return n;
}

static void layer_free(ArchiveLayer *l) {
        g_free(l->member);
        g_free(l->digest);
        g_free(l);
}

static void image_free(ArchiveImage *i) {
        g_free(i->digest);
        g_ptr_array_unref(i->names);
        g_ptr_array_unref(i->layers);
        g_free(i);
}

/* Docker Hub's other spelling of name: "alpine:3" for
 * "docker.io/library/alpine:3" and back (docker save writes the short one,
 * containerd the long one; a containerDisk may say either); NULL for
 * names on other registries. */
static char *other_spelling(const char *name) {
        if (g_str_has_prefix(name, "docker.io/library/"))
                return g_strdup(name + strlen("docker.io/library/"));
        if (g_str_has_prefix(name, "docker.io/"))
                return g_strdup(name + strlen("docker.io/"));
        const char *slash = strchr(name, '/');
        g_autofree char *first = slash ? g_strndup(name, (gsize) (slash - name)) : NULL;
        if (first && (strchr(first, '.') || strchr(first, ':') || streq(first, "localhost")))
                return NULL;
        return g_strdup_printf("docker.io/%s%s", slash ? "" : "library/", name);
}

static void add_unique(GPtrArray *names, const char *name) {
        if (!g_ptr_array_find_with_equal_func(names, name, g_str_equal, NULL))
                g_ptr_array_add(names, g_strdup(name));
}

/* A name the archive gives an image: a reference, no spaces or controls;
 * a Docker Hub name in both spellings. */
static int add_name(ArchiveImage *img, const char *name, char **error) {
        if (!*name || strlen(name) > 255 || strcspn(name, " \t\r\n\v\f") != strlen(name) ||
            !g_utf8_validate(name, -1, NULL)) {
                *error = g_strdup_printf("the archive names an image \"%.64s\": not an image reference", name);
                return -1;
        }
        for (const char *p = name; *p; p++)
                if ((unsigned char) *p < 0x20 || *p == 0x7f) {
                        *error = g_strdup("the archive names an image with a control character in it");
                        return -1;
                }
        g_autofree char *other = other_spelling(name);
        add_unique(img->names, name);
        if (other)
                add_unique(img->names, other);
        return 0;
}

/* The image of digest in images, new if it is not there yet. */
static ArchiveImage *image_of(GPtrArray *images, const char *digest, bool *ret_new) {
        for (guint i = 0; i < images->len; i++) {
                ArchiveImage *img = images->pdata[i];
                if (streq(img->digest, digest)) {
                        *ret_new = false;
                        return img;
                }
        }
        ArchiveImage *img = g_new0(ArchiveImage, 1);
        img->digest = g_strdup(digest);
        img->names = g_ptr_array_new_with_free_func(g_free);
        img->layers = g_ptr_array_new_with_free_func((GDestroyNotify) layer_free);
        g_ptr_array_add(images, img);
        *ret_new = true;
        return img;
}

/* An OCI descriptor of index.json: its (linux/amd64) manifest, the
 * manifest's config checked, the layers listed. */
static int oci_image(Archive *a, GPtrArray *images, JsonObject *desc, char **error) {
        g_autofree char *digest = g_strdup(registry_string_member(desc, "digest"));
        GPtrArray *layers = NULL;

        for (int depth = 0; !layers; depth++) {
                g_autoptr(GBytes) body = read_blob(a, digest, error);
                g_autofree char *pick = NULL;
                if (!body)
                        return -1;
                gsize len;
                const char *text = g_bytes_get_data(body, &len);
                int k = registry_parse_manifest(text, len, NULL, &pick, &layers, error);
                if (k < 0)
                        return -1;
                if (k == 1 && depth > 0) {
                        *error = g_strdup("an index that points at another index is not supported");
                        return -1;
                }
                if (k == 1) {
                        g_free(digest);
                        digest = g_steal_pointer(&pick);
                        continue;
                }
                g_autoptr(JsonNode) doc = parse(body, true, digest, error);
                JsonNode *cn = doc ? json_object_get_member(json_node_get_object(doc), "config") : NULL;
                JsonObject *config = cn && JSON_NODE_HOLDS_OBJECT(cn) ? json_node_get_object(cn) : NULL;
                g_autoptr(GBytes) cb = config ? read_blob(a, registry_string_member(config, "digest"), error) : NULL;
                if (!cb) {
                        if (doc && !config)
                                *error = g_strdup_printf("the manifest %s has no config", digest);
                        g_ptr_array_unref(layers);
                        return -1;
                }
        }
        bool fresh;
        ArchiveImage *img = image_of(images, digest, &fresh);
        for (guint i = 0; fresh && i < layers->len; i++) {
                RegistryLayer *rl = layers->pdata[i];
                ArchiveLayer *l = g_new0(ArchiveLayer, 1);
                l->member = g_strdup_printf("blobs/sha256/%s", rl->digest + strlen("sha256:"));
                l->digest = g_strdup(rl->digest);
                g_ptr_array_add(img->layers, l);
        }
        g_ptr_array_unref(layers);
        /* the name: containerd's full one, else OCI's when it is a full
         * reference (not a bare tag such as "v1") */
        JsonNode *an = json_object_get_member(desc, "annotations");
        JsonObject *ann = an && JSON_NODE_HOLDS_OBJECT(an) ? json_node_get_object(an) : NULL;
        const char *name = ann ? registry_string_member(ann, "io.containerd.image.name") : "";
        if (!*name && ann) {
                name = registry_string_member(ann, "org.opencontainers.image.ref.name");
                if (!strchr(name, '/') && !strchr(name, ':'))
                        name = "";
        }
        return *name ? add_name(img, name, error) : 0;
}

static JsonArray *array_member(JsonObject *o, const char *name) {
        JsonNode *n = o ? json_object_get_member(o, name) : NULL;
        return n && JSON_NODE_HOLDS_ARRAY(n) ? json_node_get_array(n) : NULL;
}

static int oci_images(Archive *a, GPtrArray *images, char **error) {
        g_autoptr(GBytes) b = read_json_member(a, "index.json", NULL, error);
        g_autoptr(JsonNode) doc = b ? parse(b, true, "index.json", error) : NULL;
        if (!doc)
                return -1;
        JsonArray *list = array_member(json_node_get_object(doc), "manifests");
        if (!list || json_array_get_length(list) == 0) {
                *error = g_strdup("index.json lists no images");
                return -1;
        }
        for (guint i = 0; i < json_array_get_length(list); i++) {
                JsonNode *n = json_array_get_element(list, i);
                if (!JSON_NODE_HOLDS_OBJECT(n)) {
                        *error = g_strdup_printf("index.json: manifests[%u] is not an object", i);
                        return -1;
                }
                g_autofree char *why = NULL;
                if (oci_image(a, images, json_node_get_object(n), &why) < 0) {
                        *error = g_strdup_printf("index.json: manifests[%u]: %s", i, why);
                        return -1;
                }
        }
        return 0;
}

/* One entry of docker-archive's manifest.json: the config (its name,
 * when it is one, must be its digest) and the layers it lists, which
 * must match the config's diff_ids. */
static int docker_image(Archive *a, GPtrArray *images, JsonObject *o, char **error) {
        const char *config = registry_string_member(o, "Config");
        JsonArray *tags = array_member(o, "RepoTags"), *layers = array_member(o, "Layers");
        g_autoptr(GBytes) cb = read_json_member(a, config, NULL, error);
        if (!cb)
                return -1;
        gsize len;
        const char *text = g_bytes_get_data(cb, &len);
        g_autofree char *hex = g_compute_checksum_for_data(G_CHECKSUM_SHA256, (const guchar *) text, len);
        const char *base = strrchr(config, '/') ? strrchr(config, '/') + 1 : config;
        if (strspn(base, "0123456789abcdef") == 64 && strncmp(base, hex, 64) != 0) {
                *error = g_strdup_printf("digest mismatch: the config %s is sha256:%s", config, hex);
                return -1;
        }
        g_autoptr(JsonNode) doc = parse(cb, true, config, error);
        if (!doc)
                return -1;
        JsonNode *rn = json_object_get_member(json_node_get_object(doc), "rootfs");
        JsonArray *diff_ids = array_member(rn && JSON_NODE_HOLDS_OBJECT(rn) ? json_node_get_object(rn) : NULL,
                                           "diff_ids");
        guint n = layers ? json_array_get_length(layers) : 0;
        if (!diff_ids || json_array_get_length(diff_ids) != n || n == 0) {
                *error = g_strdup_printf("the config %s does not match the %u layers listed for it", config, n);
                return -1;
        }
        g_autofree char *digest = g_strdup_printf("sha256:%s", hex);
        bool fresh;
        ArchiveImage *img = image_of(images, digest, &fresh);
        for (guint i = 0; fresh && i < n; i++) {
                JsonNode *ln = json_array_get_element(layers, i), *dn = json_array_get_element(diff_ids, i);
                const char *member = JSON_NODE_HOLDS_VALUE(ln) ? json_node_get_string(ln) : NULL;
                const char *diff = JSON_NODE_HOLDS_VALUE(dn) ? json_node_get_string(dn) : NULL;
                if (!member || !diff || !sha256_digest(diff)) {
                        *error = g_strdup_printf("layer %u of %s: no file name or no sha256 diff_id", i, config);
                        return -1;
                }
                ArchiveLayer *l = g_new0(ArchiveLayer, 1);
                l->member = g_strdup(member);
                l->digest = g_strdup(diff);
                l->uncompressed_digest = true;
                g_ptr_array_add(img->layers, l);
        }
        for (guint i = 0; tags && i < json_array_get_length(tags); i++) {
                JsonNode *tn = json_array_get_element(tags, i);
                const char *tag = JSON_NODE_HOLDS_VALUE(tn) ? json_node_get_string(tn) : NULL;
                if (tag && add_name(img, tag, error) < 0)
                        return -1;
        }
        return 0;
}

static int docker_images(Archive *a, GPtrArray *images, char **error) {
        g_autoptr(GBytes) b = read_json_member(a, "manifest.json", NULL, error);
        g_autoptr(JsonNode) doc = b ? parse(b, false, "manifest.json", error) : NULL;
        if (!doc)
                return -1;
        JsonArray *list = JSON_NODE_HOLDS_ARRAY(doc) ? json_node_get_array(doc) : NULL;
        if (!list || json_array_get_length(list) == 0) {
                *error = g_strdup("manifest.json lists no images");
                return -1;
        }
        for (guint i = 0; i < json_array_get_length(list); i++) {
                JsonNode *n = json_array_get_element(list, i);
                g_autofree char *why = NULL;
                if (!JSON_NODE_HOLDS_OBJECT(n)) {
                        *error = g_strdup_printf("manifest.json: [%u] is not an object", i);
                        return -1;
                }
                if (docker_image(a, images, json_node_get_object(n), &why) < 0) {
                        *error = g_strdup_printf("manifest.json: [%u]: %s", i, why);
                        return -1;
                }
        }
        return 0;
}

GPtrArray *archive_images(Archive *a, char **error) {
        g_autoptr(GPtrArray) images = g_ptr_array_new_with_free_func((GDestroyNotify) image_free);
        int r;

        if (g_hash_table_contains(a->members, "index.json"))
                r = oci_images(a, images, error);
        else if (g_hash_table_contains(a->members, "manifest.json"))
                r = docker_images(a, images, error);
        else {
                *error = g_strdup("not an image archive: it has neither index.json (an OCI archive or layout) "
                                  "nor manifest.json (a docker-archive)");
                return NULL;
        }
        return r < 0 ? NULL : g_steal_pointer(&images);
}

Reader *archive_layer_reader(Archive *a, const ArchiveLayer *l, uint64_t limit, char **error) {
        const unsigned char *prefix;
        size_t len;
        g_autofree char *what = g_strdup_printf("the layer %s", l->member);
        Reader *r = member_reader(a, l->member, error);

        if (!r)
                return NULL;
        if (!l->uncompressed_digest)
                r = digest_reader_new(r, l->digest, what);
        Reader *bottom = r;
        r = peek_reader_new(r, 8, &prefix, &len);
        Compression c = detect_compression(prefix, len);
        if (c != COMPRESSION_NONE) {
                EndReader *e = g_new0(EndReader, 1);
                e->r.read = end_read;
                e->r.free = plain_free;
                e->r.inner = decompress_reader_new(r, c, limit);
                e->bottom = bottom;
                r = &e->r;
        }
        if (l->uncompressed_digest)
                r = digest_reader_new(r, l->digest, what);
        return r;
}
