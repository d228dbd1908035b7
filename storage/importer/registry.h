/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <glib.h>
#include <json-glib/json-glib.h>

#define streq(a, b) (strcmp((a), (b)) == 0)

/* The manifest annotation of a disk edgevirt pushed: "sha256:HEX" of the
 * raw disk, checked when the image is pulled. */
#define REGISTRY_DISK_CHECKSUM "org.edgevirt.disk.checksum"

typedef struct Registry {
        char *scheme;                   /* https; http for a loopback registry without TLS */
        char *host;                     /* "registry:5000" */
        char *repository;               /* "kubevirt/cirros-container-disk-demo" */
        char *reference;                /* tag or digest */
        const char *user, *password;    /* basic credentials, may be NULL */
        const char *ca_file;
        char *auth;                     /* "Authorization: ..." once authorized */
        char *config;                   /* the resolved image's config blob digest, NULL: none named */
        char *disk_checksum;            /* the resolved image's REGISTRY_DISK_CHECKSUM annotation, or NULL */
        bool insecure;                  /* TLS unverified, plain HTTP when there is none */
        bool push;                      /* a token is asked for pull and push */
} Registry;

/* What a PUT sends: data or file (from its start), size bytes. */
typedef struct RegistryUpload {
        const char *content_type;
        const char *data;
        FILE *file;
        uint64_t size, sent;
        void (*progress)(uint64_t sent, void *userdata);
        void *userdata;
} RegistryUpload;

typedef struct RegistryLayer {
        char *digest;                   /* "sha256:..." */
        char *media_type;
        uint64_t size;
} RegistryLayer;

/* Is host ("name[:port]", "[v6]:port") this machine: exactly localhost,
 * an IPv4 address in 127.0.0.0/8 or ::1, so that "localhost.example.com"
 * or "127.example.com" are not.  Only then does a TLS failure fall back to
 * plain HTTP without --insecure. */
bool registry_loopback(const char *host);
/* docker://host[:port]/repository[:tag|@digest] */
int registry_parse(const char *url, Registry *g, char **error);
/* The manifest (linux/amd64) and its layers, base first. */
int registry_resolve(Registry *g, char **ret_digest, GPtrArray **ret_layers, char **error);
/* A manifest's bytes: 1 and *ret_pick (the linux/amd64 digest) for an
 * index or manifest list, 0 and *ret_layers for an image manifest, -1
 * with the reason.  Pure: fuzzed (fuzz/fuzz-registry.c). */
int registry_parse_manifest(const char *body, size_t len, const char *content_type, char **ret_pick,
                            GPtrArray **ret_layers, char **error);
/* The labels of the resolved image's config (config.Labels), as a
 * NULL-ended list of "key=value"; an empty list when it names none.  -1
 * with the reason when the blob cannot be read or is not one. */
int registry_config_labels(Registry *g, char ***ret, char **error);
/* https://host/v2/repository/KIND/REF */
char *registry_url(const Registry *g, const char *kind, const char *ref);
/* A string member of o, "" when absent or not a string (hostile manifests). */
const char *registry_string_member(JsonObject *o, const char *name);
/* Pushing (the OCI distribution API's blob upload, POST then PUT with the
 * digest, and manifest PUT).  1: the registry has the blob, 0: it has not. */
int registry_blob_exists(Registry *g, const char *digest, char **error);
int registry_upload_blob(Registry *g, const char *digest, RegistryUpload *u, char **error);
int registry_put_manifest(Registry *g, const char *tag, RegistryUpload *u, char **error);
RegistryLayer *registry_layer_free(RegistryLayer *l);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(RegistryLayer, registry_layer_free)
void registry_clear(Registry *g);
