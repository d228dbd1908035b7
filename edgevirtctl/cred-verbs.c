/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* edgevirtctl credentials: virtctl's add-ssh-key, remove-ssh-key and
 * set-password — the Secrets behind a VM's accessCredentials propagated
 * through the guest agent, read, changed and applied back (the daemon
 * refuses a write over a newer version, and carries the change into the
 * running guest). */
#include <errno.h>
#include <stdio.h>

#include "ctl.h"
#include "json-util.h"
#include "manifest.h"

JsonNode *ctl_get_object(Ctl *c, const char *kind, const char *name, bool *missing) {
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        const char *doc;
        int r;

        if (missing)
                *missing = false;
        r = sd_bus_call_method(c->bus, NAME, ROOT, MANAGER, "Get", &e, &reply, "sssa{sv}", kind, c->namespace, name, 1,
                               "output", "s", "json");
        if (r < 0) {
                if (missing && sd_bus_error_has_name(&e, "org.edgevirt.EdgeVirt1.Error.NotFound"))
                        *missing = true;
                else
                        bus_fail(&e, r);
                return NULL;
        }
        if (sd_bus_message_read(reply, "s", &doc) < 0) {
                bus_fail(NULL, -EBADMSG);
                return NULL;
        }
        g_autoptr(JsonParser) p = json_parser_new();
        if (!json_parser_load_from_data(p, doc, -1, NULL) || !JSON_NODE_HOLDS_OBJECT(json_parser_get_root(p))) {
                fail(_("the daemon sent a %s that does not parse"), kind);
                return NULL;
        }
        return json_node_copy(json_parser_get_root(p));
}

int ctl_apply_object(Ctl *c, JsonNode *doc) {
        _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        g_autofree char *text = manifest_to_json(doc, FALSE);
        int r = sd_bus_call_method(c->bus, NAME, ROOT, MANAGER, "Apply", &e, &reply, "sa{sv}", text, 0);
        return r < 0 ? bus_fail(&e, r) : 0;
}

static char *random_suffix(const char *prefix, int n) {
        static const char chars[] = "bcdfghjklmnpqrstvwxz2456789";   /* as Kubernetes' generateName */
        GString *s = g_string_new(prefix);
        for (int i = 0; i < n; i++)
                g_string_append_c(s, chars[g_random_int_range(0, (gint32) sizeof chars - 1)]);
        return g_string_free(s, FALSE);
}

static JsonArray *access_credentials(JsonObject *vm) {
        return json_get_array(json_get_object(json_get_object(json_get_object(vm, "spec"), "template"), "spec"),
                              "accessCredentials");
}

/* The Secrets of the VM's entries: SSH keys for USER through the agent
 * (user non-NULL), else passwords through the agent. */
static GPtrArray *secrets_of(JsonObject *vm, const char *user) {
        GPtrArray *out = g_ptr_array_new();
        JsonArray *creds = access_credentials(vm);
        for (guint i = 0; creds && i < json_array_get_length(creds); i++) {
                JsonObject *cred = json_get_object(json_array_get_object_element(creds, i),
                                                   user ? "sshPublicKey" : "userPassword");
                JsonObject *agent = json_get_object(json_get_object(cred, "propagationMethod"), "qemuGuestAgent");
                const char *name = json_get_string(json_get_object(json_get_object(cred, "source"), "secret"),
                                                   "secretName");
                bool listed = !user;
                JsonArray *users = json_get_array(agent, "users");
                for (guint j = 0; user && users && j < json_array_get_length(users); j++)
                        listed = listed || streq(json_array_get_string_element(users, j), user);
                if (agent && !isempty(name) && listed)
                        g_ptr_array_add(out, (gpointer) name);
        }
        return out;
}

static const char *pick_secret(Ctl *c, GPtrArray *secrets) {
        if (!c->secret_name) {
                if (secrets->len > 1) {
                        fail(_("several Secrets are assigned; name one with --secret"));
                        return NULL;
                }
                return secrets->pdata[0];
        }
        for (guint i = 0; i < secrets->len; i++)
                if (streq(secrets->pdata[i], c->secret_name))
                        return c->secret_name;
        fail(_("Secret %s is not assigned to the VM for this"), c->secret_name);
        return NULL;
}

/* The Secret to change, of those assigned: the one --secret names, else
 * the only one; NULL after an error is printed. */
static JsonNode *get_picked_secret(Ctl *c, GPtrArray *secrets, const char **ret_name) {
        *ret_name = pick_secret(c, secrets);
        return *ret_name ? ctl_get_object(c, "secret", *ret_name, NULL) : NULL;
}

/* Unless --force: only a Secret the VM owns is changed (one shared with
 * other VMs is not changed by accident). */
static bool may_change(Ctl *c, JsonObject *secret, JsonObject *vm) {
        JsonArray *owners = json_get_array(json_get_object(secret, "metadata"), "ownerReferences");
        const char *uid = json_get_string(json_get_object(vm, "metadata"), "uid");
        for (guint i = 0; owners && i < json_array_get_length(owners); i++) {
                JsonObject *o = json_array_get_object_element(owners, i);
                if (streq_ptr(json_get_string(o, "kind"), "VirtualMachine") &&
                    streq_ptr(json_get_string(o, "uid"), uid))
                        return true;
        }
        if (c->force)
                return true;
        fail(_("Secret %s is not owned by VM %s (use --force to change it anyway)"),
             json_get_string(json_get_object(secret, "metadata"), "name"),
             json_get_string(json_get_object(vm, "metadata"), "name"));
        return false;
}

static char *decode(const char *b64) {
        gsize len;
        g_autofree guchar *raw = g_base64_decode(b64 ? b64 : "", &len);
        return g_strndup((const char *) raw, len);
}

static void set_data(JsonObject *secret, const char *key, const char *value) {
        g_autofree char *b64 = g_base64_encode((const guchar *) value, strlen(value));
        json_object_set_string_member(json_ensure_object(secret, "data"), key, b64);
}

/* A line holds the key when it starts with it (type and blob; the comment
 * may differ), as virtctl matches. */
static bool line_has_key(const char *line, const char *key) {
        while (g_ascii_isspace(*line))
                line++;
        return g_str_has_prefix(line, key);
}

static bool is_blank(const char *s) {
        while (g_ascii_isspace(*s))
                s++;
        return !*s;
}

static int read_key(Ctl *c, char **ret) {
        g_autofree char *key = NULL;
        g_autoptr(GError) e = NULL;

        if (!c->key_file == !c->key_value)
                return fail(_("give the public key with --file=PATH or --value=KEY (one of them)"));
        if (c->key_file && !g_file_get_contents(c->key_file, &key, NULL, &e))
                return fail("--file: %s", e->message);
        if (c->key_value)
                key = g_strdup(c->key_value);
        g_strstrip(key);
        if (!*key || strchr(key, '\n') || !strchr(key, ' '))
                return fail(_("not an SSH public key (one line: TYPE KEY [COMMENT]): %s"),
                            c->key_file ? c->key_file : c->key_value);
        *ret = g_steal_pointer(&key);
        return 0;
}

static JsonObject *owner_reference(JsonObject *vm) {
        JsonObject *o = json_object_new();
        json_object_set_string_member(o, "apiVersion", "kubevirt.io/v1");
        json_object_set_string_member(o, "kind", "VirtualMachine");
        json_object_set_string_member(o, "name", json_get_string(json_get_object(vm, "metadata"), "name"));
        json_object_set_string_member(o, "uid", json_get_string(json_get_object(vm, "metadata"), "uid"));
        json_object_set_boolean_member(o, "controller", TRUE);
        return o;
}

/* A new Secret the VM owns, holding the key, and an entry for it in the VM. */
static int add_key_in_new_secret(Ctl *c, JsonNode *vm_node, const char *key) {
        JsonObject *vm = json_node_get_object(vm_node);
        const char *vm_name = json_get_string(json_get_object(vm, "metadata"), "name");
        bool missing;

        if (!c->force) {
                g_autoptr(JsonNode) vmi = ctl_get_object(c, "vmi", vm_name, &missing);
                if (vmi)
                        return fail(_("VM %s is running: a new Secret takes effect at its next start "
                                      "(use --force to add it anyway)"), vm_name);
                if (!missing)
                        return 1;
        }
        g_autofree char *prefix = g_strdup_printf("%s-ssh-key-", vm_name);
        g_autofree char *name = random_suffix(prefix, 5), *data_key = random_suffix("ssh-key-", 6);
        g_autoptr(JsonNode) secret_node = json_node_init_object(json_node_alloc(), json_object_new());
        JsonObject *secret = json_node_get_object(secret_node), *meta = json_object_new();
        JsonArray *owners = json_array_new();
        json_object_set_string_member(secret, "apiVersion", "v1");
        json_object_set_string_member(secret, "kind", "Secret");
        json_object_set_string_member(meta, "name", name);
        json_object_set_string_member(meta, "namespace", c->namespace);
        json_array_add_object_element(owners, owner_reference(vm));
        json_object_set_array_member(meta, "ownerReferences", owners);
        json_object_set_object_member(secret, "metadata", meta);
        set_data(secret, data_key, key);
        if (ctl_apply_object(c, secret_node))
                return 1;

        /* the entry: {sshPublicKey: {source: {secret: {secretName}},
         *             propagationMethod: {qemuGuestAgent: {users: [USER]}}}} */
        JsonObject *tspec = json_ensure_object(json_ensure_object(json_ensure_object(vm, "spec"), "template"), "spec");
        JsonArray *creds = json_get_array(tspec, "accessCredentials");
        if (!creds) {
                creds = json_array_new();
                json_object_set_array_member(tspec, "accessCredentials", creds);
        }
        JsonObject *entry = json_object_new(), *ssh = json_object_new();
        json_object_set_string_member(json_ensure_object(json_ensure_object(ssh, "source"), "secret"), "secretName",
                                      name);
        JsonArray *users = json_array_new();
        json_array_add_string_element(users, c->cred_user);
        json_object_set_array_member(json_ensure_object(json_ensure_object(ssh, "propagationMethod"), "qemuGuestAgent"),
                                     "users", users);
        json_object_set_object_member(entry, "sshPublicKey", ssh);
        json_array_add_object_element(creds, entry);
        json_object_remove_member(vm, "status");
        if (ctl_apply_object(c, vm_node)) {
                /* the Secret alone would be an orphan */
                _cleanup_(sd_bus_error_free) sd_bus_error e = SD_BUS_ERROR_NULL;
                (void) sd_bus_call_method(c->bus, NAME, ROOT, MANAGER, "Delete", &e, NULL, "sssa{sv}", "secret",
                                          c->namespace, name, 0);
                return 1;
        }
        printf(_("Added the key for user %s in the new Secret \"%s\"; VM %s uses it from its next start\n"),
               c->cred_user, name, vm_name);
        return 0;
}

static int add_ssh_key(Ctl *c, JsonNode *vm_node, const char *key) {
        JsonObject *vm = json_node_get_object(vm_node);
        g_autoptr(GPtrArray) secrets = secrets_of(vm, c->cred_user);

        if (c->create_secret || (!c->update_secret && secrets->len == 0))
                return add_key_in_new_secret(c, vm_node, key);
        if (secrets->len == 0)
                return fail(_("no Secret gives SSH keys to user %s through the guest agent"), c->cred_user);
        const char *name = NULL;
        g_autoptr(JsonNode) node = get_picked_secret(c, secrets, &name);
        if (!node)
                return 1;
        JsonObject *secret = json_node_get_object(node), *data = json_get_object(secret, "data");
        g_autoptr(GList) keys = data ? json_object_get_members(data) : NULL;
        for (GList *l = keys; l; l = l->next) {
                g_autofree char *value = decode(json_get_string(data, l->data));
                g_auto(GStrv) lines = g_strsplit(value, "\n", -1);
                for (char **ln = lines; *ln; ln++)
                        if (line_has_key(*ln, key)) {
                                printf(_("Secret \"%s\" already holds this key\n"), name);
                                return 0;
                        }
        }
        if (!may_change(c, secret, vm))
                return 1;
        g_autofree char *data_key = random_suffix("ssh-key-", 6);
        set_data(secret, data_key, key);
        if (ctl_apply_object(c, node))
                return 1;
        printf(_("Added the key to Secret \"%s\"\n"), name);
        return 0;
}

static int remove_ssh_key(Ctl *c, JsonNode *vm_node, const char *key) {
        JsonObject *vm = json_node_get_object(vm_node);
        g_autoptr(GPtrArray) secrets = secrets_of(vm, c->cred_user);
        guint removed = 0;

        if (secrets->len == 0) {
                printf(_("No Secret gives SSH keys to user %s\n"), c->cred_user);
                return 0;
        }
        if (c->secret_name) {
                const char *name = pick_secret(c, secrets);
                if (!name)
                        return 1;
                g_ptr_array_set_size(secrets, 0);
                g_ptr_array_add(secrets, (gpointer) name);
        }
        for (guint i = 0; i < secrets->len; i++) {
                bool missing;
                g_autoptr(JsonNode) node = ctl_get_object(c, "secret", secrets->pdata[i], &missing);
                if (!node) {
                        if (missing)
                                continue;
                        return 1;
                }
                JsonObject *secret = json_node_get_object(node), *data = json_get_object(secret, "data");
                g_autoptr(GList) names = data ? json_object_get_members(data) : NULL;
                guint before = removed;
                for (GList *l = names; l; l = l->next) {
                        g_autofree char *value = decode(json_get_string(data, l->data));
                        g_auto(GStrv) lines = g_strsplit(value, "\n", -1);
                        GString *kept = g_string_new(NULL);
                        for (char **ln = lines; *ln; ln++) {
                                if (line_has_key(*ln, key))
                                        removed++;
                                else if (!is_blank(*ln)) {
                                        if (kept->len)
                                                g_string_append_c(kept, '\n');
                                        g_string_append(kept, *ln);
                                }
                        }
                        g_autofree char *rest = g_string_free(kept, FALSE);
                        if (!*rest)
                                json_object_remove_member(data, l->data);
                        else
                                set_data(secret, l->data, rest);
                }
                if (removed == before)
                        continue;
                if (!may_change(c, secret, vm) || ctl_apply_object(c, node))
                        return 1;
                printf(_("Removed the key from Secret \"%s\"\n"), (const char *) secrets->pdata[i]);
        }
        if (!removed)
                printf(_("No Secret of user %s holds this key\n"), c->cred_user);
        return 0;
}

static int set_password(Ctl *c, JsonNode *vm_node, const char *key) {
        JsonObject *vm = json_node_get_object(vm_node);
        g_autoptr(GPtrArray) secrets = secrets_of(vm, NULL);

        if (!c->password || !*c->password)
                return fail(_("give the password with --password=PASSWORD"));
        if (secrets->len == 0)
                return fail(_("no userPassword entry of VM %s is propagated through the guest agent"),
                            json_get_string(json_get_object(vm, "metadata"), "name"));
        const char *name = NULL;
        g_autoptr(JsonNode) node = get_picked_secret(c, secrets, &name);
        if (!node)
                return 1;
        JsonObject *secret = json_node_get_object(node);
        if (!may_change(c, secret, vm))
                return 1;
        set_data(secret, c->cred_user, c->password);
        if (ctl_apply_object(c, node))
                return 1;
        printf(_("Set the password of user %s in Secret \"%s\"\n"), c->cred_user, name);
        return 0;
}

/* credentials add-ssh-key|remove-ssh-key|set-password --user=USER ... VM */
int verb_credentials(Ctl *c, int argc, char **argv) {
        static const struct {
                const char *name;
                int (*run)(Ctl *c, JsonNode *vm, const char *key);
                bool takes_key;
        } subs[] = { { "add-ssh-key", add_ssh_key, true }, { "remove-ssh-key", remove_ssh_key, true },
                     { "set-password", set_password, false } };

        if (argc != 3)
                return fail(_("usage: edgevirtctl credentials add-ssh-key|remove-ssh-key --user=USER "
                              "--file=PATH|--value=KEY VM\n"
                              "       edgevirtctl credentials set-password --user=USER --password=PASSWORD VM\n"
                              "       [--secret=NAME] [--force]; add-ssh-key: [--create-secret|--update-secret]"));
        if (isempty(c->cred_user))
                return fail(_("give the guest user with --user=USER"));
        if (c->create_secret && c->update_secret)
                return fail(_("--create-secret and --update-secret exclude each other"));
        for (size_t i = 0; i < G_N_ELEMENTS(subs); i++)
                if (streq(argv[1], subs[i].name)) {
                        /* the key is read before the daemon is asked anything */
                        g_autofree char *key = NULL;
                        if (subs[i].takes_key && read_key(c, &key))
                                return 1;
                        g_autoptr(JsonNode) vm = ctl_get_object(c, "vm", argv[2], NULL);
                        return vm ? subs[i].run(c, vm, key) : 1;
                }
        return fail(_("unknown credentials command \"%s\" (add-ssh-key, remove-ssh-key, set-password)"), argv[1]);
}
