/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <glib.h>

#include "stream.h"

/* What edgevirt-importer was asked (importer.c's head says how). */
typedef struct Options {
        char *target, *scratch, *url, *ca_file, *checksum;
        char *registry;                 /* docker://... : a containerDisk image */
        char *cache;                    /* the image cache's directory */
        char *name;                     /* --archive: the one image's name */
        bool archive;                   /* --archive: an image archive on stdin, into the cache */
        char *save;                     /* --save: this cached image, as an OCI archive to fd 0 */
        char **files;                   /* --file: with --registry --cache, these files of the image */
        char *push;                     /* --push: this volume, as a containerDisk to --registry */
        char *export_path;              /* --export: this volume, in --format, to fd 0 */
        char *format;                   /* --export: raw, gzip, qcow2 or sha256 */
        bool insecure;                  /* --insecure: the registry's TLS not verified */
        char **headers;
        uint64_t size;
        bool from_stdin;
        bool fit;                       /* target: a new file of the image's own size */
        bool for_volume;                /* fit: the cache's copy of an image going into a volume of --size */
        bool self_test;
        bool resolve;                   /* --registry: only say its digest */
        int control_fd;                 /* the daemon's "go on" after a back-off, -1: none */
        unsigned stall_seconds;         /* a server that sends nothing that long */
        unsigned idle_seconds;          /* an upload that brings nothing that long */
} Options;

/* Landlock (writes only to the target, scratch and cache) and seccomp
 * (no mounts, namespaces, modules …) for this process and its children
 * (confine.c). */
void importer_confine(const Options *o);
/* --self-test: what the confinement must refuse, tried (confine.c); the exit status. */
int importer_self_test(const Options *o);
/* The command line into o; dies on a bad one (options.c). */
void importer_parse_args(int argc, char *argv[], Options *o);
/* Say why on stderr, remove the partial file, exit 2 (retryable) or 1. */
void G_GNUC_PRINTF(2, 3) G_GNUC_NORETURN die(bool retryable, const char *fmt, ...);
/* die with r's error. */
void G_GNUC_NORETURN stream_failed(Reader *r);
/* Read a layer to its end (its digest is checked there), then free it. */
void drain_layer(Reader *r);
/* Detect compression and format from r's first bytes and write the image
 * into o->target: raw streamed, other formats converted; tar, when the
 * image is a layer's disk file, is finished (checked) at the end.  Takes r. */
void import_stream(Reader *r, const Options *o, Reader *tar);

/* --registry --cache --file=PATH... (boot-files.c): the named files of
 * the image (a kernel and initrd) into o->cache/boot/HEX/. */
void extract_boot_files(const Options *o);

struct Registry;
struct RegistryLayer;
/* The registry image o->registry: its manifest digest (said as "manifest
 * DIGEST") and layers, base first.  Dies when it cannot. */
void registry_open(const Options *o, struct Registry *g, char **ret_digest, GPtrArray **ret_layers);
/* One layer's blob, digest checked at its end, decompressed. */
Reader *registry_layer_open(const Options *o, struct Registry *g, struct RegistryLayer *l);
/* The disk file of the image's layers, from the top down; *ret_tar the
 * tar reader to finish once it is read. */
Reader *registry_disk(const Options *o, struct Registry *g, GPtrArray *layers, Reader **ret_tar);
HttpOptions http_options(const Options *o, const char *url);

/* qemu-img with argv; its stdout.  limit_cpu: under the limits for
 * untrusted headers.  Dies when it fails. */
char *run_qemu_img(char **argv, bool limit_cpu);

/* Where bytes go (archive-save.c): a digest being computed, or a file
 * descriptor (a client's: a pipe or a file). */
typedef struct Sink {
        GChecksum *sum;
        int fd;
        unsigned idle_seconds;          /* a reader that takes nothing that long: fail (0: wait) */
        uint64_t bytes;
        const char *what;               /* in errors: "the archive" when NULL */
} Sink;
/* n bytes into s; dies when they cannot go. */
void sink_put(Sink *s, const void *data, size_t n);

/* The raw disk at path as a qcow2 in scratch (compress: its data clusters
 * compressed; holes and zeros are not in it): its open fd and size. */
int disk_qcow2_make(const char *path, const char *scratch, bool compress, uint64_t *ret_size);

/* A containerDisk image of a raw disk (archive-save.c): one layer, an
 * uncompressed tar of disk/ and disk/disk.qcow2 (owned by 107, KubeVirt's
 * qemu user), its config and manifest; fixed bytes (times 0, key order),
 * so one disk always makes one image. */
#define DISK_IMAGE_MANIFEST_TYPE "application/vnd.oci.image.manifest.v1+json"
typedef struct DiskImage {
        int fd;                         /* the qcow2 in scratch */
        uint64_t qcow2_size;
        char *layer;                    /* the layer's digest */
        uint64_t layer_size;
        char *config, *config_digest;
        char *manifest, *manifest_digest;
} DiskImage;
/* Dies when qemu-img does. */
void disk_image_make(DiskImage *img, const char *path, const char *scratch, bool compress, const char *annotations);
/* The layer's bytes to fd (idle_seconds: as --idle-timeout, 0: block). */
void disk_image_write_layer(const DiskImage *img, int fd, unsigned idle_seconds);
void disk_image_clear(DiskImage *img);

/* --save (archive-save.c): o->save written to fd 0 as an OCI archive of
 * one image named o->name; says "saved DIGEST" (the manifest's). */
void save_archive(const Options *o);

/* "sha256:HEX" of the raw disk at path (holes not read), its size. */
/* The volume's size in bytes (a block device's too); dies when it cannot be read. */
uint64_t disk_size(const char *path);
char *disk_checksum(const char *path, uint64_t *ret_size);
/* The raw disk at path, in order: data as it is read (data, n), holes and
 * zeros the file system knows of as (NULL, n) without reading them. */
typedef void (*DiskChunk)(const void *data, size_t n, void *userdata);
/* As disk_checksum, each chunk also given to chunk. */
char *disk_walk(const char *path, DiskChunk chunk, void *userdata, uint64_t *ret_size);

/* --export (export.c): o->export's raw disk written to fd 0 in
 * o->format (raw, gzip, qcow2; sha256: only hashed); says "progress DONE
 * TOTAL" and "exported CHECKSUM BYTES".  o->checksum: what the disk must
 * hash to (it changed since the export was made otherwise). */
void export_volume(const Options *o);

/* --push (push.c): o->push's raw disk pushed as a containerDisk to the
 * repository o->registry, tagged by its content; says "pushed IMAGE DIGEST
 * CHECKSUM UPLOADED". */
void push_image(const Options *o);

/* --archive (archive-load.c): the image archive on stdin into o->cache. */
void load_archive(const Options *o);
