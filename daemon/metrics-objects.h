/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

#include "model.h"
#include "prom.h"

/* KubeVirt's and CDI's metrics that the stored objects answer, under
 * their names and labels (docs/observability.md).  Main loop. */

/* An instance as its domain's statistics are labelled (KubeVirt's
 * virt-handler: node, namespace, name and the instance's labels as
 * kubernetes_vmi_label_*). */
typedef struct MetricsVmi {
        char *domain;                   /* libvirt's name of it */
        GPtrArray *labels;              /* name, value, name, value... (owned strings) */
} MetricsVmi;

MetricsVmi *metrics_vmi_free(MetricsVmi *v);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(MetricsVmi, metrics_vmi_free)

/* kubevirt_vmi_info, kubevirt_vmi_phase_count, kubevirt_vmi_filesystem_*,
 * kubevirt_vm_info, kubevirt_vm_resource_requests,
 * kubevirt_vmsnapshot_succeeded_timestamp_seconds into set; the running
 * instances into vmis (domain name -> MetricsVmi). */
void metrics_collect_kubevirt(Model *m, PromSet *set, GHashTable *vmis);

/* kubevirt_cdi_import_progress_total, kubevirt_cdi_clone_progress_total,
 * kubevirt_cdi_datavolume_pending. */
void metrics_collect_cdi(Model *m, PromSet *set);
