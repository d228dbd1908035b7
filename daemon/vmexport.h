/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

#include "model.h"

/* VirtualMachineExport (export.kubevirt.io, vmexport.c): what its D-Bus
 * interface (Download, GetManifests) asks of an export. */

/* The annotation on the export holding a volume's checksum
 * ("sha256:HEX" of its raw disk): CHECKSUM_ANNOTATION_PREFIX + volume. */
#define VMEXPORT_CHECKSUM_PREFIX "checksum.edgevirt.io/"
/* beside it: the uid of what was hashed (the claim, or the snapshot content) */
#define VMEXPORT_CHECKSUM_SOURCE_PREFIX "checksum-source.edgevirt.io/"

/* The key of the token in the export's token Secret. */
#define VMEXPORT_TOKEN_KEY "token"

/* The formats a volume is served in: raw, gzip, qcow2 (NULL-terminated). */
extern const char *const vmexport_formats[];

/* A Ready export's volume: where its bytes are (a claim's volume, or a
 * snapshot's copy of one), its recorded checksum and the uid of the claim
 * read in place (NULL for a snapshot's copy).  -ENOENT naming the
 * volumes there are when the export has none of that name; -EBUSY when the
 * export is not Ready. */
int vmexport_volume(Model *m, Object *x, const char *volume, char **ret_path, const char **ret_checksum,
                    char **ret_claim_uid, GError **error);

/* Is token the one in the export's token Secret?  -EACCES when it is not
 * (or is empty), -ENOENT when the Secret is gone. */
int vmexport_check_token(Model *m, Object *x, const char *token, GError **error);

/* The manifests of the export's link of type "all": the VM (for a VM or
 * snapshot source) and a DataVolume with an upload source per volume not
 * among the VM's dataVolumeTemplates, as a v1 List; -EINVAL for another
 * type. */
int vmexport_manifests(Model *m, Object *x, const char *type, JsonNode **ret, GError **error);

/* A download reads the claim with this uid in place: while it does, the
 * claim is in use (not deleted) and locked (no guest takes it; a VM start
 * waits), and the export stays Ready. */
void vmexport_hold_claim(Model *m, const char *uid, bool hold);
