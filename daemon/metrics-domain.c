/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* As pkg/monitoring/metrics/virt-handler/domainstats in KubeVirt: the
 * instance's labels on every series, units converted to bytes and
 * seconds, a series only when libvirt gave its value. */
#include "metrics-domain.h"
#include "metrics-objects.h"
#include "util.h"

#define NS 1e-9                         /* libvirt's times are in nanoseconds */
#define KIB 1024.0                      /* and its memory in KiB */

typedef struct Family {
        const char *name;
        PromType type;
        const char *field;              /* libvirt's field (per device: after "net.N." etc.) */
        double scale;
        const char *help;
} Family;

static const Family domain_families[] = {
        { "kubevirt_vmi_cpu_usage_seconds_total", PROM_COUNTER, "cpu.time", NS,
          "Total CPU time spent in all modes (sum of both vcpu and hypervisor usage)." },
        { "kubevirt_vmi_cpu_user_usage_seconds_total", PROM_COUNTER, "cpu.user", NS,
          "Total CPU time spent in user mode." },
        { "kubevirt_vmi_cpu_system_usage_seconds_total", PROM_COUNTER, "cpu.system", NS,
          "Total CPU time spent in system mode." },
        { "kubevirt_vmi_memory_domain_bytes", PROM_GAUGE, "balloon.maximum", KIB,
          "The amount of memory in bytes allocated to the domain. The `memory` value in domain xml file." },
        { "kubevirt_vmi_memory_actual_balloon_bytes", PROM_GAUGE, "balloon.current", KIB,
          "Current balloon size in bytes." },
        { "kubevirt_vmi_memory_resident_bytes", PROM_GAUGE, "balloon.rss", KIB,
          "Resident set size of the process running the domain." },
        { "kubevirt_vmi_memory_available_bytes", PROM_GAUGE, "balloon.available", KIB,
          "Amount of usable memory as seen by the domain. This value may not be accurate if a balloon driver is "
          "in use or if the guest OS does not initialize all assigned pages" },
        { "kubevirt_vmi_memory_unused_bytes", PROM_GAUGE, "balloon.unused", KIB,
          "The amount of memory left completely unused by the system. Memory that is available but used for "
          "reclaimable caches should NOT be reported as free." },
        { "kubevirt_vmi_memory_usable_bytes", PROM_GAUGE, "balloon.usable", KIB,
          "The amount of memory which can be reclaimed by balloon without pushing the guest system to swap, "
          "corresponds to 'Available' in /proc/meminfo." },
        { "kubevirt_vmi_memory_cached_bytes", PROM_GAUGE, "balloon.disk_caches", KIB,
          "The amount of memory that is being used to cache I/O and is available to be reclaimed, corresponds "
          "to the sum of `Buffers` + `Cached` + `SwapCached` in `/proc/meminfo`." },
        { "kubevirt_vmi_memory_swap_in_traffic_bytes", PROM_GAUGE, "balloon.swap_in", KIB,
          "The total amount of data read from swap space of the guest in bytes." },
        { "kubevirt_vmi_memory_swap_out_traffic_bytes", PROM_GAUGE, "balloon.swap_out", KIB,
          "The total amount of memory written out to swap space of the guest in bytes." },
        { "kubevirt_vmi_memory_pgmajfault_total", PROM_COUNTER, "balloon.major_fault", 1,
          "The number of page faults when disk IO was required." },
        { "kubevirt_vmi_memory_pgminfault_total", PROM_COUNTER, "balloon.minor_fault", 1,
          "The number of other page faults, when disk IO was not required." },
};

static const Family net_families[] = {
        { "kubevirt_vmi_network_receive_bytes_total", PROM_COUNTER, "rx.bytes", 1,
          "Total network traffic received in bytes." },
        { "kubevirt_vmi_network_transmit_bytes_total", PROM_COUNTER, "tx.bytes", 1,
          "Total network traffic transmitted in bytes." },
        { "kubevirt_vmi_network_receive_packets_total", PROM_COUNTER, "rx.pkts", 1,
          "Total network traffic received packets." },
        { "kubevirt_vmi_network_transmit_packets_total", PROM_COUNTER, "tx.pkts", 1,
          "Total network traffic transmitted packets." },
        { "kubevirt_vmi_network_receive_errors_total", PROM_COUNTER, "rx.errs", 1,
          "Total network received error packets." },
        { "kubevirt_vmi_network_transmit_errors_total", PROM_COUNTER, "tx.errs", 1,
          "Total network transmitted error packets." },
        { "kubevirt_vmi_network_receive_packets_dropped_total", PROM_COUNTER, "rx.drop", 1,
          "The total number of rx packets dropped on vNIC interfaces." },
        { "kubevirt_vmi_network_transmit_packets_dropped_total", PROM_COUNTER, "tx.drop", 1,
          "The total number of tx packets dropped on vNIC interfaces." },
};

static const Family block_families[] = {
        { "kubevirt_vmi_storage_iops_read_total", PROM_COUNTER, "rd.reqs", 1, "Total number of I/O read operations." },
        { "kubevirt_vmi_storage_iops_write_total", PROM_COUNTER, "wr.reqs", 1,
          "Total number of I/O write operations." },
        { "kubevirt_vmi_storage_read_traffic_bytes_total", PROM_COUNTER, "rd.bytes", 1,
          "Total number of bytes read from storage." },
        { "kubevirt_vmi_storage_write_traffic_bytes_total", PROM_COUNTER, "wr.bytes", 1,
          "Total number of written bytes." },
        { "kubevirt_vmi_storage_read_times_seconds_total", PROM_COUNTER, "rd.times", NS,
          "Total time spent on read operations." },
        { "kubevirt_vmi_storage_write_times_seconds_total", PROM_COUNTER, "wr.times", NS,
          "Total time spent on write operations." },
        { "kubevirt_vmi_storage_flush_requests_total", PROM_COUNTER, "fl.reqs", 1, "Total storage flush requests." },
        { "kubevirt_vmi_storage_flush_times_seconds_total", PROM_COUNTER, "fl.times", NS,
          "Total time spent on cache flushing." },
};

static const Family vcpu_families[] = {
        { "kubevirt_vmi_vcpu_seconds_total", PROM_COUNTER, "time", NS,
          "Total amount of time spent in each state by each vcpu (cpu_time excluding hypervisor time). Where "
          "`id` is the vcpu identifier and `state` can be one of the following: [`OFFLINE`, `RUNNING`, "
          "`BLOCKED`]." },
        { "kubevirt_vmi_vcpu_wait_seconds_total", PROM_COUNTER, "wait", NS,
          "Amount of time spent by each vcpu while waiting on I/O." },
        { "kubevirt_vmi_vcpu_delay_seconds_total", PROM_COUNTER, "delay", NS,
          "Amount of time spent by each vcpu waiting in the queue instead of running." },
};

static bool number(HvDomainStats *s, const char *field, double *ret) {
        double *v = g_hash_table_lookup(s->numbers, field);
        if (v)
                *ret = *v;
        return v != NULL;
}

/* A sample with the instance's labels and extra (name, value, ..., NULL). */
static void sample(PromSet *set, const Family *f, double value, MetricsVmi *vmi, const char *const *extra) {
        g_autoptr(GPtrArray) labels = g_ptr_array_new();

        for (guint i = 0; i < vmi->labels->len; i++)
                g_ptr_array_add(labels, vmi->labels->pdata[i]);
        for (size_t i = 0; extra && extra[i]; i++)
                g_ptr_array_add(labels, (gpointer) extra[i]);
        g_ptr_array_add(labels, NULL);
        prom_samplev(set, f->name, f->name, value * f->scale, (const char *const *) labels->pdata);
}

/* Per device (net.N., block.N.): the name the instance spec gave it, else
 * the host's. */
static void collect_devices(HvDomainStats *s, MetricsVmi *vmi, const char *prefix, const char *label,
                            const Family *families, size_t n, PromSet *set) {
        g_autofree char *count_field = g_strconcat(prefix, ".count", NULL);
        double count = 0, v;

        (void) number(s, count_field, &count);
        for (unsigned i = 0; i < (unsigned) count; i++) {
                g_autofree char *name_field = g_strdup_printf("%s.%u.name", prefix, i);
                const char *dev = g_hash_table_lookup(s->strings, name_field);
                if (!dev)
                        continue;
                const char *alias = g_hash_table_lookup(s->aliases, dev);
                const char *extra[] = { label, alias ? alias : dev, NULL };
                for (size_t k = 0; k < n; k++) {
                        g_autofree char *field = g_strdup_printf("%s.%u.%s", prefix, i, families[k].field);
                        if (number(s, field, &v))
                                sample(set, &families[k], v, vmi, extra);
                }
        }
}

static void collect_vcpus(HvDomainStats *s, MetricsVmi *vmi, PromSet *set) {
        static const char *const states[] = { "offline", "running", "blocked" };   /* VIR_VCPU_* */
        double count = 0, v, state;

        (void) number(s, "vcpu.maximum", &count);
        for (unsigned i = 0; i < (unsigned) count; i++) {
                char id[16];
                g_snprintf(id, sizeof id, "%u", i);
                g_autofree char *state_field = g_strdup_printf("vcpu.%u.state", i);
                bool known = number(s, state_field, &state) && state >= 0 && state < G_N_ELEMENTS(states);
                for (size_t k = 0; k < G_N_ELEMENTS(vcpu_families); k++) {
                        g_autofree char *field = g_strdup_printf("vcpu.%u.%s", i, vcpu_families[k].field);
                        const char *extra[] = { "id", id, k == 0 ? "state" : NULL,
                                                known ? states[(int) state] : "unknown", NULL };
                        if (number(s, field, &v))
                                sample(set, &vcpu_families[k], v, vmi, extra);
                }
        }
}

static void declare(PromSet *set, const Family *f, size_t n) {
        for (size_t i = 0; i < n; i++)
                prom_family(set, f[i].name, f[i].type, f[i].help);
}

void metrics_collect_domains(GPtrArray *stats, GHashTable *vmis, PromSet *set) {
        declare(set, domain_families, G_N_ELEMENTS(domain_families));
        declare(set, vcpu_families, G_N_ELEMENTS(vcpu_families));
        declare(set, net_families, G_N_ELEMENTS(net_families));
        declare(set, block_families, G_N_ELEMENTS(block_families));
        for (guint i = 0; stats && i < stats->len; i++) {
                HvDomainStats *s = stats->pdata[i];
                MetricsVmi *vmi = g_hash_table_lookup(vmis, s->name);
                double v;

                if (!vmi)
                        continue;       /* not an instance of ours, or not running when the objects were read */
                for (size_t k = 0; k < G_N_ELEMENTS(domain_families); k++)
                        if (number(s, domain_families[k].field, &v))
                                sample(set, &domain_families[k], v, vmi, NULL);
                collect_vcpus(s, vmi, set);
                collect_devices(s, vmi, "net", "interface", net_families, G_N_ELEMENTS(net_families), set);
                collect_devices(s, vmi, "block", "drive", block_families, G_N_ELEMENTS(block_families), set);
        }
}
