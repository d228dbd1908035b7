/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "hypervisor.h"
#include "model.h"
#include "vmi-admit.h"

typedef struct Services Services;
typedef struct VmiController VmiController;

extern const KindInfo kind_vmi;


/* Starts by listing libvirt's domains: adopts ours, removes what nothing
 * owns any more. */
int vmi_controller_new(Model *m, Services *s, VmiController **ret);
VmiController *vmi_controller_free(VmiController *c);

/* Lifecycle verbs on an instance; errors say why not (EBUSY: not in a
 * state where this makes sense). */
int vmi_pause(Model *m, Object *vmi, GError **error);
int vmi_unpause(Model *m, Object *vmi, GError **error);
int vmi_soft_reboot(Model *m, Object *vmi, GError **error);
/* Stop the instance: ACPI power-off, then destroy after grace seconds
 * (-1: the spec's terminationGracePeriodSeconds). */
int vmi_stop(Model *m, Object *vmi, int64_t grace, GError **error);
/* A connected socket to the serial console / VNC server; the caller owns it. */
int vmi_open_console(Model *m, Object *vmi, GError **error);
int vmi_open_vnc(Model *m, Object *vmi, GError **error);

/* The guest agent: connected (libvirt's agent events), and its last facts
 * in KubeVirt's guest agent info layout (hostname, os, timezone, userList,
 * fsInfo.disks), refreshed every 30 s; NULL before the first answer. */
bool vmi_agent_connected(Model *m, Object *vmi);
JsonObject *vmi_guest_info(Model *m, Object *vmi);

/* Hold a running instance's disks still for a snapshot: its file systems
 * frozen through the agent when one is connected (and use_agent), else the guest paused
 * (unless it is paused already: then nothing).  *ret_how says which
 * ("GuestAgent", "Paused", "" for nothing); done runs on the main loop
 * (r < 0: error says why).  vmi_release undoes what vmi_quiesce did. */
typedef void (*VmiQuiesceDone)(void *userdata, int r, const char *error);
void vmi_quiesce(Model *m, Object *vmi, bool use_agent, const char **ret_how, VmiQuiesceDone done, void *userdata);
void vmi_release(Model *m, Object *vmi, const char *how, VmiQuiesceDone done, void *userdata);

/* Facts for the bus. */
const char *vmi_phase(Object *vmi);
bool vmi_is_finished(Object *vmi);
bool vmi_is_paused(Object *vmi);
/* Being deleted, or its guest asked to power off. */
bool vmi_is_stopping(Model *m, Object *vmi);
/* A claim or DataVolume in namespace changed: instances waiting for
 * their volumes look again. */
void vmi_volumes_changed(Model *m, const char *namespace);
/* Make the controller's timer run soon (a VM backs off). */
void vmi_controller_wake(Model *m);
char *vmi_domain_name(Object *vmi);
/* Reason of the Synchronized condition when it is False (waiting for a
 * volume, a missing claim...), else NULL. */
const char *vmi_waiting_reason(Object *vmi);

