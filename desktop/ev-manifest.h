/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The documents the create dialog applies: a KubeVirt VirtualMachine with
 * a dataVolumeTemplate (or a containerDisk), its cloud-init and, for an
 * SSH key, a Secret it names in accessCredentials.  Pure: unit-tested. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum { EV_DISK_URL, EV_DISK_UPLOAD, EV_DISK_CONTAINER } EvDiskSource;

/* The fields of the form, named as the errors name them. */
typedef enum {
        EV_FIELD_NONE, EV_FIELD_NAME, EV_FIELD_NAMESPACE, EV_FIELD_URL, EV_FIELD_FILE, EV_FIELD_IMAGE,
        EV_FIELD_DISK_SIZE, EV_FIELD_INSTANCETYPE, EV_FIELD_CPUS, EV_FIELD_MEMORY, EV_FIELD_SSH_KEY,
        EV_FIELD_USER_DATA, EV_N_FIELDS
} EvField;

typedef struct {
        const char *name, *ns;
        EvDiskSource source;
        const char *url;                /* EV_DISK_URL: http or https */
        const char *file;               /* EV_DISK_UPLOAD: a local path (only checked to be there) */
        const char *image;              /* EV_DISK_CONTAINER: a registry reference */
        const char *disk_size;          /* a quantity: "10Gi" */
        const char *instancetype;       /* NULL or "": cpus and memory */
        gboolean cluster_instancetype;
        guint cpus;
        const char *memory;             /* a quantity */
        const char *ssh_key;            /* NULL or "": none */
        const char *user_data;          /* NULL or "": none */
        gboolean start;
} EvVmSpec;

#define EV_MANIFEST_ERROR (ev_manifest_error_quark())
GQuark ev_manifest_error_quark(void);

/* The document (JSON, "kind: List" when a Secret comes along), or NULL
 * with an error whose code is the EvField at fault. */
char *ev_manifest_build(const EvVmSpec *spec, GError **error);
/* The DataVolume the VM's disk is imported into */
char *ev_manifest_disk_name(const char *vm);
/* A VirtualMachineSnapshot of vm, and a VirtualMachineRestore of snapshot into vm */
char *ev_manifest_snapshot(const char *ns, const char *name, const char *vm);
char *ev_manifest_restore(const char *ns, const char *name, const char *vm, const char *snapshot);
/* Which field a daemon's message names ("document 2 (...): spec.template...:
 * ..."), and the message without the document prefix. */
EvField ev_manifest_field_of(const char *message, const char **rest);

G_END_DECLS
