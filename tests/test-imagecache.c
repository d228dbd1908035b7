/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The image cache's pure parts: references, KubeVirt's default pull
 * policy, and credentials from a docker config (imagePullSecret). */
#include "imagecache.h"
#include "util.h"

static void test_reference_and_policy(void) {
        g_autofree char *a = imagecache_reference("quay.io/kubevirt/cirros:v1");
        g_autofree char *b = imagecache_reference("docker://quay.io/kubevirt/cirros:v1");
        g_assert_cmpstr(a, ==, "docker://quay.io/kubevirt/cirros:v1");
        g_assert_cmpstr(b, ==, a);

        g_assert_cmpstr(imagecache_default_policy("quay.io/kubevirt/cirros:v1"), ==, "IfNotPresent");
        g_assert_cmpstr(imagecache_default_policy("quay.io/kubevirt/cirros:latest"), ==, "Always");
        g_assert_cmpstr(imagecache_default_policy("quay.io/kubevirt/cirros"), ==, "Always");
        /* a port is not a tag */
        g_assert_cmpstr(imagecache_default_policy("registry:5000/kubevirt/cirros"), ==, "Always");
        g_assert_cmpstr(imagecache_default_policy("registry:5000/kubevirt/cirros:devel"), ==, "IfNotPresent");
        g_assert_cmpstr(imagecache_default_policy("quay.io/x@sha256:0123"), ==, "IfNotPresent");
}

static void creds(const char *config, const char *ref, const char *user, const char *password) {
        g_autofree char *u = NULL, *p = NULL;
        g_autoptr(GError) e = NULL;
        g_assert_cmpint(imagecache_docker_credentials(config, strlen(config), ref, &u, &p, &e), ==, 0);
        g_assert_no_error(e);
        g_assert_cmpstr(u, ==, user);
        g_assert_cmpstr(p, ==, password);
}

static void test_docker_config(void) {
        /* "puller:s3cret" */
        creds("{\"auths\":{\"registry:5000\":{\"auth\":\"cHVsbGVyOnMzY3JldA==\"}}}", "docker://registry:5000/x:v1",
              "puller", "s3cret");
        creds("{\"auths\":{\"https://registry:5000/v2/\":{\"username\":\"u\",\"password\":\"p\"}}}",
              "docker://registry:5000/x", "u", "p");
        /* Docker Hub's historic key */
        creds("{\"auths\":{\"https://index.docker.io/v1/\":{\"auth\":\"cHVsbGVyOnMzY3JldA==\"}}}",
              "docker://docker.io/library/x", "puller", "s3cret");
        /* the old .dockercfg form: hosts at the top */
        creds("{\"registry:5000\":{\"auth\":\"cHVsbGVyOnMzY3JldA==\"}}", "docker://registry:5000/x", "puller",
              "s3cret");
        /* another registry: no credentials, no error */
        creds("{\"auths\":{\"other:5000\":{\"auth\":\"cHVsbGVyOnMzY3JldA==\"}}}", "docker://registry:5000/x", NULL,
              NULL);
        /* a password may hold colons */
        creds("{\"auths\":{\"r\":{\"auth\":\"dTphOmI=\"}}}", "docker://r/x", "u", "a:b");
}

static void refused(const char *config, const char *words) {
        g_autofree char *u = NULL, *p = NULL;
        g_autoptr(GError) e = NULL;
        g_assert_cmpint(imagecache_docker_credentials(config, strlen(config), "docker://r/x", &u, &p, &e), ==, -EINVAL);
        g_assert_nonnull(strstr(e->message, words));
        g_assert_null(u);
}

static void test_bad_configs(void) {
        refused("not json", "not a docker config");
        refused("[]", "not a docker config");
        refused("{\"auths\":{\"r\":{\"auth\":\"bm9jb2xvbg==\"}}}", "not base64 of user:password");
        refused("{\"auths\":{\"r\":{}}}", "neither auth nor username");
        refused("{\"auths\":{\"r\":5}}", "not an object");
}

int main(int argc, char *argv[]) {
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/imagecache/reference-policy", test_reference_and_policy);
        g_test_add_func("/imagecache/docker-config", test_docker_config);
        g_test_add_func("/imagecache/bad-configs", test_bad_configs);
        return g_test_run();
}
