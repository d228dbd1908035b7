/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>
#include <stdbool.h>

#include "services.h"

/* One edgevirt-importer process, supervised on the main loop: its stdout
 * lines go to on_line as they come, its stderr is collected, and on_exit
 * gets the exit code (-1: killed or crashed) and what it said on stderr.
 * Used by DataVolume imports and by the image cache's pulls.
 *
 * It runs in an import slot (import-slots.h) and gives it back while it
 * backs off before resuming a broken transfer: the importer says
 * "wait SECONDS REASON" and blocks on its control pipe; the slot is
 * returned, and SECONDS later asked for again through the fair queue;
 * once granted, the importer is told to go on and says "resume".  Both
 * lines reach on_line too (for the owner's status). */
typedef struct ImporterRun ImporterRun;
typedef struct ImportTicket ImportTicket;

typedef void (*ImporterLineFunc)(const char *line, void *userdata);
typedef void (*ImporterExitFunc)(int code, const char *errors, void *userdata);

/* args: the importer's arguments (not its path); env: extra NAME=value;
 * stdin_fd >= 0 becomes its stdin (else /dev/null).  ticket: a granted
 * slot, the run's from then on (returned when the process ends); on
 * failure it stays the caller's. */
int importer_run_start(Services *s, const char *const *args, const char *const *env, int stdin_fd, ImportTicket *ticket,
                       ImporterLineFunc on_line, ImporterExitFunc on_exit, void *userdata, ImporterRun **ret,
                       GError **error);
/* A line of the importer's slot protocol: "wait" (seconds and reason
 * set) or "resume"; false for other lines. */
bool importer_run_parse_wait(const char *line, unsigned *ret_seconds, const char **ret_reason);
/* Kills it and the processes it started (qemu-img); on_exit still runs. */
void importer_run_kill(ImporterRun *r);
ImporterRun *importer_run_free(ImporterRun *r);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ImporterRun, importer_run_free)
