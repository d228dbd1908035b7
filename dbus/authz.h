/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <systemd/sd-bus.h>

#include "daemon.h"
#include "object.h"
#include "rolebinding.h"

/* Authorization of method calls (docs/security.md): root and the user the
 * daemon runs as may do everything.  Anyone else may act in a namespace as
 * far as a RoleBinding there gives them (view, edit, admin), and beyond
 * that needs polkit to say yes to the verb's action,
 * "org.edgevirt.EdgeVirt1." + action, asked with details (namespace, kind,
 * name, verb) an admin's rules can match.  Objects of namespaces where the
 * caller has no role are invisible to them.
 *
 * Asynchronous, the systemd way: the first call asks polkit and returns 0
 * (the handler returns 1 and sends nothing); polkit's answer dispatches
 * the same message again, and this time the call returns 1 (go on) or an
 * error (AccessDenied; InteractiveAuthorizationRequired when polkit would
 * ask for a password and the caller did not allow interaction).  So a
 * handler checks after validating its arguments and before changing
 * anything, and may run twice up to that point. */
typedef struct Authz Authz;

int authz_new(Daemon *d, Authz **ret);
Authz *authz_free(Authz *a);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Authz, authz_free)

/* The daemon's (d->authz); a method handler whose userdata is an object
 * finds it through bus_current_daemon() (bus-calls.h). */
int authz_check(Authz *a, sd_bus_message *m, const char *action, const char *namespace, const char *kind,
                const char *name, sd_bus_error *error);

/* Root or the daemon's own user: every check passes. */
bool authz_privileged(Authz *a, sd_bus_message *m);
/* The caller's effective uid (cached per unique bus name). */
int authz_caller_uid(Authz *a, sd_bus_message *m, uid_t *ret);
/* The caller's role in namespace (root: admin everywhere). */
Role authz_role(Authz *a, sd_bus_message *m, const char *namespace);
/* May the caller of m see objects of kind in namespace (NULL m: yes)?
 * Cluster-scoped kinds are seen by all but namespaces, seen where the
 * caller has a role. */
bool authz_can_see(Authz *a, sd_bus_message *m, const KindInfo *kind, const char *namespace, const char *name);
/* The caller's Unix user name, NULL for root and the daemon's own user. */
const char *authz_caller_name(Authz *a, sd_bus_message *m);
