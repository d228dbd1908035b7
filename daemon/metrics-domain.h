/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "hypervisor.h"
#include "prom.h"

/* KubeVirt's virt-handler metrics from libvirt's bulk statistics
 * (HvDomainStats), for the domains of running instances (vmis: domain
 * name -> MetricsVmi, metrics-objects.h); others are left out. */
void metrics_collect_domains(GPtrArray *stats, GHashTable *vmis, PromSet *set);
