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

void guest_user_free(GuestUser *u);

/* Does spec have an accessCredentials entry propagated through the agent? */
bool agent_credentials_wanted(JsonObject *spec);

/* What the guest's users should have, from the Secrets of vmi's entries:
 * GuestUser by name, and a digest of it all (to tell a change).  -ENOENT
 * naming the entry when a Secret is missing. */
int agent_credentials_resolve(Model *m, Object *vmi, GPtrArray **ret_users, char **ret_digest, GError **error);
