/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <bzlib.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <lzma.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include <glib.h>

#include "stream.h"

#define IN_CHUNK (256 * 1024)

static ssize_t fail(Reader *r, bool retryable, const char *fmt, ...) G_GNUC_PRINTF(3, 4);
static ssize_t fail(Reader *r, bool retryable, const char *fmt, ...) {
        va_list ap;
        if (!r->error[0]) {
                va_start(ap, fmt);
                vsnprintf(r->error, sizeof r->error, fmt, ap);
                va_end(ap);
                r->retryable = retryable;
        }
        return -1;
}

ssize_t reader_read(Reader *r, void *buf, size_t n) {
        return r->read(r, buf, n);
}

ssize_t reader_read_full(Reader *r, void *buf, size_t n) {
        size_t done = 0;
        while (done < n) {
                ssize_t k = r->read(r, (char *) buf + done, n - done);
                if (k < 0)
                        return -1;
                if (k == 0)
                        break;
                done += (size_t) k;
        }
        return (ssize_t) done;
}

ssize_t reader_borrow(Reader *r, unsigned char *buf, size_t n, const unsigned char **ret) {
        if (r->borrow)
                return r->borrow(r, ret, n);
        *ret = buf;
        return reader_read_full(r, buf, n);
}

void reader_release(Reader *r, size_t n) {
        if (r->release)
                r->release(r, n);
}

Reader *reader_free(Reader *r) {
        while (r) {
                Reader *inner = r->inner;
                r->free(r);
                r = inner;
        }
        return NULL;
}

static Reader *source_of(Reader *r) {
        while (r->inner)
                r = r->inner;
        return r;
}

uint64_t reader_source_consumed(Reader *r) {
        return source_of(r)->consumed;
}

uint64_t reader_source_total(Reader *r) {
        return source_of(r)->total;
}

const char *reader_error(Reader *r, bool *retryable) {
        /* the innermost error is the cause */
        const char *e = NULL;
        for (; r; r = r->inner)
                if (r->error[0]) {
                        e = r->error;
                        if (retryable)
                                *retryable = r->retryable;
                }
        return e;
}

/* --- file descriptors --- */

/* An upload must bring at least this much in every idle_seconds: one that
 * trickles a byte now and then would hold its import slot for ever. */
#define UPLOAD_MIN_BYTES_PER_WINDOW (64 * 1024)

typedef struct FdReader {
        Reader r;
        int fd;
        unsigned idle_seconds;
        gint64 window_end;              /* monotonic µs: UPLOAD_MIN_BYTES_PER_WINDOW by then */
        uint64_t window_bytes;
        gint64 last_byte;               /* monotonic µs of the last read that brought some */
} FdReader;

/* Wait until fd has something (or its end), at most until the window ends. */
static ssize_t fd_wait(FdReader *f) {
        struct pollfd p = { .fd = f->fd, .events = POLLIN };
        if (!f->window_end)
                f->window_end = g_get_monotonic_time() + (gint64) f->idle_seconds * G_USEC_PER_SEC;
        for (;;) {
                gint64 left = f->window_end - g_get_monotonic_time();
                int k = left > 0 ? poll(&p, 1, (int) MIN((left + 999) / 1000, G_MAXINT)) : 0;
                if (k > 0)
                        return 0;
                gint64 silent = g_get_monotonic_time() - (f->last_byte ? f->last_byte : f->window_end -
                                                          (gint64) f->idle_seconds * G_USEC_PER_SEC);
                if (k == 0 && silent >= (gint64) f->idle_seconds * G_USEC_PER_SEC)
                        return fail(&f->r, true, "upload idle for %u s: no data received", f->idle_seconds);
                if (k == 0)
                        return fail(&f->r, true, "upload too slow: %" G_GUINT64_FORMAT " bytes in %u s (at least "
                                    "%u KiB every %u s are needed)", f->window_bytes, f->idle_seconds,
                                    UPLOAD_MIN_BYTES_PER_WINDOW / 1024, f->idle_seconds);
                if (errno != EINTR)
                        return fail(&f->r, false, "poll failed: %s", g_strerror(errno));
        }
}

static ssize_t fd_read(Reader *r, void *buf, size_t n) {
        FdReader *f = (FdReader *) r;
        for (;;) {
                if (f->idle_seconds && fd_wait(f) < 0)
                        return -1;
                ssize_t k = read(f->fd, buf, n);
                if (k >= 0) {
                        r->consumed += (uint64_t) k;
                        f->window_bytes += (uint64_t) k;
                        if (k > 0)
                                f->last_byte = g_get_monotonic_time();
                        if (f->window_bytes >= UPLOAD_MIN_BYTES_PER_WINDOW) {
                                f->window_bytes = 0;    /* enough for this window: the next starts */
                                f->window_end = 0;
                        }
                        return k;
                }
                if (errno != EINTR)
                        return fail(r, false, "read failed: %s", g_strerror(errno));
        }
}

static void fd_free(Reader *r) {
        g_free(r);
}

Reader *fd_reader_new(int fd, unsigned idle_seconds) {
        FdReader *f = g_new0(FdReader, 1);
        struct stat st;
        f->r.read = fd_read;
        f->r.free = fd_free;
        f->fd = fd;
        if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
                f->r.total = (uint64_t) st.st_size;
        else
                f->idle_seconds = idle_seconds;         /* a file never waits */
        return &f->r;
}

/* --- http: libcurl on a thread, into a ring buffer --- */

/* Between the download thread and the reader: a ring of RING bytes under
 * a mutex (a pipe cost two system calls per 16 KiB, curl's most per
 * callback, which showed in every import). */
#define RING (4u << 20)

typedef struct HttpReader {
        Reader r;
        pthread_mutex_t lock;
        pthread_cond_t more, room;
        unsigned char *ring;
        size_t head, fill;              /* read position, bytes in the ring */
        size_t want;                    /* the reader sleeps until this much is there */
        bool eof;                       /* the download thread is done */
        bool closed;                    /* the reader is gone: stop */
        pthread_t thread;
        bool joined;
        CURL *curl;
        struct curl_slist *headers;
        GChecksum *checksum;
        char *want_digest;
        char *url;
        CURLcode result;
        long status;
        char curl_error[CURL_ERROR_SIZE];
        bool write_failed;
        uint64_t delivered;     /* body bytes passed on, over all attempts */
        uint64_t skip;          /* of this attempt's body, already delivered */
        unsigned resumes;
        void (*wait)(unsigned seconds, const char *reason);
} HttpReader;

#define HTTP_RESUMES 5

static size_t on_body(char *data, size_t size, size_t nmemb, void *userdata) {
        HttpReader *h = userdata;
        size_t n = size * nmemb, done = 0;

        if (h->skip > 0) {
                /* a server without ranges sent everything again: drop what
                 * was delivered before */
                size_t k = (size_t) MIN((uint64_t) n, h->skip);
                h->skip -= k;
                data += k;
                n -= k;
                if (n == 0)
                        return size * nmemb;
        }
        h->delivered += n;
        if (h->checksum)
                g_checksum_update(h->checksum, (const guchar *) data, (gssize) n);
        pthread_mutex_lock(&h->lock);
        while (done < n) {
                while (h->fill == RING && !h->closed)
                        pthread_cond_wait(&h->room, &h->lock);
                if (h->closed) {
                        h->write_failed = true;     /* the reader went away */
                        pthread_mutex_unlock(&h->lock);
                        return 0;
                }
                size_t tail = (h->head + h->fill) % RING;
                size_t k = MIN(n - done, MIN(RING - h->fill, RING - tail));
                /* the free space is this thread's alone: copy unlocked */
                pthread_mutex_unlock(&h->lock);
                memcpy(h->ring + tail, data + done, k);
                pthread_mutex_lock(&h->lock);
                h->fill += k;
                done += k;
                if (h->fill >= h->want)
                        pthread_cond_signal(&h->more);
        }
        pthread_mutex_unlock(&h->lock);
        return size * nmemb;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *userdata) {
        HttpReader *h = userdata;
        curl_off_t len = -1;
        /* the length of the final response (after redirects) */
        if (curl_easy_getinfo(h->curl, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &len) == CURLE_OK && len > 0)
                h->r.total = (uint64_t) len;
        return size * nmemb;
}

/* Errors of the connection, not of the request: a resumed transfer may
 * get past them. */
static bool resumable(CURLcode r) {
        return r == CURLE_PARTIAL_FILE || r == CURLE_RECV_ERROR || r == CURLE_SEND_ERROR ||
               r == CURLE_OPERATION_TIMEDOUT || r == CURLE_GOT_NOTHING || r == CURLE_HTTP2_STREAM;
}

static void *http_thread(void *userdata) {
        HttpReader *h = userdata;
        bool ranges = true;
        for (;;) {
                h->result = curl_easy_perform(h->curl);
                curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &h->status);
                if (h->result == CURLE_RANGE_ERROR && ranges) {
                        /* no ranges here: ask for all of it again, and skip
                         * what was delivered (on_body) */
                        ranges = false;
                } else if (h->write_failed || !resumable(h->result) || h->delivered == 0 || h->resumes >= HTTP_RESUMES)
                        break;
                h->resumes++;
                unsigned seconds = 1u << MIN(h->resumes - 1, 3u);
                if (h->wait)
                        h->wait(seconds, h->curl_error[0] ? h->curl_error : curl_easy_strerror(h->result));
                else
                        g_usleep((gulong) seconds * G_USEC_PER_SEC);
                h->curl_error[0] = 0;
                h->skip = ranges ? 0 : h->delivered;
                curl_easy_setopt(h->curl, CURLOPT_RESUME_FROM_LARGE, (curl_off_t) (ranges ? h->delivered : 0));
        }
        pthread_mutex_lock(&h->lock);
        h->eof = true;
        pthread_cond_signal(&h->more);
        pthread_mutex_unlock(&h->lock);
        return NULL;
}

static ssize_t http_finish(HttpReader *h) {
        Reader *r = &h->r;
        if (!h->joined) {
                pthread_join(h->thread, NULL);
                h->joined = true;
        }
        if (h->result != CURLE_OK) {
                bool retryable = h->result != CURLE_HTTP_RETURNED_ERROR || h->status >= 500 || h->status == 429;
                if (h->result == CURLE_HTTP_RETURNED_ERROR)
                        return fail(r, retryable, "%s: HTTP status %ld", h->url, h->status);
                if (h->result == CURLE_UNSUPPORTED_PROTOCOL || h->result == CURLE_TOO_MANY_REDIRECTS)
                        return fail(r, false, "%s: %s", h->url,
                                    h->curl_error[0] ? h->curl_error : curl_easy_strerror(h->result));
                if (h->result == CURLE_PEER_FAILED_VERIFICATION || h->result == CURLE_SSL_CACERT_BADFILE)
                        return fail(r, false, "%s: TLS verification failed: %s", h->url,
                                    h->curl_error[0] ? h->curl_error : curl_easy_strerror(h->result));
                return fail(r, true, "%s: %s", h->url,
                            h->curl_error[0] ? h->curl_error : curl_easy_strerror(h->result));
        }
        if (h->checksum && h->want_digest) {
                const char *got = g_checksum_get_string(h->checksum);
                if (g_ascii_strcasecmp(got, h->want_digest) != 0)
                        return fail(r, false, "checksum mismatch: expected %s, got %s", h->want_digest, got);
        }
        return 0;
}

static ssize_t http_read(Reader *r, void *buf, size_t n) {
        HttpReader *h = (HttpReader *) r;
        size_t k = 0;
        pthread_mutex_lock(&h->lock);
        /* wake once per big piece, not per callback of curl's */
        h->want = MIN(n, (size_t) RING / 4);
        while (h->fill < h->want && !h->eof)
                pthread_cond_wait(&h->more, &h->lock);
        /* what is there, in at most two pieces; the filled space is this
         * thread's alone: copied unlocked */
        while (k < n && h->fill > 0) {
                size_t piece = MIN(n - k, MIN(h->fill, RING - h->head)), head = h->head;
                pthread_mutex_unlock(&h->lock);
                memcpy((unsigned char *) buf + k, h->ring + head, piece);
                pthread_mutex_lock(&h->lock);
                h->head = (head + piece) % RING;
                h->fill -= piece;
                k += piece;
                pthread_cond_signal(&h->room);
        }
        pthread_mutex_unlock(&h->lock);
        if (k == 0)
                return http_finish(h);
        r->consumed += (uint64_t) k;
        return (ssize_t) k;
}

/* What http_read copies, lent in place: the ring's filled space is the
 * reader's alone until released, so the download goes on around it. */
static ssize_t http_borrow(Reader *r, const unsigned char **ret, size_t n) {
        HttpReader *h = (HttpReader *) r;
        pthread_mutex_lock(&h->lock);
        h->want = MIN(n, (size_t) RING / 4);
        while (h->fill < h->want && !h->eof)
                pthread_cond_wait(&h->more, &h->lock);
        size_t piece = MIN(n, MIN(h->fill, RING - h->head));
        *ret = h->ring + h->head;
        pthread_mutex_unlock(&h->lock);
        return piece > 0 ? (ssize_t) piece : http_finish(h);
}

static void http_release(Reader *r, size_t n) {
        HttpReader *h = (HttpReader *) r;
        pthread_mutex_lock(&h->lock);
        h->head = (h->head + n) % RING;
        h->fill -= n;
        pthread_cond_signal(&h->room);
        pthread_mutex_unlock(&h->lock);
        r->consumed += (uint64_t) n;
}

static void http_free(Reader *r) {
        HttpReader *h = (HttpReader *) r;
        pthread_mutex_lock(&h->lock);
        h->closed = true;               /* a running transfer stops writing */
        pthread_cond_signal(&h->room);
        pthread_mutex_unlock(&h->lock);
        if (!h->joined)
                pthread_join(h->thread, NULL);
        pthread_mutex_destroy(&h->lock);
        pthread_cond_destroy(&h->more);
        pthread_cond_destroy(&h->room);
        g_free(h->ring);
        curl_easy_cleanup(h->curl);
        curl_slist_free_all(h->headers);
        if (h->checksum)
                g_checksum_free(h->checksum);
        g_free(h->want_digest);
        g_free(h->url);
        g_free(h);
}

Reader *http_reader_new(const HttpOptions *o, char **error) {
        HttpReader *h = g_new0(HttpReader, 1);

        h->r.read = http_read;
        h->r.borrow = http_borrow;
        h->r.release = http_release;
        h->r.free = http_free;
        pthread_mutex_init(&h->lock, NULL);
        pthread_cond_init(&h->more, NULL);
        pthread_cond_init(&h->room, NULL);
        h->ring = g_malloc(RING);
        h->url = g_strdup(o->url);
        h->wait = o->wait;
        h->joined = true;
        if (o->checksum) {
                const char *colon = strchr(o->checksum, ':');
                g_autofree char *algo = colon ? g_strndup(o->checksum, colon - o->checksum) : NULL;
                GChecksumType t;
                if (!algo)
                        goto bad_checksum;
                if (g_str_equal(algo, "sha256")) t = G_CHECKSUM_SHA256;
                else if (g_str_equal(algo, "sha512")) t = G_CHECKSUM_SHA512;
                else if (g_str_equal(algo, "sha1")) t = G_CHECKSUM_SHA1;
                else if (g_str_equal(algo, "md5")) t = G_CHECKSUM_MD5;
                else goto bad_checksum;
                h->checksum = g_checksum_new(t);
                h->want_digest = g_strdup(colon + 1);
        }
        h->curl = curl_easy_init();
        curl_easy_setopt(h->curl, CURLOPT_URL, o->url);
        curl_easy_setopt(h->curl, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(h->curl, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(h->curl, CURLOPT_FOLLOWLOCATION, 1L);
        curl_easy_setopt(h->curl, CURLOPT_MAXREDIRS, 10L);
        curl_easy_setopt(h->curl, CURLOPT_FAILONERROR, 1L);
        curl_easy_setopt(h->curl, CURLOPT_ERRORBUFFER, h->curl_error);
        curl_easy_setopt(h->curl, CURLOPT_BUFFERSIZE, 512L * 1024);     /* fewer, bigger receives */
        curl_easy_setopt(h->curl, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(h->curl, CURLOPT_WRITEDATA, h);
        curl_easy_setopt(h->curl, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(h->curl, CURLOPT_HEADERDATA, h);
        curl_easy_setopt(h->curl, CURLOPT_SSL_VERIFYPEER, 1L);
        curl_easy_setopt(h->curl, CURLOPT_SSL_VERIFYHOST, 2L);
        curl_easy_setopt(h->curl, CURLOPT_CONNECTTIMEOUT, 30L);
        curl_easy_setopt(h->curl, CURLOPT_LOW_SPEED_LIMIT, 1L);      /* a stalled server */
        curl_easy_setopt(h->curl, CURLOPT_LOW_SPEED_TIME, (long) (o->stall_seconds ? o->stall_seconds : 60));
        curl_easy_setopt(h->curl, CURLOPT_USERAGENT, "edgevirt-importer");
        if (o->ca_file)
                curl_easy_setopt(h->curl, CURLOPT_CAINFO, o->ca_file);
        if (o->user || o->password) {
                curl_easy_setopt(h->curl, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
                curl_easy_setopt(h->curl, CURLOPT_USERNAME, o->user ? o->user : "");
                curl_easy_setopt(h->curl, CURLOPT_PASSWORD, o->password ? o->password : "");
        }
        for (char **hd = o->headers; hd && *hd; hd++)
                h->headers = curl_slist_append(h->headers, *hd);
        if (h->headers)
                curl_easy_setopt(h->curl, CURLOPT_HTTPHEADER, h->headers);
        if (pthread_create(&h->thread, NULL, http_thread, h) != 0) {
                *error = g_strdup("cannot start the download thread");
                http_free(&h->r);
                return NULL;
        }
        h->joined = false;
        return &h->r;

bad_checksum:
        *error = g_strdup_printf("checksum \"%s\": expected ALGORITHM:HEX with sha256, sha512, sha1 or md5",
                                 o->checksum);
        http_free(&h->r);
        return NULL;
}

/* --- peek --- */

typedef struct PeekReader {
        Reader r;
        unsigned char *prefix;
        size_t len, pos;
        bool lent_inner;        /* the last bytes lent were the inner reader's */
} PeekReader;

static ssize_t peek_read(Reader *r, void *buf, size_t n) {
        PeekReader *p = (PeekReader *) r;
        if (p->pos < p->len) {
                size_t k = MIN(n, p->len - p->pos);
                memcpy(buf, p->prefix + p->pos, k);
                p->pos += k;
                return (ssize_t) k;
        }
        ssize_t k = reader_read(r->inner, buf, n);
        return k < 0 ? fail(r, false, "%s", "") : k;
}

static ssize_t peek_borrow(Reader *r, const unsigned char **ret, size_t n) {
        PeekReader *p = (PeekReader *) r;
        p->lent_inner = p->pos >= p->len;
        if (!p->lent_inner) {
                *ret = p->prefix + p->pos;
                return (ssize_t) MIN(n, p->len - p->pos);
        }
        ssize_t k = r->inner->borrow(r->inner, ret, n);
        return k < 0 ? fail(r, false, "%s", "") : k;
}

static void peek_release(Reader *r, size_t n) {
        PeekReader *p = (PeekReader *) r;
        if (p->lent_inner)
                r->inner->release(r->inner, n);
        else
                p->pos += n;
}

static void peek_free(Reader *r) {
        PeekReader *p = (PeekReader *) r;
        g_free(p->prefix);
        g_free(p);
}

Reader *peek_reader_new(Reader *inner, size_t n, const unsigned char **ret_prefix, size_t *ret_len) {
        PeekReader *p = g_new0(PeekReader, 1);
        p->r.read = peek_read;
        if (inner->borrow) {    /* lends what its inner reader lends */
                p->r.borrow = peek_borrow;
                p->r.release = peek_release;
        }
        p->r.free = peek_free;
        p->r.inner = inner;
        p->prefix = g_malloc(n);
        ssize_t k = reader_read_full(inner, p->prefix, n);
        p->len = k > 0 ? (size_t) k : 0;
        if (k < 0)
                fail(&p->r, false, "%s", "");
        *ret_prefix = p->prefix;
        *ret_len = p->len;
        return &p->r;
}

/* --- decompression --- */

typedef struct DecompressReader {
        Reader r;
        Compression c;
        uint64_t limit, produced;
        unsigned char *in;
        size_t in_len, in_pos;
        bool in_eof, done;
        bool mid_stream;        /* input taken since the last end of stream */
        z_stream z;
        lzma_stream x;
        ZSTD_DStream *zs;
        bz_stream b;
} DecompressReader;

static int refill(DecompressReader *d) {
        if (d->in_pos < d->in_len || d->in_eof)
                return 0;
        ssize_t k = reader_read(d->r.inner, d->in, IN_CHUNK);
        if (k < 0)
                return -1;
        d->in_len = (size_t) k;
        d->in_pos = 0;
        d->in_eof = k == 0;
        return 0;
}

static ssize_t decompress_read(Reader *r, void *buf, size_t n) {
        DecompressReader *d = (DecompressReader *) r;
        size_t out = 0;

        while (out == 0 && !d->done) {
                if (refill(d) < 0)
                        return fail(r, false, "%s", "");
                const unsigned char *src = d->in + d->in_pos;
                size_t avail = d->in_len - d->in_pos, used = 0;
                bool stream_end = false;

                switch (d->c) {
                case COMPRESSION_GZIP: {
                        d->z.next_in = (Bytef *) src;
                        d->z.avail_in = (uInt) avail;
                        d->z.next_out = buf;
                        d->z.avail_out = (uInt) n;
                        int zr = inflate(&d->z, Z_NO_FLUSH);
                        if (zr != Z_OK && zr != Z_STREAM_END && !(zr == Z_BUF_ERROR && avail == 0))
                                return fail(r, false, "gzip stream is corrupt: %s",
                                            d->z.msg ? d->z.msg : "inflate failed");
                        used = avail - d->z.avail_in;
                        out = n - d->z.avail_out;
                        if (zr == Z_STREAM_END) {
                                inflateReset(&d->z);    /* concatenated members may follow */
                                stream_end = true;
                        }
                        break;
                }
                case COMPRESSION_XZ: {
                        d->x.next_in = src;
                        d->x.avail_in = avail;
                        d->x.next_out = buf;
                        d->x.avail_out = n;
                        lzma_ret xr = lzma_code(&d->x, d->in_eof ? LZMA_FINISH : LZMA_RUN);
                        if (xr != LZMA_OK && xr != LZMA_STREAM_END && !(xr == LZMA_BUF_ERROR && avail == 0))
                                return fail(r, false, "xz stream is corrupt (liblzma error %d)", (int) xr);
                        used = avail - d->x.avail_in;
                        out = n - d->x.avail_out;
                        if (xr == LZMA_STREAM_END)
                                d->done = true;
                        break;
                }
                case COMPRESSION_ZSTD: {
                        ZSTD_inBuffer ib = { src, avail, 0 };
                        ZSTD_outBuffer ob = { buf, n, 0 };
                        size_t zr = ZSTD_decompressStream(d->zs, &ob, &ib);
                        if (ZSTD_isError(zr))
                                return fail(r, false, "zstd stream is corrupt: %s", ZSTD_getErrorName(zr));
                        used = ib.pos;
                        out = ob.pos;
                        stream_end = zr == 0;
                        break;
                }
                case COMPRESSION_BZIP2: {
                        d->b.next_in = (char *) src;
                        d->b.avail_in = (unsigned) avail;
                        d->b.next_out = buf;
                        d->b.avail_out = (unsigned) n;
                        int br = BZ2_bzDecompress(&d->b);
                        if (br != BZ_OK && br != BZ_STREAM_END)
                                return fail(r, false, "bzip2 stream is corrupt (error %d)", br);
                        used = avail - d->b.avail_in;
                        out = n - d->b.avail_out;
                        if (br == BZ_STREAM_END) {
                                BZ2_bzDecompressEnd(&d->b);
                                memset(&d->b, 0, sizeof d->b);
                                BZ2_bzDecompressInit(&d->b, 0, 0);
                                stream_end = true;
                        }
                        break;
                }
                case COMPRESSION_NONE:
                        break;
                }
                d->in_pos += used;
                if (stream_end || d->done)
                        d->mid_stream = false;
                else if (used > 0)
                        d->mid_stream = true;
                if (out == 0 && used == 0 && d->in_eof && !d->done) {
                        /* the input ended: the compressed stream must have too */
                        if (d->mid_stream || d->produced == 0)
                                return fail(r, false, "the %s stream is truncated", compression_name(d->c));
                        d->done = true;
                }
        }
        d->produced += out;
        if (d->produced > d->limit)
                return fail(r, false,
                            "the %s stream expands past %" G_GUINT64_FORMAT " bytes (the target size): refused",
                            compression_name(d->c), d->limit);
        return (ssize_t) out;
}

static void decompress_free(Reader *r) {
        DecompressReader *d = (DecompressReader *) r;
        switch (d->c) {
        case COMPRESSION_GZIP: inflateEnd(&d->z); break;
        case COMPRESSION_XZ: lzma_end(&d->x); break;
        case COMPRESSION_ZSTD: ZSTD_freeDStream(d->zs); break;
        case COMPRESSION_BZIP2: BZ2_bzDecompressEnd(&d->b); break;
        case COMPRESSION_NONE: break;
        }
        g_free(d->in);
        g_free(d);
}

Reader *decompress_reader_new(Reader *inner, Compression c, uint64_t limit) {
        DecompressReader *d = g_new0(DecompressReader, 1);
        d->r.read = decompress_read;
        d->r.free = decompress_free;
        d->r.inner = inner;
        d->c = c;
        d->limit = limit;
        d->in = g_malloc(IN_CHUNK);
        switch (c) {
        case COMPRESSION_GZIP:
                inflateInit2(&d->z, 15 + 16);
                break;
        case COMPRESSION_XZ: {
                lzma_mt mt = { .threads = MAX(1u, MIN(4u, g_get_num_processors())), .memlimit_threading = 512u << 20,
                               .memlimit_stop = 1024u << 20, .flags = LZMA_CONCATENATED };
                d->x = (lzma_stream) LZMA_STREAM_INIT;
                if (lzma_stream_decoder_mt(&d->x, &mt) != LZMA_OK)
                        (void) !lzma_stream_decoder(&d->x, 1024u << 20, LZMA_CONCATENATED);
                break;
        }
        case COMPRESSION_ZSTD:
                d->zs = ZSTD_createDStream();
                ZSTD_initDStream(d->zs);
                break;
        case COMPRESSION_BZIP2:
                BZ2_bzDecompressInit(&d->b, 0, 0);
                break;
        case COMPRESSION_NONE:
                break;
        }
        return &d->r;
}
