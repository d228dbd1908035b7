/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* edgevirt-importer's command line (the head of importer.c says what each
 * mode takes): read into Options, and the combinations that make no sense
 * refused before anything is opened. */
#include <getopt.h>
#include <glib.h>

#include "importer.h"

void importer_parse_args(int argc, char *argv[], Options *o) {
        enum { TARGET = 0x100, SIZE, SCRATCH, URL, STDIN_, CA, HEADER, CHECKSUM, REGISTRY, CACHE, SELF_TEST, CONTROL_FD,
               STALL, IDLE, ARCHIVE, NAME, SAVE, RESOLVE, FILE_, PUSH, INSECURE, EXPORT, FORMAT };
        static const struct option opts[] = {
                { "target", required_argument, NULL, TARGET }, { "size", required_argument, NULL, SIZE },
                { "scratch", required_argument, NULL, SCRATCH }, { "url", required_argument, NULL, URL },
                { "stdin", no_argument, NULL, STDIN_ }, { "ca-file", required_argument, NULL, CA },
                { "header", required_argument, NULL, HEADER }, { "checksum", required_argument, NULL, CHECKSUM },
                { "registry", required_argument, NULL, REGISTRY }, { "cache", required_argument, NULL, CACHE },
                { "self-test", no_argument, NULL, SELF_TEST }, { "control-fd", required_argument, NULL, CONTROL_FD },
                { "stall-timeout", required_argument, NULL, STALL }, { "idle-timeout", required_argument, NULL, IDLE },
                { "archive", no_argument, NULL, ARCHIVE }, { "name", required_argument, NULL, NAME },
                { "save", required_argument, NULL, SAVE }, { "push", required_argument, NULL, PUSH },
                { "insecure", no_argument, NULL, INSECURE }, { "export", required_argument, NULL, EXPORT },
                { "format", required_argument, NULL, FORMAT },
                { "resolve", no_argument, NULL, RESOLVE }, { "file", required_argument, NULL, FILE_ }, {}
        };
        g_autoptr(GPtrArray) headers = g_ptr_array_new();
        g_autoptr(GPtrArray) files = g_ptr_array_new();
        int c;

        while ((c = getopt_long(argc, argv, "", opts, NULL)) >= 0)
                switch (c) {
                case TARGET: o->target = optarg; break;
                case SIZE: o->size = g_ascii_strtoull(optarg, NULL, 10); break;
                case SCRATCH: o->scratch = optarg; break;
                case URL: o->url = optarg; break;
                case STDIN_: o->from_stdin = true; break;
                case CA: o->ca_file = optarg; break;
                case HEADER: g_ptr_array_add(headers, optarg); break;
                case CHECKSUM: o->checksum = optarg; break;
                case REGISTRY: o->registry = optarg; break;
                case CACHE: o->cache = optarg; break;
                case SELF_TEST: o->self_test = true; break;
                case CONTROL_FD: o->control_fd = (int) g_ascii_strtoll(optarg, NULL, 10); break;
                case STALL: o->stall_seconds = (unsigned) g_ascii_strtoull(optarg, NULL, 10); break;
                case IDLE: o->idle_seconds = (unsigned) g_ascii_strtoull(optarg, NULL, 10); break;
                case ARCHIVE: o->archive = true; break;
                case NAME: o->name = optarg; break;
                case SAVE: o->save = optarg; break;
                case RESOLVE: o->resolve = true; break;
                case FILE_: g_ptr_array_add(files, optarg); break;
                case PUSH: o->push = optarg; break;
                case INSECURE: o->insecure = true; break;
                case EXPORT: o->export_path = optarg; break;
                case FORMAT: o->format = optarg; break;
                default: die(false, "usage: see the head of storage/importer/importer.c");
                }
        if (o->resolve && (!o->registry || o->target || o->cache || o->url || o->from_stdin))
                die(false, "edgevirt-importer: --resolve takes --registry and no target");
        if (o->self_test && o->target && o->scratch)
                o->from_stdin = true;   /* nothing is read */
        if (o->save) {
                if (!o->name || !o->scratch || o->target || o->cache || o->url || o->registry || o->archive)
                        die(false, "edgevirt-importer: --save takes --name and --scratch");
                return;
        }
        if (o->push) {
                if (!o->registry || !o->scratch || o->target || o->cache || o->url || o->archive || o->save)
                        die(false, "edgevirt-importer: --push takes --registry and --scratch");
                return;
        }
        if (o->export_path) {
                if (!o->format || !o->scratch || o->target || o->cache || o->url || o->registry || o->archive ||
                    o->save || o->push)
                        die(false, "edgevirt-importer: --export takes --format and --scratch");
                return;
        }
        if (o->archive) {
                if (!o->cache || !o->size || !o->scratch || o->target || o->url || o->registry)
                        die(false, "edgevirt-importer: --archive takes --cache, --size and --scratch");
                return;
        }
        bool one_source = (!!o->url + !!o->from_stdin + !!o->registry) == 1;
        if (!o->resolve && ((!o->target && !o->cache) || !o->size || !o->scratch || !one_source))
                die(false, "edgevirt-importer: --target (or --cache), --size, --scratch and one of "
                    "--url/--stdin/--registry are needed");
        if (o->cache && !o->registry)
                die(false, "edgevirt-importer: --cache is for --registry sources");
        if (files->len && (!o->cache || o->target))
                die(false, "edgevirt-importer: --file takes --registry and --cache, and no --target");
        if (files->len) {
                g_ptr_array_add(files, NULL);
                o->files = (char **) g_ptr_array_steal(files, NULL);
        }
        g_ptr_array_add(headers, NULL);
        o->headers = (char **) g_ptr_array_steal(headers, NULL);
}
