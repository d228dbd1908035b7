/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "kind.h"

/* Expand a VM's spec.instancetype and spec.preference into vmi_spec (a
 * copy of its template's spec), as KubeVirt does; status (may be NULL)
 * gets instancetypeRef/preferenceRef.  -ENOENT when one is missing,
 * -EINVAL on a conflict, each with a message naming the field. */
int instancetype_expand(Model *m, const char *ns, JsonObject *vm_spec, JsonObject *vmi_spec, JsonObject *status,
                        GError **error);

/* KubeVirt's spec.instancetype/spec.preference.inferFromVolume: the name
 * and kind from the instancetype.kubevirt.io/default-* labels of the
 * volume's claim, DataVolume (template or object) or DataSource (its
 * sourceRef), written into the matcher (inferFromVolume removed), as
 * KubeVirt's admission does.  inferFromVolumeFailurePolicy Ignore drops
 * the matcher when no label says anything; errors name the field. */
int instancetype_infer(Model *m, const char *ns, JsonObject *vm_spec, GError **error);
