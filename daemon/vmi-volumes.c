/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* An instance's volumes: claims, DataVolumes, empty disks, containerDisks
 * (an overlay on the image cache's file), cloud-init seeds and config
 * disks (configMap, secret, sysprep: seed.c), resolved
 * into what domain.c writes into the domain XML and what the start makes
 * first (vmi.c). */
#include "domain.h"
#include "imagecache.h"
#include "json-util.h"
#include "pvc-status.h"
#include "util.h"
#include "vmi-private.h"

static void seed_job_free(SeedJob *j) {
        seed_free(j->seed);
        g_free(j->path);
        g_free(j);
}

static void overlay_free(Overlay *o) {
        g_free(o->path);
        g_free(o->backing);
        g_free(o->digest);
        g_free(o);
}

void vmi_resolved_clear(Resolved *r) {
        if (r->volumes)
                g_hash_table_unref(r->volumes);
        if (r->strings)
                g_ptr_array_unref(r->strings);
        if (r->claims)
                g_ptr_array_unref(r->claims);
        if (r->empty_disks)
                g_ptr_array_unref(r->empty_disks);
        if (r->seeds)
                g_ptr_array_unref(r->seeds);
        if (r->overlays)
                g_ptr_array_unref(r->overlays);
        if (r->images)
                g_ptr_array_unref(r->images);
        g_free(r->message);
}

static const char *keep(Resolved *r, char *s) {
        g_ptr_array_add(r->strings, s);
        return s;
}

static VolState claim_volume(VmiController *c, Object *vmi, Resolved *r, const char *vol, const char *claim_name,
                             GError **error) {
        Object *pvc = NULL;
        if (model_get(c->model, &kind_pvc, vmi->namespace, claim_name, &pvc, NULL) < 0) {
                r->message = g_strdup_printf("PVC %s/%s does not exist", vmi->namespace, claim_name);
                return VOL_PVC_NOT_FOUND;
        }
        if (!streq_ptr(object_status_string(pvc, "phase"), "Bound")) {
                r->message = g_strdup_printf("PVC %s/%s is not bound yet", vmi->namespace, claim_name);
                return VOL_WAITING;
        }
        if (services_pvc_locks(c->services, pvc->uid) > 0) {
                r->message = g_strdup_printf("PVC %s/%s is being pushed to a registry or downloaded from an "
                                             "export (PersistentVolumeClaim.Push or VirtualMachineExport.Download "
                                             "reads it): it is used once that ends", vmi->namespace, claim_name);
                return VOL_WAITING;
        }
        char *path = pvc_volume_path(c->model, pvc);
        DomainVolume *dv = g_new0(DomainVolume, 1);
        dv->path = keep(r, path);
        dv->format = "raw";
        dv->block = g_str_has_prefix(path, "/dev/");
        g_hash_table_insert(r->volumes, g_strdup(vol), dv);
        g_ptr_array_add(r->claims, g_strdup(pvc->uid));
        return VOL_READY;
}

static VolState container_disk(VmiController *c, Object *vmi, Resolved *r, const char *name, JsonObject *cd,
                               const char *dir) {
        const char *image = json_get_string(cd, "image");
        g_autofree char *ref = imagecache_reference(image);
        g_autofree char *user = NULL, *password = NULL, *digest = NULL, *backing = NULL, *msg = NULL;
        g_autofree char *digest_file = g_strdup_printf("%s/%s.digest", dir, name);
        g_autoptr(GError) e = NULL;
        const char *policy = json_get_string(cd, "imagePullPolicy");

        if (r->adopting) {
                /* the overlay exists: which image it is on, as written at start */
                if (g_file_get_contents(digest_file, &digest, NULL, NULL))
                        g_ptr_array_add(r->images, g_strdup(g_strstrip(digest)));
                return VOL_READY;
        }
        const char *secret = json_get_string(cd, "imagePullSecret");
        if (secret && imagecache_secret_credentials(c->model, vmi->namespace, secret, ref, &user, &password, &e) < 0) {
                r->reason = "ErrImagePull";
                g_free(r->message);
                r->message = g_strdup_printf("volume %s: %s", name, e->message);
                return VOL_IMAGE_ERROR;
        }
        Instance *inst = vmi_instance_find(c, vmi->uid);
        switch (imagecache_want(c->services->images, ref, policy ? policy : imagecache_default_policy(image),
                                inst ? inst->first_try : 0,
                                user, password, &digest, &backing, &r->reason, &msg)) {
        case IMAGE_PULLING:
                g_free(r->message);
                r->message = g_strdup_printf("pulling the image %s", image);
                return VOL_PULLING;
        case IMAGE_FAILED:
                g_free(r->message);
                r->message = g_strdup_printf("volume %s: %s", name, msg);
                return VOL_IMAGE_ERROR;
        case IMAGE_READY:
                break;
        }
        Overlay *o = g_new0(Overlay, 1);
        o->path = g_strdup_printf("%s/%s.qcow2", dir, name);
        o->backing = g_strdup(backing);
        o->digest = g_strdup(digest);
        DomainVolume *dv = g_new0(DomainVolume, 1);
        dv->path = keep(r, g_strdup(o->path));
        dv->format = "qcow2";
        dv->backing = keep(r, g_strdup(backing));
        g_hash_table_insert(r->volumes, g_strdup(name), dv);
        g_ptr_array_add(r->overlays, o);
        g_ptr_array_add(r->images, g_steal_pointer(&digest));
        return VOL_READY;
}

/* KubeVirt's ephemeral volume: a qcow2 overlay on the claim (read, never
 * written; still held in use), made at start and gone with the instance. */
static VolState ephemeral_volume(VmiController *c, Object *vmi, Resolved *r, const char *name, JsonObject *eph,
                                 const char *dir) {
        const char *claim = json_get_string(json_get_object(eph, "persistentVolumeClaim"), "claimName");
        VolState st = claim_volume(c, vmi, r, name, claim, NULL);
        if (st != VOL_READY)
                return st;
        DomainVolume *dv = g_hash_table_lookup(r->volumes, name);
        Overlay *o = g_new0(Overlay, 1);
        o->path = g_strdup_printf("%s/%s.qcow2", dir, name);
        o->backing = g_strdup(dv->path);
        dv->backing = dv->path;
        dv->path = keep(r, g_strdup(o->path));
        dv->format = "qcow2";
        dv->block = false;
        if (!r->adopting)
                g_ptr_array_add(r->overlays, o);
        else
                overlay_free(o);
        return VOL_READY;
}

/* firmware.kernelBoot.container: its kernelPath and initrdPath from the
 * image, through the image cache (docs/vms.md). */
static VolState kernel_boot(VmiController *c, Object *vmi, Resolved *r) {
        JsonObject *spec = json_get_object(object_root(vmi), "spec");
        JsonObject *kb = json_get_object(json_get_object(json_get_object(spec, "domain"), "firmware"), "kernelBoot");
        JsonObject *ct = json_get_object(kb, "container");
        const char *image = json_get_string(ct, "image"), *policy = json_get_string(ct, "imagePullPolicy");
        const char *kernel = json_get_string(ct, "kernelPath"), *initrd = json_get_string(ct, "initrdPath");
        const char *secret = json_get_string(ct, "imagePullSecret");
        g_autofree char *ref = NULL, *user = NULL, *password = NULL, *digest = NULL, *msg = NULL;
        g_autoptr(GError) e = NULL;
        const char *files[3] = { 0 };
        unsigned n = 0;

        if (!ct || !image || r->adopting)
                return VOL_READY;
        if (!isempty(kernel))
                files[n++] = kernel;
        if (!isempty(initrd))
                files[n++] = initrd;
        ref = imagecache_reference(image);
        if (secret && imagecache_secret_credentials(c->model, vmi->namespace, secret, ref, &user, &password, &e) < 0) {
                r->reason = "ErrImagePull";
                g_free(r->message);
                r->message = g_strdup_printf("kernel boot: %s", e->message);
                return VOL_IMAGE_ERROR;
        }
        Instance *inst = vmi_instance_find(c, vmi->uid);
        if (!policy)
                policy = imagecache_default_policy(image);
        switch (imagecache_want_files(c->services->images, ref, files, policy,
                                      inst ? inst->first_try : 0, user, password, &digest, &r->reason, &msg)) {
        case IMAGE_PULLING:
                g_free(r->message);
                r->message = g_strdup_printf("pulling the image %s (kernel boot)", image);
                return VOL_PULLING;
        case IMAGE_FAILED:
                g_free(r->message);
                r->message = g_strdup_printf("kernel boot: %s", msg);
                return VOL_IMAGE_ERROR;
        case IMAGE_READY:
                break;
        }
        if (!isempty(kernel))
                r->kernel = keep(r, imagecache_file_path(c->services->images, digest, kernel));
        if (!isempty(initrd))
                r->initrd = keep(r, imagecache_file_path(c->services->images, digest, initrd));
        return VOL_READY;
}

static void resolved_init(Resolved *r) {
        r->volumes = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
        r->strings = g_ptr_array_new_with_free_func(g_free);
        r->claims = g_ptr_array_new_with_free_func(g_free);
        r->empty_disks = g_ptr_array_new_with_free_func(g_free);
        r->seeds = g_ptr_array_new_with_free_func((GDestroyNotify) seed_job_free);
        r->overlays = g_ptr_array_new_with_free_func((GDestroyNotify) overlay_free);
        r->images = g_ptr_array_new_with_free_func(g_free);
}

/* A DataVolume, or a plain PVC of that name, as in KubeVirt. */
static VolState datavolume_volume(VmiController *c, Object *vmi, Resolved *r, const char *name, const char *dvname) {
        Object *dv = NULL;
        VolState st;

        if (model_get(c->model, &kind_datavolume, vmi->namespace, dvname, &dv, NULL) < 0) {
                st = claim_volume(c, vmi, r, name, dvname, NULL);
                if (st == VOL_PVC_NOT_FOUND) {
                        g_free(r->message);
                        r->message = g_strdup_printf("DataVolume %s/%s does not exist", vmi->namespace, dvname);
                }
                return st;
        }
        if (streq_ptr(object_status_string(dv, "phase"), "Failed")) {
                g_free(r->message);
                r->message = g_strdup_printf("DataVolume %s/%s failed: %s", vmi->namespace, dvname,
                                             object_condition(dv, "Running", "message") ?: "");
                return VOL_DV_ERROR;
        }
        if (!streq_ptr(object_status_string(dv, "phase"), "Succeeded")) {
                g_free(r->message);
                r->message = g_strdup_printf("DataVolume %s/%s is %s", vmi->namespace, dvname,
                                             object_status_string(dv, "phase") ?: "Pending");
                return VOL_WAITING;
        }
        return claim_volume(c, vmi, r, name, dvname, NULL);
}

static VolState resolve_one(VmiController *c, Object *vmi, Resolved *r, JsonObject *v, const char *dir) {
        const char *name = json_get_string(v, "name");

        if (json_get_object(v, "persistentVolumeClaim"))
                return claim_volume(c, vmi, r, name,
                                    json_get_string(json_get_object(v, "persistentVolumeClaim"), "claimName"), NULL);
        if (json_get_object(v, "dataVolume"))
                return datavolume_volume(c, vmi, r, name, json_get_string(json_get_object(v, "dataVolume"), "name"));
        if (json_get_object(v, "emptyDisk")) {
                DomainVolume *dv = g_new0(DomainVolume, 1);
                char *path = g_strdup_printf("%s/%s.img", dir, name);
                dv->path = keep(r, path);
                dv->format = "raw";
                g_hash_table_insert(r->volumes, g_strdup(name), dv);
                g_ptr_array_add(r->empty_disks, g_strdup(path));
                g_ptr_array_add(r->empty_disks, g_strdup(json_get_string(json_get_object(v, "emptyDisk"), "capacity")));
                return VOL_READY;
        }
        if (json_get_object(v, "containerDisk"))
                return container_disk(c, vmi, r, name, json_get_object(v, "containerDisk"), dir);
        if (json_get_object(v, "ephemeral"))
                return ephemeral_volume(c, vmi, r, name, json_get_object(v, "ephemeral"), dir);
        if (seed_is_volume(v)) {
                g_autoptr(GError) e = NULL;
                SeedJob *j = g_new0(SeedJob, 1);
                int k = seed_resolve(c->model, vmi, v, &j->seed, &e);
                if (k < 0) {
                        g_free(j);
                        g_free(r->message);
                        r->message = g_strdup(e->message);
                        /* a config disk's object may come: KubeVirt's pod waits for it */
                        return k == -ENOENT && !json_get_object(v, "cloudInitNoCloud") &&
                               !json_get_object(v, "cloudInitConfigDrive") ? VOL_CONFIG_MISSING : VOL_FAILED;
                }
                DomainVolume *dv = g_new0(DomainVolume, 1);
                j->path = g_strdup_printf("%s/%s.iso", dir, name);
                dv->path = keep(r, g_strdup(j->path));
                dv->format = "raw";
                dv->readonly = true;
                g_hash_table_insert(r->volumes, g_strdup(name), dv);
                g_ptr_array_add(r->seeds, j);
                return VOL_READY;
        }
        g_free(r->message);
        r->message = g_strdup_printf("volume %s: this source is not supported on edgevirt", name);
        return VOL_FAILED;
}

VolState vmi_resolve_volumes(VmiController *c, Object *vmi, Resolved *r) {
        JsonArray *volumes = json_get_array(json_get_object(object_root(vmi), "spec"), "volumes");
        g_autofree char *dir = vmi_instance_dir(c, vmi);
        VolState worst = VOL_READY;

        resolved_init(r);
        for (guint i = 0; volumes && i < json_array_get_length(volumes); i++) {
                /* the message said is the first worst volume's */
                g_autofree char *before = g_steal_pointer(&r->message);
                VolState st = resolve_one(c, vmi, r, json_array_get_object_element(volumes, i), dir);
                if (st > worst)
                        worst = st;
                else {
                        g_free(r->message);
                        r->message = g_steal_pointer(&before);
                }
        }
        VolState st = kernel_boot(c, vmi, r);
        return MAX(st, worst);
}

VolState vmi_resolve_volume(VmiController *c, Object *vmi, JsonObject *volume, Resolved *r) {
        g_autofree char *dir = vmi_instance_dir(c, vmi);

        resolved_init(r);
        return resolve_one(c, vmi, r, volume, dir);
}
