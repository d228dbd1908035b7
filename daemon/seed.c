/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* cloud-init seed images, laid out as KubeVirt writes them: NoCloud
 * (volume id "cidata": user-data, meta-data, network-config) or
 * ConfigDrive (volume id "config-2": openstack/latest/user_data,
 * meta_data.json, network_data.json).  meta-data carries instance-id
 * "<name>.<namespace>" (stable across an instance's restarts, as in
 * KubeVirt), local-hostname (spec.hostname or the name) and the SSH keys
 * of accessCredentials propagated through cloud-init.
 *
 * KubeVirt's config disks are made the same way: a configMap or secret
 * volume is an image of the object's keys as files at its root (volume id
 * the volume's volumeLabel, else "cfgdata"); a sysprep volume one of its
 * ConfigMap's or Secret's keys, which must hold autounattend.xml or
 * unattend.xml (volume id "unattendCD"). */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
/* the struct burn_source libisofs defines when libburn is not used */
#define LIBISOFS_WITHOUT_LIBBURN 1
#include <libisofs/libisofs.h>
#include <unistd.h>

#include "json-util.h"
#include "object.h"
#include "secret.h"
#include "seed.h"
#include "util.h"

typedef struct SeedFile {
        char *path;                     /* "user-data", "openstack/latest/user_data" */
        GBytes *data;
} SeedFile;

struct Seed {
        char *volume_id;                /* "cidata", "config-2", "cfgdata"... */
        GPtrArray *files;               /* SeedFile */
};

static void seed_file_free(SeedFile *f) {
        g_free(f->path);
        g_bytes_unref(f->data);
        g_free(f);
}

Seed *seed_free(Seed *s) {
        if (s) {
                g_ptr_array_unref(s->files);
                g_free(s->volume_id);
                g_free(s);
        }
        return NULL;
}

bool seed_is_volume(JsonObject *v) {
        return json_get_object(v, "cloudInitNoCloud") || json_get_object(v, "cloudInitConfigDrive") ||
               json_get_object(v, "configMap") || json_get_object(v, "secret") || json_get_object(v, "sysprep");
}

static void add_file(Seed *s, const char *path, GBytes *data) {
        SeedFile *f = g_new0(SeedFile, 1);
        f->path = g_strdup(path);
        f->data = data;
        g_ptr_array_add(s->files, f);
}

/* A key of a Secret's data, decoded. */
/* The first of keys a Secret has, decoded; errors name the field. */
static GBytes *secret_bytes(Model *m, const char *ns, const char *name, const char *const *keys, const char *field,
                            GError **error) {
        for (const char *const *k = keys; *k; k++) {
                g_autoptr(GError) e = NULL;
                GBytes *b = secret_value(m, ns, name, *k, &e);
                if (e) {
                        ev_error_set(error, ENOENT, "%s: %s", field, e->message);
                        return NULL;
                }
                if (b)
                        return b;
        }
        g_autofree char *list = g_strjoinv("\" or \"", (char **) keys);
        ev_error_set(error, ENOENT, "%s: Secret %s/%s has no key \"%s\"", field, ns, name, list);
        return NULL;
}

/* userData / userDataBase64 / secretRef (and the network equivalents). */
static int source_bytes(Model *m, Object *vmi, JsonObject *src, const char *field, const char *plain, const char *b64,
                        const char *secret_ref, const char *const *secret_keys, GBytes **ret, GError **error) {
        const char *text = json_get_string(src, plain);
        const char *enc = json_get_string(src, b64);
        JsonObject *ref = json_get_object(src, secret_ref);

        *ret = NULL;
        if (!!text + !!enc + !!ref > 1)
                return ev_error_set(error, EINVAL, "%s: Invalid value: give one of %s, %s and %s", field, plain, b64,
                                    secret_ref);
        if (text)
                *ret = g_bytes_new(text, strlen(text));
        else if (enc) {
                g_autofree char *p = g_strdup_printf("%s.%s", field, b64);
                gsize len;
                if (!g_regex_match_simple("^[A-Za-z0-9+/\\s]*=*\\s*$", enc, 0, 0))
                        return ev_error_set(error, EINVAL, "%s: Invalid value: not base64", p);
                guchar *raw = g_base64_decode(enc, &len);
                *ret = g_bytes_new_take(raw, len);
        } else if (ref) {
                g_autofree char *p = g_strdup_printf("%s.%s", field, secret_ref);
                *ret = secret_bytes(m, vmi->namespace, json_get_string(ref, "name"), secret_keys, p, error);
                if (!*ret)
                        return -ENOENT;
        }
        return 0;
}

/* SSH public keys from accessCredentials propagated through this kind of
 * seed ("noCloud" or "configDrive"). */
static int ssh_keys(Model *m, Object *vmi, const char *propagation, JsonArray *out, GError **error) {
        JsonArray *creds = json_get_array(json_get_object(object_root(vmi), "spec"), "accessCredentials");

        for (guint i = 0; creds && i < json_array_get_length(creds); i++) {
                JsonObject *key = json_get_object(json_array_get_object_element(creds, i), "sshPublicKey");
                JsonObject *prop = json_get_object(key, "propagationMethod");
                const char *secret = json_get_string(json_get_object(json_get_object(key, "source"), "secret"),
                                                     "secretName");
                Object *o = NULL;

                if (!key || !json_get_object(prop, propagation))
                        continue;
                if (model_get(m, &kind_secret, vmi->namespace, secret, &o, NULL) < 0)
                        return ev_error_set(error, ENOENT,
                                            "spec.accessCredentials[%u].sshPublicKey.source.secret: Secret %s/%s not "
                                            "found",
                                            i, vmi->namespace, secret);
                g_autoptr(GPtrArray) lines = g_ptr_array_new_with_free_func(g_free);
                secret_lines(o, lines);
                for (guint k = 0; k < lines->len; k++)
                        json_array_add_string_element(out, lines->pdata[k]);
        }
        return 0;
}

static GBytes *json_bytes(JsonObject *o) {
        g_autoptr(JsonNode) n = json_node_init_object(json_node_alloc(), o);
        char *text = json_text(n, TRUE);
        return g_bytes_new_take(text, strlen(text));
}

/* --- config disks --- */

/* Every key of a ConfigMap (data, binaryData) or a Secret (data) as a
 * file; -ENOENT when there is no such object. */
static int add_keys(Seed *s, Model *m, const KindInfo *kind, const char *ns, const char *name, GError **error) {
        Object *o = NULL;
        if (model_get(m, kind, ns, name ?: "", &o, NULL) < 0)
                return ev_error_set(error, ENOENT, "%s \"%s\" not found", kind == &kind_secret ? "secret" : "configmap",
                                    name ?: "");
        static const char *const maps[] = { "data", "binaryData", NULL };
        for (const char *const *map = maps; *map; map++) {
                JsonObject *data = json_get_object(object_root(o), *map);
                g_autoptr(GList) keys = data ? json_object_get_members(data) : NULL;
                keys = g_list_sort(keys, (GCompareFunc) strcmp);
                for (GList *k = keys; k; k = k->next) {
                        const char *v = json_get_string(data, k->data);
                        gsize len = v ? strlen(v) : 0;
                        if (kind == &kind_configmap && streq(*map, "data")) {
                                add_file(s, k->data, g_bytes_new(v, len));
                                continue;
                        }
                        guchar *raw = g_base64_decode(v ?: "", &len);
                        add_file(s, k->data, g_bytes_new_take(raw, len));
                }
        }
        return 0;
}

/* A configMap, secret or sysprep volume: -ENOENT (error set) while the
 * object it names does not exist, -EINVAL when it cannot be used. */
static int config_resolve(Model *m, Object *vmi, JsonObject *volume, Seed *s, GError **error) {
        JsonObject *cm = json_get_object(volume, "configMap"), *secret = json_get_object(volume, "secret");
        JsonObject *sysprep = json_get_object(volume, "sysprep");
        g_autoptr(GError) e = NULL;
        int r;

        if (sysprep) {
                cm = json_get_object(sysprep, "configMap");
                secret = json_get_object(sysprep, "secret");
                s->volume_id = g_strdup("unattendCD");
                r = add_keys(s, m, cm ? &kind_configmap : &kind_secret, vmi->namespace,
                             json_get_string(cm ? cm : secret, "name"), &e);
                if (r < 0) {
                        ev_error_set(error, -r, "MountVolume.SetUp failed for volume \"%s\" : %s",
                                     json_get_string(volume, "name"), e->message);
                        return r;
                }
                /* KubeVirt's validateUnattendPresence */
                for (guint i = 0; i < s->files->len; i++) {
                        const char *f = ((SeedFile *) s->files->pdata[i])->path;
                        if (!g_ascii_strcasecmp(f, "autounattend.xml") || !g_ascii_strcasecmp(f, "unattend.xml"))
                                return 0;
                }
                return ev_error_set(error, EINVAL, "volume %s: Sysprep drive should contain autounattend.xml or "
                                    "unattend.xml, but neither was found in %s %s", json_get_string(volume, "name"),
                                    cm ? "ConfigMap" : "Secret", json_get_string(cm ? cm : secret, "name"));
        }
        JsonObject *src = cm ? cm : secret;
        s->volume_id = g_strdup(isempty(json_get_string(src, "volumeLabel")) ? "cfgdata" :
                                json_get_string(src, "volumeLabel"));
        r = add_keys(s, m, cm ? &kind_configmap : &kind_secret, vmi->namespace,
                     json_get_string(src, cm ? "name" : "secretName"), &e);
        /* optional: a missing object is an empty disk, as the kubelet's empty directory */
        if (r == -ENOENT && json_get_bool(src, "optional", false))
                return 0;
        if (r < 0) {
                ev_error_set(error, -r, "MountVolume.SetUp failed for volume \"%s\" : %s",
                             json_get_string(volume, "name"), e->message);
                return r;
        }
        return 0;
}

int seed_resolve(Model *m, Object *vmi, JsonObject *volume, Seed **ret, GError **error) {
        JsonObject *spec = json_get_object(object_root(vmi), "spec");
        bool config_drive = json_get_object(volume, "cloudInitConfigDrive") != NULL;
        JsonObject *src = json_get_object(volume, config_drive ? "cloudInitConfigDrive" : "cloudInitNoCloud");
        g_autofree char *field = NULL;
        g_autoptr(Seed) s = g_new0(Seed, 1);
        g_autoptr(GBytes) user = NULL, network = NULL;
        g_autoptr(JsonArray) keys = json_array_new();
        g_autoptr(JsonObject) meta = json_object_new();
        g_autofree char *instance_id = g_strdup_printf("%s.%s", vmi->name, vmi->namespace);
        const char *hostname = json_get_string(spec, "hostname") ? json_get_string(spec, "hostname") : vmi->name;
        static const char *const user_keys[] = { "userdata", "userData", NULL };
        static const char *const network_keys[] = { "networkdata", "networkData", NULL };
        JsonArray *volumes = json_get_array(spec, "volumes");

        s->files = g_ptr_array_new_with_free_func((GDestroyNotify) seed_file_free);
        if (!json_get_object(volume, "cloudInitNoCloud") && !config_drive) {
                int r = config_resolve(m, vmi, volume, s, error);
                if (r < 0)
                        return r;
                *ret = g_steal_pointer(&s);
                return 0;
        }
        for (guint i = 0; volumes && i < json_array_get_length(volumes); i++)
                if (json_array_get_object_element(volumes, i) == volume)
                        field = g_strdup_printf("spec.volumes[%u].%s", i,
                                                config_drive ? "cloudInitConfigDrive" : "cloudInitNoCloud");
        if (!field)
                field = g_strdup(config_drive ? "cloudInitConfigDrive" : "cloudInitNoCloud");
        s->volume_id = g_strdup(config_drive ? "config-2" : "cidata");
        if (source_bytes(m, vmi, src, field, "userData", "userDataBase64", "secretRef", user_keys, &user, error) < 0 ||
            source_bytes(m, vmi, src, field, "networkData", "networkDataBase64", "networkDataSecretRef", network_keys,
                         &network, error) < 0)
                return -EINVAL;
        if (ssh_keys(m, vmi, config_drive ? "configDrive" : "noCloud", keys, error) < 0)
                return -ENOENT;

        if (config_drive) {
                json_object_set_string_member(meta, "uuid", instance_id);
                json_object_set_string_member(meta, "hostname", hostname);
                json_object_set_string_member(meta, "name", hostname);
                if (json_array_get_length(keys) > 0) {
                        JsonObject *pk = json_object_new();
                        for (guint i = 0; i < json_array_get_length(keys); i++) {
                                g_autofree char *name = g_strdup_printf("key%u", i);
                                json_object_set_string_member(pk, name, json_array_get_string_element(keys, i));
                        }
                        json_object_set_object_member(meta, "public_keys", pk);
                }
                add_file(s, "openstack/latest/meta_data.json", json_bytes(meta));
                if (user)
                        add_file(s, "openstack/latest/user_data", g_bytes_ref(user));
                if (network)
                        add_file(s, "openstack/latest/network_data.json", g_bytes_ref(network));
        } else {
                json_object_set_string_member(meta, "instance-id", instance_id);
                json_object_set_string_member(meta, "local-hostname", hostname);
                if (json_array_get_length(keys) > 0)
                        json_object_set_array_member(meta, "public-keys", json_array_ref(keys));
                add_file(s, "meta-data", json_bytes(meta));
                /* NoCloud wants a user-data file even when it is empty */
                add_file(s, "user-data", user ? g_bytes_ref(user) : g_bytes_new_static("", 0));
                if (network)
                        add_file(s, "network-config", g_bytes_ref(network));
        }
        *ret = g_steal_pointer(&s);
        return 0;
}

/* --- the image --- */

static GMutex iso_lock;                 /* libisofs keeps global state: process-wide by nature */

static IsoDir *ensure_dir(IsoDir *root, const char *path) {
        g_auto(GStrv) parts = g_strsplit(path, "/", -1);
        IsoDir *dir = root;
        for (char **p = parts; p[0] && p[1]; p++) {
                IsoNode *node = NULL;
                if (iso_dir_get_node(dir, *p, &node) == 1 && iso_node_get_type(node) == LIBISO_DIR)
                        dir = (IsoDir *) node;
                else if (iso_tree_add_new_dir(dir, *p, &dir) < 0)
                        return NULL;
        }
        return dir;
}

static int write_image(const Seed *s, int fd, GError **error) {
        IsoImage *image = NULL;
        IsoWriteOpts *opts = NULL;
        struct burn_source *burn = NULL;
        unsigned char buf[2048];
        int r = 0, n;

        if (iso_image_new(s->volume_id, &image) < 0)
                return ev_error_set(error, ENOMEM, "cannot make an ISO image");
        iso_image_set_volume_id(image, s->volume_id);
        for (guint i = 0; i < s->files->len; i++) {
                SeedFile *f = s->files->pdata[i];
                IsoStream *stream = NULL;
                IsoDir *dir = ensure_dir(iso_image_get_root(image), f->path);
                gsize len;
                const void *data = g_bytes_get_data(f->data, &len);
                /* libisofs frees the buffer with free() */
                unsigned char *copy = malloc(len ? len : 1);
                const char *base = strrchr(f->path, '/') ? strrchr(f->path, '/') + 1 : f->path;

                if (!dir || !copy) {
                        free(copy);
                        r = ev_error_set(error, ENOMEM, "cannot add %s to the seed image", f->path);
                        goto out;
                }
                memcpy(copy, data, len);
                if (iso_memory_stream_new(copy, len, &stream) < 0) {
                        free(copy);
                        r = ev_error_set(error, ENOMEM, "cannot add %s to the seed image", f->path);
                        goto out;
                }
                /* the new file takes our reference to the stream */
                n = iso_tree_add_new_file(dir, base, stream, NULL);
                if (n < 0) {
                        iso_stream_unref(stream);
                        r = ev_error_set(error, EIO, "cannot add %s to the seed image: libisofs error %d", f->path, n);
                        goto out;
                }
        }
        if (iso_write_opts_new(&opts, 0) < 0) {
                r = ev_error_set(error, ENOMEM, "cannot make ISO write options");
                goto out;
        }
        /* Rock Ridge and Joliet keep the names as they are (user-data) */
        iso_write_opts_set_rockridge(opts, 1);
        iso_write_opts_set_joliet(opts, 1);
        iso_write_opts_set_always_gmt(opts, 1);
        /* "cidata", "config-2" as they are: ISO 9660 would make them CIDATA,
         * CONFIG_2, and cloud-init looks for config-2 */
        iso_write_opts_set_relaxed_vol_atts(opts, 1);
        if (iso_image_create_burn_source(image, opts, &burn) < 0) {
                r = ev_error_set(error, EIO, "cannot write the seed image");
                goto out;
        }
        while ((n = burn->read_xt(burn, buf, sizeof buf)) == (int) sizeof buf)
                if (write(fd, buf, sizeof buf) != (ssize_t) sizeof buf) {
                        r = ev_error_set(error, errno, "cannot write the seed image: %s", g_strerror(errno));
                        break;
                }
        if (r == 0 && n < 0)
                r = ev_error_set(error, EIO, "cannot write the seed image: libisofs failed");
        burn->free_data(burn);
        free(burn);
out:
        if (opts)
                iso_write_opts_free(opts);
        iso_image_unref(image);
        return r;
}

int seed_write(const Seed *s, const char *path, GError **error) {
        g_autofree char *tmp = g_strdup_printf("%s.XXXXXX", path);
        int fd, r;

        fd = g_mkstemp_full(tmp, O_WRONLY | O_CLOEXEC, 0600);   /* user data: passwords, keys */
        if (fd < 0)
                return ev_error_set(error, errno, "cannot make %s: %s", tmp, g_strerror(errno));
        g_mutex_lock(&iso_lock);
        if (iso_init() < 0)
                r = ev_error_set(error, EIO, "cannot initialise libisofs");
        else {
                r = write_image(s, fd, error);
                iso_finish();
        }
        g_mutex_unlock(&iso_lock);
        if (r == 0 && (fsync(fd) < 0 || rename(tmp, path) < 0))
                r = ev_error_set(error, errno, "cannot write %s: %s", path, g_strerror(errno));
        close(fd);
        if (r < 0)
                unlink(tmp);
        return r;
}
