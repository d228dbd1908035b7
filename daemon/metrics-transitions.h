/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

#include "model.h"
#include "prom.h"

/* KubeVirt's phase-transition histograms (virt-controller's perfscale
 * metrics), from the instances' status changes the daemon sees while it
 * runs: kubevirt_vmi_phase_transition_time_from_creation_seconds{phase},
 * kubevirt_vmi_phase_transition_time_seconds{phase,last_phase} and
 * kubevirt_vmi_phase_transition_time_from_deletion_seconds{phase}, with
 * KubeVirt's buckets, measured between status.phaseTransitionTimestamps
 * (and metadata.creationTimestamp / deletionTimestamp).  What exists at
 * start is no transition.  Main loop. */
typedef struct PhaseTransitions PhaseTransitions;

PhaseTransitions *phase_transitions_new(Model *m);
PhaseTransitions *phase_transitions_free(PhaseTransitions *t);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PhaseTransitions, phase_transitions_free)

void phase_transitions_render(PhaseTransitions *t, PromSet *set);
