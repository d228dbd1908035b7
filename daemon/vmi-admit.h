/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* KubeVirt's admission rules for an instance spec and what one node can
 * run (vmi-admit.c): pure, so that VMs, instances and instance types share
 * them without depending on the instance controller. */
#include <stdbool.h>
#include <json-glib/json-glib.h>

/* KubeVirt's admission rules for a VMI spec (also a VM's template spec);
 * path is where it sits in the document ("spec", "spec.template.spec").
 * need_memory: no instance type will supply the memory. */
int vmi_spec_admit(JsonObject *spec, const char *path, bool need_memory, GPtrArray *warnings, GError **error);

/* A VM template's metadata: refuse what needs a pod (sidecar hooks). */
int vm_template_annotations_admit(JsonObject *meta, const char *path, GError **error);

/* The most vCPUs a guest has: QEMU's q35 machine without an IOMMU that
 * remaps interrupts (which edgevirt does not give guests). */
#define VMI_MAX_VCPUS 255
/* A memory quantity (NULL: none) a guest of this node can have; the error
 * names path.field and says what is wrong (out of range, zero, more than
 * the node has). */
int vmi_admit_guest_memory(const char *quantity, const char *path, const char *field, GError **error);
