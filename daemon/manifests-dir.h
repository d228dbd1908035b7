/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>
#include <systemd/sd-event.h>

#include "model.h"

/* Declarative host configuration, as MicroShift's manifests directory:
 * every *.yaml, *.yml and *.json file of the directories is applied at
 * start and again when the directories change (inotify, debounced), one
 * transaction per file.  The vendor directory comes first; a file of the
 * same name in the admin's directory replaces it, and an empty one (or a
 * symlink to /dev/null) masks it, as systemd does with units.  Objects
 * that came from a file carry the annotation MANIFEST_FILE_ANNOTATION
 * naming it; when a document leaves its file, or the file goes, they are
 * deleted (kubectl apply --prune).  Objects made through the API carry no
 * such annotation and are never pruned.  A file that cannot be read,
 * parsed or admitted changes nothing: its objects stay as they were and
 * the error is logged with the file, the line of the document and the
 * field (docs/fleet.md). */
#define MANIFEST_FILE_ANNOTATION "edgevirt.io/manifest-file"

typedef struct ManifestsDir ManifestsDir;

/* dirs: the directories, lowest precedence first (vendor, then admin);
 * ones that do not exist yet are watched for through their parent. */
int manifests_dir_new(Model *model, sd_event *event, char **dirs, ManifestsDir **ret);
ManifestsDir *manifests_dir_free(ManifestsDir *md);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ManifestsDir, manifests_dir_free)

/* Apply the directories now (at start; later changes come by inotify). */
void manifests_dir_sync(ManifestsDir *md);

/* The line (from 1) on which document index (from 0) of a YAML text
 * starts, for error messages: documents are separated by lines that begin
 * with "---"; a separator before the first document starts it. */
unsigned manifest_document_line(const char *text, unsigned index);
