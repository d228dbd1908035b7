/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

#include "model.h"

/* accessCredentials propagated through the QEMU guest agent (KubeVirt's
 * qemuGuestAgent propagation; docs/vms.md).  Each guest user named by an
 * sshPublicKey entry gets, as its whole authorized_keys, the keys of the
 * Secrets of every entry naming it; each key of a userPassword Secret is a
 * user whose password is set to the value.  The guest follows the
 * Secrets: a change is applied while the agent is connected. */
typedef struct GuestUser {
        char *name;
        GPtrArray *keys;                /* char *: authorized_keys lines; empty: the file is left alone */
        char *password;                 /* NULL: left alone */
} GuestUser;

GuestUser *guest_user_free(GuestUser *u);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(GuestUser, guest_user_free)

/* Does spec have an accessCredentials entry propagated through the agent? */
bool agent_credentials_wanted(JsonObject *spec);

/* Keeping a guest in step with its Secrets (the VMI controller holds one
 * per instance while its agent is connected): sent when the Secrets change,
 * every CREDENTIALS_RESYNC_USEC in case the guest drifted (as KubeVirt),
 * and CREDENTIALS_RETRY_USEC after a failure. */
#define CREDENTIALS_RESYNC_USEC (300 * G_USEC_PER_SEC)
#define CREDENTIALS_RETRY_USEC (10 * G_USEC_PER_SEC)

typedef struct CredentialsSync {
        char *applied;                  /* the digest the guest has; NULL: nothing yet, or the last try failed */
        char *sending;                  /* the digest of the call under way (the caller sets it) */
        gint64 next;                    /* monotonic µs: resync (applied) or retry (failed) then */
} CredentialsSync;

CredentialsSync *credentials_sync_free(CredentialsSync *s);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CredentialsSync, credentials_sync_free)
/* Is a call due now for the Secrets' state digest? */
bool credentials_sync_due(CredentialsSync *s, const char *digest, gint64 now);
/* The call under way ended. */
void credentials_sync_done(CredentialsSync *s, bool ok, gint64 now);
/* The Secrets cannot be read (one is missing): whatever the guest has, the
 * state goes to it as soon as they can. */
void credentials_sync_unresolved(CredentialsSync *s);

/* What the guest's users should have, from the Secrets of vmi's entries:
 * GuestUser by name, and a digest of it all (to tell a change).  -ENOENT
 * naming the entry when a Secret is missing. */
int agent_credentials_resolve(Model *m, Object *vmi, GPtrArray **ret_users, char **ret_digest, GError **error);
