/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <sys/eventfd.h>
#include <unistd.h>

#include "util.h"
#include "worker.h"

typedef struct Job {
        bool posted;                    /* worker_post(): not counted as pending */
        WorkFunc work;
        WorkDone done;
        void *data;
} Job;

struct Worker {
        GThreadPool *pool;
        GAsyncQueue *finished;          /* Job */
        int efd;
        sd_event_source *source;
        unsigned pending;
};

static void run_job(void *item, void *userdata) {
        Worker *w = userdata;
        Job *job = item;
        uint64_t one = 1;

        job->work(job->data);
        g_async_queue_push(w->finished, job);
        (void) !write(w->efd, &one, sizeof one);
}

static int on_finished(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Worker *w = userdata;
        uint64_t n;
        Job *job;

        (void) !read(fd, &n, sizeof n);
        while ((job = g_async_queue_try_pop(w->finished))) {
                if (!job->posted)
                        w->pending--;
                if (job->done)
                        job->done(job->data);
                g_free(job);
        }
        return 0;
}

int worker_new(sd_event *event, unsigned max_threads, Worker **ret) {
        Worker *w = g_new0(Worker, 1);
        int r;

        w->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (w->efd < 0) {
                r = -errno;
                g_free(w);
                return r;
        }
        w->finished = g_async_queue_new();
        w->pool = g_thread_pool_new(run_job, w, (int) max_threads, FALSE, NULL);
        r = sd_event_add_io(event, &w->source, w->efd, EPOLLIN, on_finished, w);
        if (r < 0) {
                worker_free(w);
                return r;
        }
        *ret = w;
        return 0;
}

Worker *worker_free(Worker *w) {
        Job *job;

        if (!w)
                return NULL;
        if (w->pool)
                g_thread_pool_free(w->pool, FALSE, TRUE);
        while ((job = g_async_queue_try_pop(w->finished)))
                g_free(job);
        g_async_queue_unref(w->finished);
        sd_event_source_disable_unref(w->source);
        if (w->efd >= 0)
                close(w->efd);
        g_free(w);
        return NULL;
}

void worker_submit(Worker *w, WorkFunc work, WorkDone done, void *data) {
        Job *job = g_new0(Job, 1);

        job->work = work;
        job->done = done;
        job->data = data;
        w->pending++;
        g_thread_pool_push(w->pool, job, NULL);
}

unsigned worker_pending(Worker *w) {
        return w->pending;
}

void worker_post(Worker *w, WorkDone done, void *data) {
        Job *job = g_new0(Job, 1);
        uint64_t one = 1;

        job->posted = true;
        job->done = done;
        job->data = data;
        g_async_queue_push(w->finished, job);
        (void) !write(w->efd, &one, sizeof one);
}
