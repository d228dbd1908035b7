/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <systemd/sd-event.h>
#include <glib.h>
#include <json-glib/json-glib.h>

/* libvirt, kept off the main loop: every call runs on a small pool of
 * threads of its own (libvirt calls are RPCs to libvirtd and block), and
 * one more thread runs libvirt's event loop, forwarding domain events to
 * the main loop.  The connection is opened on first use and again after
 * libvirtd went away. */
typedef struct Hypervisor Hypervisor;

typedef enum HvEventKind {
        HV_EVENT_STARTED,
        HV_EVENT_SUSPENDED,
        HV_EVENT_RESUMED,
        HV_EVENT_STOPPED,               /* the domain is gone (transient) */
        HV_EVENT_REBOOTED,
        HV_EVENT_AGENT,                 /* guest agent connected or not: detail 1/0 */
        HV_EVENT_DISCONNECTED,          /* libvirtd closed the connection */
        HV_EVENT_DEVICE_REMOVED,        /* the guest let go of device (its alias) */
} HvEventKind;

typedef enum HvStopReason {
        HV_STOP_SHUTDOWN,               /* the guest powered off */
        HV_STOP_DESTROYED,              /* killed (by us or by someone else) */
        HV_STOP_CRASHED,                /* QEMU died or the guest crashed */
        HV_STOP_OTHER,
} HvStopReason;

typedef struct HvEvent {
        HvEventKind kind;
        int detail;                     /* HvStopReason for STOPPED */
        char *domain;                   /* name */
        char *device;                   /* DEVICE_REMOVED: the device's alias */
} HvEvent;

typedef void (*HvEventFunc)(const HvEvent *ev, void *userdata);

typedef enum HvOpKind {
        HV_OP_CREATE,                   /* xml; flags: start paused */
        HV_OP_SHUTDOWN,                 /* ACPI power button (and the agent, if there is one) */
        HV_OP_DESTROY,
        HV_OP_SUSPEND,
        HV_OP_RESUME,
        HV_OP_REBOOT,                   /* soft reboot: ACPI/agent */
        HV_OP_RESET,                    /* hard reset, the reset button: the guest does not take part */
        HV_OP_ATTACH,                   /* xml: a device into the running domain (hotplug) */
        HV_OP_DETACH,                   /* xml: the alias of a device to take out ("ua-NAME") */
        HV_OP_UPDATE,                   /* xml: a device changed live (a cdrom's medium) */
        HV_OP_LIST,                     /* every domain with our metadata */
        HV_OP_ADDRESSES,                /* IP addresses of a domain's interfaces */
        HV_OP_GUEST_INFO,               /* the guest agent's facts (KubeVirt's guest agent info layout) */
        HV_OP_AGENT_STATE,              /* whether the agent channel is connected now */
        HV_OP_SET_CREDENTIALS,          /* users: authorized keys (replaced when they differ), passwords */
        HV_OP_FS_FREEZE,                /* the guest's file systems, through the agent */
        HV_OP_FS_THAW,
        HV_OP_DOMAIN_STATS,             /* every running domain's statistics, in one call */
        HV_OP_MEMORY_DUMP,              /* the guest's memory (ELF) into path, a file kept at its size */
} HvOpKind;

typedef struct HvDomain {
        char *name;
        char *metadata;                 /* our <edgevirt:instance> element, text */
        bool running;                   /* running or paused (not shut off) */
        bool paused;
} HvDomain;

typedef struct HvAddress {
        char *name;                     /* the guest's name of the interface (agent only) */
        char *mac;
        char *address;                  /* "10.0.2.15" */
} HvAddress;

/* One domain's bulk statistics (virConnectGetAllDomainStats: state,
 * cpu-total, balloon, vcpu, interface, block), as libvirt names them
 * ("cpu.time", "net.0.rx.bytes", "block.1.name"). */
typedef struct HvDomainStats {
        char *name;
        GHashTable *numbers;            /* field -> double (boxed) */
        GHashTable *strings;            /* field -> text */
        GHashTable *aliases;            /* a disk's or interface's target device ("vda", "vnet0") -> its
                                         * <alias name='ua-NAME'/> less "ua-" */
} HvDomainStats;

HvDomainStats *hv_domain_stats_free(HvDomainStats *s);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HvDomainStats, hv_domain_stats_free)

typedef struct HvOp HvOp;
typedef void (*HvOpDone)(HvOp *op);     /* main loop */

struct HvOp {
        HvOpKind kind;
        char *domain;
        char *xml;
        bool start_paused;
        char *network;                  /* CREATE: make and start this network first if needed */
        char *network_subnet;           /* ... on this IPv4 subnet */
        /* what came back */
        int r;                          /* 0 or -errno */
        char *error;                    /* libvirt's message */
        bool paused;                    /* CREATE: the domain's state afterwards */
        GPtrArray *domains;             /* LIST: HvDomain */
        GPtrArray *addresses;           /* ADDRESSES: HvAddress */
        bool from_agent;                /* ADDRESSES: the agent answered */
        bool ask_agent;                 /* ADDRESSES: the agent is connected, ask it first */
        JsonObject *guest;              /* GUEST_INFO */
        bool agent_connected;           /* AGENT_STATE */
        GPtrArray *users;               /* SET_CREDENTIALS: GuestUser (credentials.h), owned */
        GPtrArray *stats;               /* DOMAIN_STATS: HvDomainStats */
        char *path;                     /* MEMORY_DUMP: where */
        uint64_t size;                  /* MEMORY_DUMP: the dump's length */
        HvOpDone done;
        void *userdata;
        char *tag;                      /* the caller's (an instance's uid) */
        char *device;                   /* the caller's (ATTACH, DETACH: a volume's name) */
};

int hypervisor_new(sd_event *event, const char *uri, HvEventFunc on_event, void *userdata, Hypervisor **ret);
/* A connection for calls alone (the metrics endpoint's statistics): threads
 * of its own, no domain events and no event thread (libvirt's loop runs on
 * the first hypervisor's); a connection libvirtd closed is opened again. */
int hypervisor_new_calls_only(sd_event *event, const char *uri, unsigned threads, Hypervisor **ret);
Hypervisor *hypervisor_free(Hypervisor *h);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Hypervisor, hypervisor_free)

const char *hypervisor_uri(Hypervisor *h);
/* Hardware virtualization is there (/dev/kvm, and not the test driver). */
bool hypervisor_kvm(Hypervisor *h);

HvOp *hv_op_new(HvOpKind kind, const char *domain, HvOpDone done, void *userdata);
HvOp *hv_op_free(HvOp *op);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(HvOp, hv_op_free)
/* The XML of the NAT network the daemon owns for the pod network. */
char *hypervisor_nat_network_xml(const char *name, const char *subnet);
/* Runs op on a libvirt thread; op->done runs on the main loop, then op is
 * freed. */
void hypervisor_submit(Hypervisor *h, HvOp *op);
/* Calls running or queued. */
unsigned hypervisor_pending(Hypervisor *h);
