/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* accessCredentials through the guest agent: what each guest user gets
 * from the Secrets (credentials.h), on a real model. */
#include <glib/gstdio.h>

#include "credentials.h"
#include "json-util.h"
#include "model-fixture.h"
#include "object.h"
#include "util.h"

static const char SECRETS[] =
        "apiVersion: v1\nkind: Secret\nmetadata: {name: keys-a}\n"
        "stringData: {b: \"ssh-ed25519 BBB b@x\\n\\n  ssh-ed25519 CCC c@x  \\n\", a: \"ssh-ed25519 AAA a@x\"}\n"
        "---\napiVersion: v1\nkind: Secret\nmetadata: {name: keys-b}\nstringData: {k: \"ssh-rsa DDD d@x\"}\n"
        "---\napiVersion: v1\nkind: Secret\nmetadata: {name: pw}\nstringData: {root: \" hunter2 \\n\", agent: x, "
        "nobody: \"  \"}\n";

static const char VMI[] =
        "apiVersion: kubevirt.io/v1\nkind: VirtualMachineInstance\nmetadata: {name: box}\n"
        "spec:\n"
        "  domain: {memory: {guest: 64Mi}}\n"
        "  accessCredentials:\n"
        "  - sshPublicKey: {source: {secret: {secretName: keys-a}}, propagationMethod: {qemuGuestAgent: {users: [root, "
        "agent]}}}\n"
        "  - sshPublicKey: {source: {secret: {secretName: keys-b}}, propagationMethod: {qemuGuestAgent: {users: "
        "[agent]}}}\n"
        "  - userPassword: {source: {secret: {secretName: pw}}, propagationMethod: {qemuGuestAgent: {}}}\n";

static void setup(Fixture *f, gconstpointer data) {
        fixture_setup(f);
        fixture_apply(f, SECRETS);
        fixture_apply(f, VMI);
}

static Object *vmi(Fixture *f) {
        Object *o = NULL;
        g_assert_cmpint(model_get(f->model, &kind_vmi, "default", "box", &o, NULL), ==, 0);
        return o;
}

static char *resolve(Fixture *f, GPtrArray **users) {
        g_autoptr(GError) e = NULL;
        char *digest = NULL;
        g_assert_cmpint(agent_credentials_resolve(f->model, vmi(f), users, &digest, &e), ==, 0);
        g_assert_no_error(e);
        return digest;
}

static void assert_keys(GuestUser *u, const char *const *want) {
        guint n = g_strv_length((char **) want);
        g_assert_cmpuint(u->keys->len, ==, n);
        for (guint i = 0; i < n; i++)
                g_assert_cmpstr(u->keys->pdata[i], ==, want[i]);
}

static void test_users(Fixture *f, gconstpointer data) {
        g_autoptr(GPtrArray) users = NULL;
        g_autofree char *digest = resolve(f, &users);

        g_assert_true(agent_credentials_wanted(json_get_object(object_root(vmi(f)), "spec")));
        /* by name; a Secret's keys in the order of their names, one a line */
        g_assert_cmpuint(users->len, ==, 3);
        GuestUser *agent = users->pdata[0], *nobody = users->pdata[1], *root = users->pdata[2];
        g_assert_cmpstr(agent->name, ==, "agent");
        g_assert_cmpstr(nobody->name, ==, "nobody");
        g_assert_cmpstr(root->name, ==, "root");
        assert_keys(agent,
                    (const char *const[]) { "ssh-ed25519 AAA a@x", "ssh-ed25519 BBB b@x", "ssh-ed25519 CCC c@x",
                                           "ssh-rsa DDD d@x", NULL });
        assert_keys(root,
                    (const char *const[]) { "ssh-ed25519 AAA a@x", "ssh-ed25519 BBB b@x", "ssh-ed25519 CCC c@x",
                                           NULL });
        /* passwords trimmed; a blank one sets nothing */
        g_assert_cmpstr(root->password, ==, "hunter2");
        g_assert_cmpstr(agent->password, ==, "x");
        g_assert_null(nobody->password);
        g_assert_cmpuint(nobody->keys->len, ==, 0);
        g_assert_cmpuint(strlen(digest), ==, 64);
}

static void test_digest_follows_the_secrets(Fixture *f, gconstpointer data) {
        g_autoptr(GPtrArray) u1 = NULL, u2 = NULL, u3 = NULL, u4 = NULL;
        g_autofree char *d1 = resolve(f, &u1), *d2 = resolve(f, &u2);
        g_assert_cmpstr(d1, ==, d2);
        fixture_apply(f,
                      "apiVersion: v1\nkind: Secret\nmetadata: {name: keys-b}\nstringData: {k: \"ssh-rsa EEE e@x\"}\n");
        g_autofree char *d3 = resolve(f, &u3);
        g_assert_cmpstr(d3, !=, d1);
        fixture_apply(f,
                      "apiVersion: v1\nkind: Secret\nmetadata: {name: pw}\n"
                      "stringData: {root: other, agent: x, nobody: \"  \"}\n");
        g_autofree char *d4 = resolve(f, &u4);
        g_assert_cmpstr(d4, !=, d3);
}

static void test_missing_secret_is_named(Fixture *f, gconstpointer data) {
        g_autoptr(GError) e = NULL;
        g_autoptr(GPtrArray) users = NULL;
        g_autofree char *digest = NULL;
        g_assert_cmpint(model_delete(f->model, &kind_secret, "default", "pw", &(DeleteOptions) { 0 }, &e), ==, 0);
        g_assert_no_error(e);
        g_assert_cmpint(agent_credentials_resolve(f->model, vmi(f), &users, &digest, &e), ==, -ENOENT);
        g_assert_nonnull(e);
        g_assert_cmpstr(e->message, ==,
                        "spec.accessCredentials[2].userPassword.source.secret: Secret default/pw not found");
}

/* When the guest is told: at once, on a change, after the resync period;
 * after a failure not before the retry delay, unless the Secrets change. */
static void test_sync_rules(void) {
        CredentialsSync *s = g_new0(CredentialsSync, 1);
        gint64 t = 1000;

        g_assert_true(credentials_sync_due(s, "d1", t));               /* never sent */
        s->sending = g_strdup("d1");
        g_assert_false(credentials_sync_due(s, "d2", t));              /* one call at a time */
        credentials_sync_done(s, true, t);
        g_assert_cmpstr(s->applied, ==, "d1");
        g_assert_false(credentials_sync_due(s, "d1", t + 1));          /* nothing new */
        g_assert_true(credentials_sync_due(s, "d2", t + 1));           /* a Secret changed */
        g_assert_true(credentials_sync_due(s, "d1", t + CREDENTIALS_RESYNC_USEC));   /* the guest may have drifted */

        s->sending = g_strdup("d2");
        credentials_sync_done(s, false, t);
        g_assert_null(s->applied);
        g_assert_false(credentials_sync_due(s, "d2", t + 1));          /* failed: wait */
        g_assert_false(credentials_sync_due(s, "d3", t + 1));
        g_assert_true(credentials_sync_due(s, "d2", t + CREDENTIALS_RETRY_USEC));

        s->sending = g_strdup("d2");
        credentials_sync_done(s, true, t);
        credentials_sync_unresolved(s);                                 /* a Secret went... */
        g_assert_true(credentials_sync_due(s, "d2", t + 1));           /* ...and came back: at once */
        credentials_sync_free(s);
}

int main(int argc, char **argv) {
        g_test_init(&argc, &argv, NULL);
        g_test_add("/credentials/users", Fixture, NULL, setup, test_users, fixture_teardown);
        g_test_add("/credentials/digest", Fixture, NULL, setup, test_digest_follows_the_secrets, fixture_teardown);
        g_test_add("/credentials/missing-secret", Fixture, NULL, setup, test_missing_secret_is_named, fixture_teardown);
        g_test_add_func("/credentials/sync-rules", test_sync_rules);
        return g_test_run();
}
