/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "importer-run.h"
#include "util.h"

#define MAX_LINE 4096
#define MAX_ERRORS 8192

struct ImporterRun {
        pid_t pid;
        sd_event_source *child, *out, *err;
        GString *line, *errors;
        ImporterLineFunc on_line;
        ImporterExitFunc on_exit;
        void *userdata;
};

static int on_output(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        ImporterRun *r = userdata;
        char buf[4096];
        ssize_t n;

        while ((n = read(fd, buf, sizeof buf)) > 0)
                for (ssize_t i = 0; i < n; i++) {
                        if (buf[i] == '\n') {
                                r->on_line(r->line->str, r->userdata);
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
        r->on_exit(si->si_code == CLD_EXITED ? si->si_status : -1, r->errors->str, r->userdata);
        return 0;
}

static void child_setup(gpointer data) {
        sigset_t none;
        /* a process group of its own: killing it kills qemu-img too */
        setpgid(0, 0);
        /* not the daemon's blocked signals (sd-event's) */
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
}

int importer_run_start(Services *s, const char *const *args, const char *const *env, int stdin_fd,
                       ImporterLineFunc on_line, ImporterExitFunc on_exit, void *userdata, ImporterRun **ret, GError **error) {
        g_autoptr(GStrvBuilder) argv = g_strv_builder_new(), envb = g_strv_builder_new();
        g_auto(GStrv) a = NULL, e = NULL;
        g_autoptr(GError) ge = NULL;
        int out_fd = -1, err_fd = -1;
        GPid pid;

        g_strv_builder_add(argv, s->importer);
        g_strv_builder_addv(argv, (const char **) args);
        g_strv_builder_add(envb, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
        /* sanitizer builds (tests): the importer is checked the same way */
        for (const char *const *v = (const char *const[]) { "ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS", NULL }; *v; v++)
                if (getenv(*v)) {
                        g_autofree char *kv = g_strdup_printf("%s=%s", *v, getenv(*v));
                        g_strv_builder_add(envb, kv);
                }
        if (env)
                g_strv_builder_addv(envb, (const char **) env);
        a = g_strv_builder_end(argv);
        e = g_strv_builder_end(envb);

        int source_fds[] = { stdin_fd };
        int target_fds[] = { STDIN_FILENO };
        bool with_stdin = stdin_fd >= 0;
        if (!g_spawn_async_with_pipes_and_fds(NULL, (const char *const *) a, (const char *const *) e,
                                              G_SPAWN_DO_NOT_REAP_CHILD | (with_stdin ? 0 : G_SPAWN_STDIN_FROM_DEV_NULL),
                                              child_setup, NULL, -1, -1, -1, with_stdin ? source_fds : NULL,
                                              with_stdin ? target_fds : NULL, with_stdin ? 1 : 0, &pid, NULL, &out_fd, &err_fd, &ge))
                return ev_error_set(error, EIO, "cannot start %s: %s", s->importer, ge->message);

        ImporterRun *r = g_new0(ImporterRun, 1);
        r->pid = pid;
        r->line = g_string_new(NULL);
        r->errors = g_string_new(NULL);
        r->on_line = on_line;
        r->on_exit = on_exit;
        r->userdata = userdata;
        fcntl(out_fd, F_SETFL, O_NONBLOCK);
        fcntl(err_fd, F_SETFL, O_NONBLOCK);
        sd_event_add_child(s->event, &r->child, pid, WEXITED, on_child, r);
        sd_event_add_io(s->event, &r->out, out_fd, EPOLLIN, on_output, r);
        sd_event_source_set_io_fd_own(r->out, true);
        sd_event_add_io(s->event, &r->err, err_fd, EPOLLIN, on_errors, r);
        sd_event_source_set_io_fd_own(r->err, true);
        *ret = r;
        return 0;
}

void importer_run_kill(ImporterRun *r) {
        if (!r || r->pid <= 0)
                return;
        kill(-r->pid, SIGKILL);         /* the importer and its qemu-img */
        kill(r->pid, SIGKILL);          /* in case it had not made its group yet */
}

void importer_run_free(ImporterRun *r) {
        if (!r)
                return;
        sd_event_source_disable_unref(r->child);
        sd_event_source_disable_unref(r->out);
        sd_event_source_disable_unref(r->err);
        g_string_free(r->line, TRUE);
        g_string_free(r->errors, TRUE);
        g_free(r);
}
