/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <glib.h>

#include "format.h"

/* A pull stream: read() returns bytes, 0 at the end, -1 on error with
 * the reason in error (and retryable set where trying again may help). */
typedef struct Reader Reader;
struct Reader {
        ssize_t (*read)(Reader *r, void *buf, size_t n);
        /* optional: lend up to n bytes in place (*ret into the reader's
         * own buffer) until release() of the bytes taken */
        ssize_t (*borrow)(Reader *r, const unsigned char **ret, size_t n);
        void (*release)(Reader *r, size_t n);
        void (*free)(Reader *r);
        Reader *inner;
        char error[512];
        bool retryable;
        uint64_t total;         /* bytes expected from the source, 0 if unknown */
        uint64_t consumed;      /* bytes taken from the source so far */
};

ssize_t reader_read(Reader *r, void *buf, size_t n);
/* Fill buf completely unless the stream ends; returns bytes read or -1. */
ssize_t reader_read_full(Reader *r, void *buf, size_t n);
/* The next bytes without copying them where the chain lends them (http,
 * and peeks over it: the download's ring read in place), else read into
 * buf (n bytes, filled unless the stream ends): the count, 0 at the end,
 * -1 on error; *ret the bytes.  reader_release(r, count) before the next
 * call gives them back. */
ssize_t reader_borrow(Reader *r, unsigned char *buf, size_t n, const unsigned char **ret);
void reader_release(Reader *r, size_t n);
Reader *reader_free(Reader *r);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Reader, reader_free)
/* The source's own counters, through any wrappers. */
uint64_t reader_source_consumed(Reader *r);
uint64_t reader_source_total(Reader *r);
/* The first error in the chain. */
const char *reader_error(Reader *r, bool *retryable);

/* A file descriptor (an upload, a file); total from fstat when regular.
 * idle_seconds > 0: no byte for that long is an error (retryable). */
Reader *fd_reader_new(int fd, unsigned idle_seconds);

typedef struct HttpOptions {
        const char *url;
        const char *ca_file;            /* NULL: the system's CAs */
        const char *user, *password;    /* basic auth, may be NULL */
        char **headers;                 /* "Name: value", NULL-terminated */
        const char *checksum;           /* "sha256:hex" (sha512, sha1, md5), may be NULL */
        unsigned stall_seconds;         /* no byte for that long: the connection is broken (0: 60) */
        /* before resuming a broken transfer: back off for seconds (NULL: sleep) */
        void (*wait)(unsigned seconds, const char *reason);
} HttpOptions;

/* Downloads on its own thread (libcurl) into a pipe read here.  Only http
 * and https, redirects included; TLS verified; a checksum mismatch, a
 * truncated body or an HTTP error is an error at the end of the stream. */
Reader *http_reader_new(const HttpOptions *o, char **error);

/* Keep the first n bytes of inner for inspection, then pass everything on. */
Reader *peek_reader_new(Reader *inner, size_t n, const unsigned char **ret_prefix, size_t *ret_len);

/* Decompress inner; at most limit output bytes (a bomb is an error). */
Reader *decompress_reader_new(Reader *inner, Compression c, uint64_t limit);
