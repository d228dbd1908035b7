/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

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
