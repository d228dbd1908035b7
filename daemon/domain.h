/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <json-glib/json-glib.h>

/* The libvirt domain of a VirtualMachineInstance, made by a pure function
 * of the (expanded, admitted) VMI spec and what the node resolved for it:
 * paths of volumes, sockets, firmware files.  Golden-file tests in
 * tests/domain/ pin its output. */

#define DOMAIN_XMLNS "https://edgevirt.org/xmlns/domain/1"

typedef struct DomainVolume {
        const char *path;               /* file or block device */
        const char *format;             /* "raw", "qcow2" */
        bool block;
        bool readonly;                  /* the source is read-only (a seed ISO) */
        const char *backing;            /* a qcow2 overlay's backing file (raw): the image cache's,
                                         * or an ephemeral volume's claim (a block device: /dev/...) */
} DomainVolume;

typedef enum DomainHostDeviceType {
        DOMAIN_HOSTDEV_USB,
        DOMAIN_HOSTDEV_PCI,
} DomainHostDeviceType;

/* A host device given to the domain (resolved by hostdev.c). */
typedef struct DomainHostDevice {
        DomainHostDeviceType type;
        unsigned vendor, product;       /* USB vendor:product; PCI: unused (the address says) */
        int usb_bus, usb_device;        /* a pinned USB device's bus and device number; -1: by id only */
        unsigned pci_domain, pci_bus, pci_slot, pci_function;
} DomainHostDevice;

typedef struct DomainHost {
        bool kvm;                       /* /dev/kvm: type='kvm', else TCG */
        const char *domain_name;        /* "<namespace>_<name>" */
        const char *uuid;               /* firmware.uuid overrides it */
        const char *namespace, *name, *vmi_uid, *owner;
        const char *nat_network;        /* libvirt network for masquerade (pod network) */
        const char *bridge;             /* host bridge for bridge binding; NULL: refused */
        const char *console_socket;     /* serial console (unix socket, server) */
        const char *console_log;        /* logSerialConsole; may be NULL */
        const char *vnc_socket;
        const char *efi_code, *efi_code_secure, *efi_vars, *efi_vars_secure;
        const char *nvram;              /* the EFI variable store: the VM's (efi.persistent) or the instance's */
        bool swtpm;                     /* swtpm is installed: devices.tpm can be emulated */
        const char *kernel, *initrd;    /* firmware.kernelBoot.container's files, NULL: none */
        GHashTable *volumes;            /* volume name -> DomainVolume */
        GArray *hostdevs;               /* DomainHostDevice, NULL: none */
} DomainHost;

/* The domain XML, or NULL with an error naming the spec field. */
char *domain_xml(JsonObject *vmi_spec, const DomainHost *host, GError **error);

/* The <disk> element of the spec's disk name (a hotplug: its volume in
 * volumes, attached as target, e.g. "sdb"), or NULL with an error. */
char *domain_disk_xml(JsonObject *vmi_spec, GHashTable *volumes, const char *name, const char *target,
                      GError **error);

/* The kernel's name of disk n (from 0) of a kind: "sd", 1 -> "sdb". */
char *domain_target_name(const char *prefix, unsigned n);

/* Disk name -> the target domain_xml() gives it ("vda", "sdb"). */
GHashTable *domain_disk_targets(JsonObject *vmi_spec);

/* Disks as the domain sees them: a VMI volume without a disk gets a
 * virtio disk (KubeVirt does the same); returns a new array of objects. */
JsonArray *domain_disks(JsonObject *vmi_spec);

/* Guest memory in bytes: memory.guest, else resources.requests.memory,
 * else resources.limits.memory; 0 when none is given. */
int64_t domain_guest_memory(JsonObject *vmi_spec);
