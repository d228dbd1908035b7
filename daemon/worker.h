/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>
#include <systemd/sd-event.h>

/* Blocking work (disk I/O, lvm commands, copies) runs on a pool of
 * threads; its completion comes back to the main loop through an eventfd,
 * where done() runs.  Work functions touch only their own data. */
typedef struct Worker Worker;

typedef void (*WorkFunc)(void *data);   /* on a worker thread */
typedef void (*WorkDone)(void *data);   /* on the main loop, afterwards */

int worker_new(sd_event *event, unsigned max_threads, Worker **ret);
/* Waits for running work, then frees; done() of finished work is not run. */
Worker *worker_free(Worker *w);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Worker, worker_free)
void worker_submit(Worker *w, WorkFunc work, WorkDone done, void *data);
/* From any thread: run done(data) on the main loop (libvirt's event
 * thread forwards domain events this way). */
void worker_post(Worker *w, WorkDone done, void *data);
/* Jobs submitted and not yet done. */
unsigned worker_pending(Worker *w);
