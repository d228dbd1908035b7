/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "kind.h"

/* OpenShift's project roles, bound per namespace by RoleBindings. */
typedef enum Role {
        ROLE_NONE,
        ROLE_VIEW,              /* see the namespace's objects (not Secrets' data) */
        ROLE_EDIT,              /* change them, run VMs, consoles, uploads, Secrets */
        ROLE_ADMIN,             /* and the namespace's RoleBindings, and delete it */
} Role;

extern const KindInfo kind_rolebinding;

/* The highest role user (or one of groups, NULL-terminated) has in namespace. */
Role rbac_role(Model *m, const char *namespace, const char *user, const char *const *groups);
const char *rbac_role_name(Role r);
/* As oc new-project: make user the admin of the namespace they created
 * (a RoleBinding "admin" to the ClusterRole admin). */
int rbac_make_admin(Model *m, const char *namespace, const char *user, GError **error);
