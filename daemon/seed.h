/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <json-glib/json-glib.h>

#include "model.h"

/* cloud-init seeds: KubeVirt's cloudInitNoCloud and cloudInitConfigDrive
 * volumes (and SSH keys from accessCredentials) become an ISO image per
 * instance, built in-process with libisofs; so do its config disks
 * (configMap, secret and sysprep volumes).  Resolving reads Secrets and
 * ConfigMaps and runs on the main loop; writing the image blocks and runs
 * on a worker. */

typedef struct Seed Seed;

/* The seed of one cloud-init volume of vmi (NoCloud: volume id "cidata"
 * with user-data, meta-data, network-config; ConfigDrive: "config-2" with
 * openstack/latest/{user_data,meta_data.json,network_data.json}), or of a
 * config disk (the object's keys; volume id volumeLabel, "cfgdata" or
 * "unattendCD").  Errors name the field (a missing Secret or key, bad
 * base64); -ENOENT from a config disk: its object does not exist (yet). */
int seed_resolve(Model *m, Object *vmi, JsonObject *volume, Seed **ret, GError **error);
Seed *seed_free(Seed *s);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Seed, seed_free)

/* Write the ISO image to path (replaced atomically).  Thread-safe. */
int seed_write(const Seed *s, const char *path, GError **error);

/* Whether a volume is a cloud-init volume or a config disk. */
bool seed_is_volume(JsonObject *volume);
