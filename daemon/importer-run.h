/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>
#include <stdbool.h>

#include "services.h"

/* One edgevirt-importer process, supervised on the main loop: its stdout
 * lines go to on_line as they come, its stderr is collected, and on_exit
 * gets the exit code (-1: killed or crashed) and what it said on stderr.
 * Used by DataVolume imports and by the image cache's pulls. */
typedef struct ImporterRun ImporterRun;

typedef void (*ImporterLineFunc)(const char *line, void *userdata);
typedef void (*ImporterExitFunc)(int code, const char *errors, void *userdata);

/* args: the importer's arguments (not its path); env: extra NAME=value;
 * stdin_fd >= 0 becomes its stdin (else /dev/null). */
int importer_run_start(Services *s, const char *const *args, const char *const *env, int stdin_fd,
                       ImporterLineFunc on_line, ImporterExitFunc on_exit, void *userdata, ImporterRun **ret, GError **error);
/* Kills it and the processes it started (qemu-img); on_exit still runs. */
void importer_run_kill(ImporterRun *r);
void importer_run_free(ImporterRun *r);
