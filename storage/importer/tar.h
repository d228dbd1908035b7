/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "stream.h"

/* The first regular file under disk/ in the tar stream inner (a layer,
 * decompressed), as a stream of its bytes; *ret_name says which.  NULL
 * with *error NULL when the layer holds no disk file, or with the reason
 * when it is not a tar archive.  A reader returned owns inner; on NULL
 * the caller still does. */
Reader *tar_disk_reader_new(Reader *inner, char **ret_name, char **error);
/* After the disk file was read to its end: the rest of the layer (so its
 * digest is checked) and no second disk file.  -1 with the reason. */
int tar_disk_reader_finish(Reader *r, char **error);

/* One entry of a tar stream (ustar, GNU long names, PAX paths): its
 * name without "./" or "/" in front; its data (size bytes, then pad) is
 * next in the stream. */
typedef struct TarEntry {
        char *name;
        uint64_t size, pad;
        bool regular;
        char *link;                     /* a hard or symbolic link's target, else NULL */
        bool symlink;
} TarEntry;
/* 1: *ret filled (the caller frees ret->name and ret->link), 0: the archive ended, -1:
 * the reason in error. */
int tar_next(Reader *inner, TarEntry *ret, char *error, size_t error_len);
/* Read and drop n bytes of inner. */
int tar_skip(Reader *inner, uint64_t n, char *error, size_t error_len);
