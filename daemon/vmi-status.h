/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "model.h"

/* Read-only facts of a VirtualMachineInstance, from its document: what
 * the bus shows and what other controllers ask.  Includes no controller;
 * what only the running controller knows is asked through services.h. */

/* status.phase; Pending before the controller wrote one. */
const char *vmi_phase(Object *vmi);
/* Succeeded or Failed: it will not run again. */
bool vmi_is_finished(Object *vmi);
bool vmi_is_paused(Object *vmi);
/* Reason of the Synchronized condition when it is False (waiting for a
 * volume, a missing claim...), else NULL. */
const char *vmi_waiting_reason(Object *vmi);
/* libvirt's name of its domain: <namespace>_<name>. */
char *vmi_domain_name(Object *vmi);
/* The instance whose domain that is (names hold no '_'), NULL: none. */
Object *vmi_find_by_domain(Model *m, const char *domain);

/* A new VMI's status: Pending, since now (its kind's init_status). */
void vmi_init_status(JsonObject *doc);
