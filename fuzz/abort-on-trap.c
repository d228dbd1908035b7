/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* g_error() stops a program with SIGTRAP (G_BREAKPOINT), which libFuzzer
 * does not catch: the target would die without the input that did it
 * being saved.  Every fuzz target links this, which turns SIGTRAP into
 * abort(); libFuzzer handles SIGABRT by writing the input to its
 * artifact prefix (fuzz/run.sh prints it, base64, in the lane's TAP). */
#include <signal.h>
#include <stdlib.h>

static void on_trap(int sig) {
        (void) sig;
        abort();
}

__attribute__((constructor)) static void trap_to_abort(void) {
        signal(SIGTRAP, on_trap);
}
