/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the daemon's programs start with (ev_spawn_child_defaults): the
 * daemon blocks SIGTERM, SIGINT and SIGCHLD (sd-event reads them) and
 * ignores SIGPIPE; a program it runs has neither. */
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util.h"

/* SigBlk and SigIgn of a child run with setup (or none) */
static void child_masks(GSpawnChildSetupFunc setup, guint64 *blocked, guint64 *ignored) {
        char *argv[] = { "cat", "/proc/self/status", NULL };
        g_autofree char *out = NULL;
        g_autoptr(GError) e = NULL;
        int status = 0;

        g_assert_true(g_spawn_sync(NULL, argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDIN_FROM_DEV_NULL, setup, NULL,
                                   &out, NULL, &status, &e));
        g_assert_no_error(e);
        g_assert_true(g_spawn_check_wait_status(status, NULL));
        g_auto(GStrv) lines = g_strsplit(out, "\n", -1);
        *blocked = *ignored = G_MAXUINT64;
        for (char **l = lines; *l; l++) {
                if (g_str_has_prefix(*l, "SigBlk:"))
                        *blocked = g_ascii_strtoull(*l + 7, NULL, 16);
                else if (g_str_has_prefix(*l, "SigIgn:"))
                        *ignored = g_ascii_strtoull(*l + 7, NULL, 16);
        }
        g_assert_cmpuint(*blocked, !=, G_MAXUINT64);
        g_assert_cmpuint(*ignored, !=, G_MAXUINT64);
}

static void test_child_defaults(void) {
        const guint64 term_bit = 1ULL << (SIGTERM - 1);
        guint64 blocked, ignored;
        sigset_t mask, old;

        /* the daemon's own state, as dbus/main.c makes it */
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGCHLD);
        sigprocmask(SIG_BLOCK, &mask, &old);
        signal(SIGPIPE, SIG_IGN);

        /* without the setup the mask is inherited: what the test looks for is
         * there (GLib itself puts SIGPIPE back to its default) */
        child_masks(NULL, &blocked, &ignored);
        g_assert_cmpuint(blocked & term_bit, ==, term_bit);

        child_masks(ev_spawn_child_defaults, &blocked, &ignored);
        g_assert_cmpuint(blocked, ==, 0);

        signal(SIGPIPE, SIG_DFL);
        sigprocmask(SIG_SETMASK, &old, NULL);
}

/* The function itself, in a child of its own: GLib's fork path puts
 * SIGPIPE back on its own (above), its posix_spawn path and other
 * spawners do not. */
static void test_reset_itself(void) {
        int status = 0;
        pid_t pid = fork();

        g_assert_cmpint(pid, >=, 0);
        if (pid == 0) {
                sigset_t mask, now;
                struct sigaction pipe_action;
                sigemptyset(&mask);
                sigaddset(&mask, SIGTERM);
                sigprocmask(SIG_BLOCK, &mask, NULL);
                signal(SIGPIPE, SIG_IGN);
                ev_spawn_child_defaults(NULL);
                sigprocmask(SIG_SETMASK, NULL, &now);
                sigaction(SIGPIPE, NULL, &pipe_action);
                _exit(sigismember(&now, SIGTERM) ? 2 : pipe_action.sa_handler != SIG_DFL ? 3 : 0);
        }
        g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
        g_assert_true(WIFEXITED(status));
        g_assert_cmpint(WEXITSTATUS(status), ==, 0);
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/spawn/child-defaults", test_child_defaults);
        g_test_add_func("/spawn/reset-itself", test_reset_itself);
        return g_test_run();
}
