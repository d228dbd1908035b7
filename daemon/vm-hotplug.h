/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "model.h"
#include "vmi.h"

/* virtctl addvolume VM: attach v to the running instance; persist: add it
 * to the template too (spec.template.spec: the volume hotpluggable, its
 * disk), which alone is allowed on a stopped VM. */
int vm_add_volume(Model *m, Object *vm, const HotplugVolume *v, bool persist, GError **error);
/* virtctl removevolume VM: detach a hotplugged volume from the running
 * instance; persist: take it out of the template too. */
int vm_remove_volume(Model *m, Object *vm, const char *name, bool persist, GError **error);
