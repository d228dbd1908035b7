/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdint.h>

#include "model.h"

/* The length of the memory dump a claim's volume starts with (bytes). */
#define MEMORY_DUMP_SIZE "edgevirt.io/memory-dump-size"
/* A claim that may take memory dumps ("true"): set on the claims createClaim
 * makes, or by the claim's owner to give one up to dumps (a dump overwrites
 * the claim's volume from its first byte). */
#define MEMORY_DUMP_CLAIM "edgevirt.io/memory-dump-claim"

/* virtctl memory-dump get: dump the running guest's memory into the claim
 * (create_claim: made first, of the guest's memory and 100Mi, in
 * storage_class or the default).  EBUSY: not running, or a dump in
 * progress; ENOENT/EEXIST: the claim is missing or (create_claim) there;
 * EINVAL: too small, or an existing claim not annotated MEMORY_DUMP_CLAIM.
 * The VM's status.memoryDumpRequest follows it. */
int vm_memory_dump(Model *m, Object *vm, const char *claim_name, bool create_claim, const char *storage_class,
                   GError **error);
/* virtctl memory-dump remove: the request goes (the claim and its bytes stay). */
int vm_memory_dump_remove(Model *m, Object *vm, GError **error);
/* A reader of the completed dump's claim: the fd (the dump is its first
 * *ret_size bytes) and the dump's file name; negative errno on error. */
int vm_memory_dump_open(Model *m, Object *vm, uint64_t *ret_size, char **ret_file_name, GError **error);

/* The VM controller's part (dumping: uids of the VMs whose dump runs). */
void vm_memory_dump_reconcile(Model *m, Object *vm, GHashTable *dumping);
