/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>
#include <stdbool.h>

/* The EFI variable stores (NVRAM) the daemon keeps as files: a VM's own
 * (firmware.bootloader.efi.persistent), <state>/instances/<vm uid>/nvram.fd,
 * and the copy a VirtualMachineSnapshot takes of it,
 * <state>/snapshots/<snapshot uid>/nvram.fd (its content's: removed with
 * the content, brought back by a restore or a clone). */
char *firmware_vm_store(const char *state_dir, const char *vm_uid);
/* NULL when snapshot_uid is not a UUID (it names a directory). */
char *firmware_snapshot_store(const char *state_dir, const char *snapshot_uid);

/* On a worker: dst made a copy of src (its directory too); mode 0600. */
int firmware_store_copy(const char *src, const char *dst, GError **error);

/* The swtpm state of a persistent vTPM (devices.tpm.persistent): libvirt
 * keeps it by the domain's UUID (its swtpm_storage_dir, for the libvirt
 * URI); a snapshot's copy is <state>/snapshots/<snapshot uid>/swtpm,
 * brought back by a restore or a clone to the target's UUID.  A VM whose
 * persistent vTPM was started has a marker with that UUID,
 * <state>/instances/<vm uid>/swtpm-uuid: what proves the state ours when
 * the daemon removes what a VM deleted while it was down left. */
/* NULL where no place is known (the test driver) or uuid is not a UUID.
 * $EDGEVIRT_SWTPM_ROOT replaces libvirt's directory: for the API tests. */
char *firmware_tpm_dir(const char *libvirt_uri, const char *uuid);
/* The domain UUID of an instance spec: firmware.uuid, else the owner's uid. */
const char *firmware_tpm_uuid(JsonObject *vmi_spec, const char *owner_uid);
bool firmware_tpm_persistent(JsonObject *vmi_spec);
char *firmware_snapshot_tpm(const char *state_dir, const char *snapshot_uid);
/* On a worker: dst (replaced) a copy of the directory src, with owners,
 * modes and times. */
int firmware_tpm_copy(const char *src, const char *dst, GError **error);
char *firmware_tpm_marker(const char *state_dir, const char *vm_uid);
/* On a worker: the VM's marker says uuid. */
int firmware_tpm_mark(const char *state_dir, const char *vm_uid, const char *uuid, GError **error);
/* On a worker: the files of a VM that is gone, <state>/instances/<vm uid>
 * (vm_dir), and (tpm) the swtpm state its marker names: only that one, the
 * state this VM started (another VM may have the same firmware.uuid). */
void firmware_forget_vm(const char *libvirt_uri, const char *vm_dir, bool tpm);
