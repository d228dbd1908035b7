/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <libintl.h>
#include <stdbool.h>
#include <stdint.h>
#include <glib.h>
#include <json-glib/json-glib.h>
#include <systemd/sd-bus.h>

#include "util.h"

#define _(s) gettext(s)
#define N_(s) (s)
#define NAME "org.edgevirt.EdgeVirt1"
#define ROOT "/org/edgevirt/EdgeVirt1"
#define MANAGER "org.edgevirt.EdgeVirt1.Manager"

typedef struct Ctl {
        sd_bus *bus;
        bool force;             /* stop/restart --force */
        bool proxy_only;        /* vnc --proxy-only */
        int port;               /* vnc --port, 0: any */
        int64_t grace_period;   /* --grace-period, -1: the VM's */
        char *bus_spec;
        char *namespace;        /* -n, else the current project */
        bool namespace_given;   /* -n: documents must not name another */
        bool all_namespaces;
        char *output;           /* -o (images save: the archive to write) */
        char *input;            /* -i: images load's archive */
        char *selector;         /* -l */
        char **files;           /* -f */
        char *for_condition;    /* wait --for */
        double timeout;         /* seconds */
        char *image_path;       /* image-upload */
        char *size;
        char *storage_class;
        char *display_name, *description;
        bool no_create;
        bool watch;             /* get -w */
        int64_t chunk_size;     /* get --chunk-size: objects a List page (0: all at once) */
        bool quiet_errors;      /* a call's D-Bus error is the caller's to tell (or not) */
        bool laid_out_only;     /* the daemon knows no output "json-compact" (older than it) */
        GPtrArray *literals;    /* create --from-literal=KEY=VALUE */
        GPtrArray *from_files;  /* create --from-file=[KEY=]PATH */
        char *secret_type;      /* create secret --type */
        /* credentials */
        char *cred_user;        /* --user */
        char *key_file;         /* --file */
        char *key_value;        /* --value */
        char *secret_name;      /* --secret */
        char *password;         /* --password */
        bool create_secret, update_secret;
        int64_t replicas;       /* scale --replicas, -1: not given */
        char *claim_name;       /* memory-dump --claim-name */
        bool create_claim;      /* memory-dump --create-claim */
        char *push_disks;       /* export --push-disks: REGISTRY/PREFIX */
        int tls_verify;         /* export --tls-verify: 0 or 1, -1: not given */
        char *creds_secret;     /* export --creds-secret */
        /* addvolume/removevolume */
        char *volume_name;      /* --volume-name */
        char *serial;           /* --serial */
        char *disk_bus;         /* addvolume --bus (virtctl's: the disk's bus, not D-Bus's) */
        bool persist;           /* --persist */
        /* vmexport */
        char *export_vm, *export_snapshot, *export_pvc;  /* --vm, --snapshot, --pvc: the source */
        char *ttl;              /* --ttl */
        char *volume;           /* download --volume */
        char *format;           /* download --format */
        bool keep_vme;          /* download --keep-vme */
        bool manifest;          /* download --manifest */
} Ctl;

/* Print "error: ..." and return 1 (the exit status). */
int G_GNUC_PRINTF(1, 2) fail(const char *fmt, ...);
/* The daemon's message, or errno's. */
int bus_fail(const sd_bus_error *e, int r);
/* ROOT/namespace/<ns>/<segment>/<name>, encoded. */
char *ctl_object_path(const char *namespace, const char *segment, const char *name);
/* The daemon's text as a JSON tree (NULL: not JSON). */
JsonNode *parse_json(const char *text);
/* The namespace a List names: "" for all of them (-A). */
const char *ns_of(Ctl *c);
/* CreateNamespace with --display-name and --description. */
int create_namespace(Ctl *c, const char *name);

/* table.c: the string at a dotted path ("status.phase") of o, or NULL */
const char *str(JsonObject *o, const char *path);
/* table.c: items as a table of their kind's columns (wide: -o wide's
 * extra ones too), with or without the title row. */
void print_table_rows(JsonArray *items, bool with_namespace, bool header, bool wide);

/* list.c: call a Manager method whose reply is one document (Get, List);
 * a List comes in pages of c->chunk_size objects, joined. */
int ctl_call_document(Ctl *c, const char *method, const char *kind, const char *ns, const char *name,
                      const char *output, const char *selector, char **ret);

/* table.c: "5s", "3m", "2h", "4d" since an RFC 3339 time */
char *age(const char *ts);

/* get-verbs.c */
int verb_get(Ctl *c, int argc, char **argv);
int verb_describe(Ctl *c, int argc, char **argv);

/* apply-verbs.c */
int verb_apply(Ctl *c, int argc, char **argv);
int verb_delete(Ctl *c, int argc, char **argv);
int verb_create(Ctl *c, int argc, char **argv);

/* wait-verbs.c */
int verb_wait(Ctl *c, int argc, char **argv);
/* Until kind/name (in c->namespace) has status.phase one of phases; which. */
int ctl_wait_phase(Ctl *c, const char *kind, const char *name, const char *const *phases, const char **ret_phase);
int verb_image_upload(Ctl *c, int argc, char **argv);

/* export.c */
int verb_export(Ctl *c, int argc, char **argv);
/* export-push.c: the VMs' claims in out pushed, out changed to import them */
int export_push_disks(Ctl *c, JsonArray *out);
/* export-push.c: call m, showing interface's signal_name (t done, t total)
 * as label's progress (a bar on a terminal, else a line each), until its
 * reply (an error reply too); < 0: the call could not be made. */
int ctl_call_with_progress(Ctl *c, sd_bus_message *m, const char *interface, const char *signal_name,
                           const char *label, sd_bus_message **ret_reply);

/* vmexport-verbs.c: virtctl vmexport create|delete|download */
int verb_vmexport(Ctl *c, int argc, char **argv);

/* image-verbs.c */
int verb_images(Ctl *c, int argc, char **argv);
int verb_pull(Ctl *c, int argc, char **argv);
/* images load / images save (image-archive.c): argv[0] is "load" or "save". */
int verb_images_load(Ctl *c, int argc, char **argv);
int verb_images_save(Ctl *c, int argc, char **argv);
int verb_rmi(Ctl *c, int argc, char **argv);

/* cred-verbs.c */
/* Get KIND NAME in the current namespace as JSON; NULL (and *missing when
 * it does not exist, else an error printed) when it cannot. */
JsonNode *ctl_get_object(Ctl *c, const char *kind, const char *name, bool *missing);
/* Apply one document (the daemon refuses it over a newer version); 0 or
 * the exit status, the error printed. */
int ctl_apply_object(Ctl *c, JsonNode *doc);

/* pool-verbs.c */
int verb_scale(Ctl *c, int argc, char **argv);
/* memdump-verbs.c */
int verb_memory_dump(Ctl *c, int argc, char **argv);

int verb_credentials(Ctl *c, int argc, char **argv);

/* vm-verbs.c */
int verb_lifecycle(Ctl *c, int argc, char **argv);
int verb_volume(Ctl *c, int argc, char **argv);
int verb_console(Ctl *c, int argc, char **argv);
int verb_vnc(Ctl *c, int argc, char **argv);
int verb_guest(Ctl *c, int argc, char **argv);
