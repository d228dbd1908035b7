/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "import-slots.h"
#include "importer-run.h"
#include "util.h"

#define MAX_LINE 4096
#define MAX_ERRORS 8192

#define CONTROL_FD 3                    /* the importer's end of the control pipe */

struct ImporterRun {
        Services *services;
        pid_t pid;
        sd_event_source *child, *out, *err;
        sd_event_source *backoff;       /* waiting to ask for the slot again */
        ImportTicket *ticket;           /* held, or asked for again */
        char *ns;                       /* the slot's namespace */
        int control;                    /* our end: a byte says "go on" */
        GString *line, *errors;
        ImporterLineFunc on_line;
        ImporterExitFunc on_exit;
        void *userdata;
};

bool importer_run_parse_wait(const char *line, unsigned *ret_seconds, const char **ret_reason) {
        unsigned seconds;
        int end = 0;

        if (streq(line, "resume")) {
                *ret_seconds = 0;
                *ret_reason = NULL;
                return true;
        }
        if (sscanf(line, "wait %u %n", &seconds, &end) != 1 || end == 0)
                return false;
        *ret_seconds = seconds;
        *ret_reason = line + end;
        return true;
}

static void on_slot_again(ImportTicket *t, void *userdata) {
        ImporterRun *r = userdata;
        /* a full pipe or a gone importer: its exit tells */
        if (r->pid > 0 && write(r->control, "g", 1) < 0)
                g_debug("importer %d: cannot resume it: %s", (int) r->pid, g_strerror(errno));
}

static int on_backoff_done(sd_event_source *s, uint64_t usec, void *userdata) {
        ImporterRun *r = userdata;
        r->backoff = sd_event_source_disable_unref(r->backoff);
        r->ticket = import_slots_request(r->services->slots, r->ns, on_slot_again, r);
        return 0;
}

/* The importer backs off before resuming: its slot goes to whoever waits. */
static void give_slot_back(ImporterRun *r, unsigned seconds) {
        if (!r->ticket || r->backoff)
                return;         /* said twice: once is enough */
        r->ticket = import_ticket_free(r->ticket);
        if (sd_event_add_time_relative(r->services->event, &r->backoff, CLOCK_MONOTONIC,
                                       (uint64_t) seconds * G_USEC_PER_SEC, 0, on_backoff_done, r) < 0)
                on_backoff_done(NULL, 0, r);
}

static void got_line(ImporterRun *r, const char *line) {
        unsigned seconds;
        const char *reason;

        if (importer_run_parse_wait(line, &seconds, &reason) && reason)
                give_slot_back(r, seconds);
        r->on_line(line, r->userdata);
}

static int on_output(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        ImporterRun *r = userdata;
        char buf[4096];
        ssize_t n;

        while ((n = read(fd, buf, sizeof buf)) > 0)
                for (ssize_t i = 0; i < n; i++) {
                        if (buf[i] == '\n') {
                                got_line(r, r->line->str);
                                g_string_truncate(r->line, 0);
                        } else if (r->line->len < MAX_LINE)
                                g_string_append_c(r->line, buf[i]);
                }
        if (n == 0)
                sd_event_source_set_enabled(s, SD_EVENT_OFF);
        return 0;
}

static int on_errors(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        ImporterRun *r = userdata;
        char buf[1024];
        ssize_t n;

        while ((n = read(fd, buf, sizeof buf)) > 0)
                if (r->errors->len < MAX_ERRORS)
                        g_string_append_len(r->errors, buf, n);
        if (n == 0)
                sd_event_source_set_enabled(s, SD_EVENT_OFF);
        return 0;
}

static int on_child(sd_event_source *s, const siginfo_t *si, void *userdata) {
        ImporterRun *r = userdata;

        /* what the importer had left to say: its pipes may still hold it */
        on_output(r->out, sd_event_source_get_io_fd(r->out), EPOLLIN, r);
        on_errors(r->err, sd_event_source_get_io_fd(r->err), EPOLLIN, r);
        g_strstrip(r->errors->str);
        r->errors->len = strlen(r->errors->str);
        sd_event_source_set_enabled(r->child, SD_EVENT_OFF);
        r->pid = 0;
        /* the slot is free before the owner hears of the end */
        r->backoff = sd_event_source_disable_unref(r->backoff);
        r->ticket = import_ticket_free(r->ticket);
        r->on_exit(si->si_code == CLD_EXITED ? si->si_status : -1, r->errors->str, r->userdata);
        return 0;
}

static void child_setup(gpointer data) {
        /* a process group of its own: killing it kills qemu-img too */
        setpgid(0, 0);
        ev_spawn_child_defaults(NULL);
}

int importer_run_start(Services *s, const char *const *args, const char *const *env, int stdin_fd, ImportTicket *ticket,
                       ImporterLineFunc on_line, ImporterExitFunc on_exit, void *userdata, ImporterRun **ret,
                       GError **error) {
        g_autoptr(GStrvBuilder) argv = g_strv_builder_new(), envb = g_strv_builder_new();
        g_auto(GStrv) a = NULL, e = NULL;
        g_autoptr(GError) ge = NULL;
        g_autofree char *stall = g_strdup_printf("--stall-timeout=%u", s->stall_timeout);
        int out_fd = -1, err_fd = -1, control[2];
        GPid pid;

        g_strv_builder_add(argv, s->importer);
        g_strv_builder_addv(argv, (const char **) args);
        g_strv_builder_add_many(argv, "--control-fd=" G_STRINGIFY(CONTROL_FD), stall, NULL);
        g_strv_builder_add(envb, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
        /* sanitizer builds (tests): the importer is checked the same way */
        static const char *const sanitizers[] = { "ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS", NULL };
        for (const char *const *v = sanitizers; *v; v++)
                if (getenv(*v)) {
                        g_autofree char *kv = g_strdup_printf("%s=%s", *v, getenv(*v));
                        g_strv_builder_add(envb, kv);
                }
        if (env)
                g_strv_builder_addv(envb, (const char **) env);
        a = g_strv_builder_end(argv);
        e = g_strv_builder_end(envb);

        if (pipe2(control, O_CLOEXEC) < 0)
                return ev_error_set(error, errno, "cannot make the importer's control pipe: %s", g_strerror(errno));
        bool with_stdin = stdin_fd >= 0;
        int source_fds[] = { control[0], stdin_fd };
        int target_fds[] = { CONTROL_FD, STDIN_FILENO };
        GSpawnFlags flags = G_SPAWN_DO_NOT_REAP_CHILD | (with_stdin ? 0 : G_SPAWN_STDIN_FROM_DEV_NULL);
        bool ok = g_spawn_async_with_pipes_and_fds(NULL, (const char *const *) a, (const char *const *) e, flags,
                                                   child_setup, NULL, -1, -1, -1, source_fds, target_fds,
                                                   with_stdin ? 2 : 1, &pid, NULL, &out_fd, &err_fd, &ge);
        close(control[0]);
        if (!ok) {
                close(control[1]);
                return ev_error_set(error, EIO, "cannot start %s: %s", s->importer, ge->message);
        }

        ImporterRun *r = g_new0(ImporterRun, 1);
        r->services = s;
        r->pid = pid;
        r->control = control[1];
        r->ticket = ticket;
        r->ns = g_strdup(ticket ? import_ticket_namespace(ticket) : "");
        fcntl(r->control, F_SETFL, O_NONBLOCK);
        r->line = g_string_new(NULL);
        r->errors = g_string_new(NULL);
        r->on_line = on_line;
        r->on_exit = on_exit;
        r->userdata = userdata;
        fcntl(out_fd, F_SETFL, O_NONBLOCK);
        fcntl(err_fd, F_SETFL, O_NONBLOCK);
        int q = sd_event_add_child(s->event, &r->child, pid, WEXITED, on_child, r);
        if (q >= 0 && (q = sd_event_add_io(s->event, &r->out, out_fd, EPOLLIN, on_output, r)) >= 0)
                sd_event_source_set_io_fd_own(r->out, true);
        else
                close(out_fd);
        if (q >= 0 && (q = sd_event_add_io(s->event, &r->err, err_fd, EPOLLIN, on_errors, r)) >= 0)
                sd_event_source_set_io_fd_own(r->err, true);
        else
                close(err_fd);
        if (q < 0) {
                /* nothing would reap it or read it: it goes now */
                importer_run_kill(r);
                (void) waitpid(pid, NULL, 0);
                r->ticket = NULL;       /* the caller's on failure */
                importer_run_free(r);
                return ev_error_set(error, -q, "cannot watch %s: %s", s->importer, g_strerror(-q));
        }
        *ret = r;
        return 0;
}

void importer_run_kill(ImporterRun *r) {
        if (!r || r->pid <= 0)
                return;
        kill(-r->pid, SIGKILL);         /* the importer and its qemu-img */
        kill(r->pid, SIGKILL);          /* in case it had not made its group yet */
}

ImporterRun *importer_run_free(ImporterRun *r) {
        if (!r)
                return NULL;
        sd_event_source_disable_unref(r->child);
        sd_event_source_disable_unref(r->backoff);
        import_ticket_free(r->ticket);
        if (r->control >= 0)
                close(r->control);
        g_free(r->ns);
        sd_event_source_disable_unref(r->out);
        sd_event_source_disable_unref(r->err);
        g_string_free(r->line, TRUE);
        g_string_free(r->errors, TRUE);
        g_free(r);
        return NULL;
}
