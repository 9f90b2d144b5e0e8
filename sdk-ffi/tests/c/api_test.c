/* The C API tested from C: every function of userspace_cni.h, its error paths, a pod without
 * interfaces, a pod whose sources disagree. Built and run by sdk-ffi/tests/c_api.rs, which
 * makes the fixture pods:
 *
 *   api_test full     POD RESOURCES   net1 vhost-user (server), net2 memif (client), a PCI VF
 *   api_test empty    POD RESOURCES   no userspace interface at all
 *   api_test conflict POD RESOURCES   net1's socket differs between two sources, net2's gateway
 *   api_test errors   BADPOD POD RESOURCES   NULLs, bad options, bad indexes, panics…
 *
 * Prints "api_test MODE: N checks" and exits 0 when all passed; each failure is printed. */
#define _POSIX_C_SOURCE 200809L /* setenv */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "userspace_cni.h"

/* Not in the header: a test hook that panics inside the library's guard. */
userspace_status userspace_internal_test_panic(void);

#define ID "c0ffee0123456789abcdef0123456789abcdef0123456789abcdef0123456789"
#define ID12 "c0ffee012345"

static int checks, failures;

#define FAIL(...)                                                                              \
    do {                                                                                       \
        failures++;                                                                            \
        fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                                   \
        fprintf(stderr, __VA_ARGS__);                                                          \
        fprintf(stderr, " (last error: %s)\n", userspace_last_error());                        \
    } while (0)
#define CHECK(cond)                                                                            \
    do {                                                                                       \
        checks++;                                                                              \
        if (!(cond)) FAIL("%s", #cond);                                                        \
    } while (0)
#define CHECK_STR(got, want)                                                                   \
    do {                                                                                       \
        const char *g_ = (got), *w_ = (want);                                                  \
        checks++;                                                                              \
        if (!g_ || !w_ || strcmp(g_, w_) != 0)                                                 \
            FAIL("%s is \"%s\", expected \"%s\"", #got, g_ ? g_ : "(null)", w_ ? w_ : "(null)"); \
    } while (0)
#define CHECK_NULL(got)                                                                        \
    do {                                                                                       \
        const void *g_ = (got);                                                                \
        checks++;                                                                              \
        if (g_) FAIL("%s is not NULL", #got);                                                  \
    } while (0)
#define CHECK_HAS(hay, needle)                                                                 \
    do {                                                                                       \
        const char *h_ = (hay), *n_ = (needle);                                                \
        checks++;                                                                              \
        if (!h_ || !strstr(h_, n_))                                                            \
            FAIL("%s (\"%s\") does not contain \"%s\"", #hay, h_ ? h_ : "(null)", n_);         \
    } while (0)
#define CHECK_STATUS(call, want)                                                               \
    do {                                                                                       \
        userspace_status s_ = (call);                                                          \
        checks++;                                                                              \
        if (s_ != (want))                                                                      \
            FAIL("%s returned %d (%s), expected %d", #call, (int)s_,                          \
                 userspace_status_describe(s_), (int)(want));                                  \
    } while (0)
/* An accessor failed as it should: the last status and the message say so. */
#define CHECK_LAST(want, needle)                                                               \
    do {                                                                                       \
        checks++;                                                                              \
        if (userspace_last_status() != (want) || !strstr(userspace_last_error(), (needle)))     \
            FAIL("last status %d, expected %d with \"%s\"", (int)userspace_last_status(),      \
                 (int)(want), (needle));                                                       \
    } while (0)

static char *join(const char *a, const char *b) {
    size_t n = strlen(a) + strlen(b) + 1;
    char *s = malloc(n);
    if (!s) abort();
    snprintf(s, n, "%s%s", a, b);
    return s;
}

/* Options for a fixture pod: its podinfo, our container ID, the resources fixture's roots. */
static userspace_options *pod_options(const char *pod, const char *res, const char *dpdk) {
    userspace_options *o = userspace_options_new();
    CHECK(o != NULL);
    char *podinfo = join(pod, "/podinfo"), *proc = join(res, "/proc"), *sys = join(res, "/sys");
    CHECK_STATUS(userspace_options_set(o, USERSPACE_OPTION_PODINFO_DIR, podinfo), USERSPACE_STATUS_OK);
    CHECK_STATUS(userspace_options_set(o, USERSPACE_OPTION_CONTAINER_ID, ID), USERSPACE_STATUS_OK);
    CHECK_STATUS(userspace_options_set(o, USERSPACE_OPTION_PROC_ROOT, proc), USERSPACE_STATUS_OK);
    CHECK_STATUS(userspace_options_set(o, USERSPACE_OPTION_SYS_ROOT, sys), USERSPACE_STATUS_OK);
    if (dpdk)
        CHECK_STATUS(userspace_options_set(o, USERSPACE_OPTION_DPDK_VERSION, dpdk), USERSPACE_STATUS_OK);
    free(podinfo);
    free(proc);
    free(sys);
    return o;
}

static userspace_view *open_pod(const char *pod, const char *res, const char *dpdk) {
    userspace_options *o = pod_options(pod, res, dpdk);
    userspace_view *v = (userspace_view *)1; /* must be overwritten */
    CHECK_STATUS(userspace_view_open(o, &v), USERSPACE_STATUS_OK);
    userspace_options_free(o); /* a view does not keep its options */
    return v;
}

/* Index of `word` in argv, or -1. */
static int find(char **argv, int argc, const char *word) {
    for (int i = 0; i < argc; i++)
        if (argv[i] && strcmp(argv[i], word) == 0) return i;
    return -1;
}

static int find_prefix(char **argv, int argc, const char *prefix) {
    for (int i = 0; i < argc; i++)
        if (argv[i] && strncmp(argv[i], prefix, strlen(prefix)) == 0) return i;
    return -1;
}

struct thread_arg {
    const userspace_view *view;
    size_t interfaces;
    int argc;
    int error_was_private;
};

static void *reader(void *p) {
    struct thread_arg *a = p;
    a->interfaces = userspace_view_interface_count(a->view);
    userspace_args *args = NULL;
    char prog[] = "thread";
    if (userspace_eal_args(a->view, prog, 0, NULL, &args) == USERSPACE_STATUS_OK)
        a->argc = userspace_args_argc(args);
    userspace_args_free(args);
    /* An error on this thread… */
    (void)userspace_view_interface(NULL, 0);
    a->error_was_private = userspace_last_status() == USERSPACE_STATUS_NULL_ARGUMENT;
    return NULL;
}

static void full(const char *pod, const char *res) {
    CHECK(userspace_abi_version() == USERSPACE_CNI_ABI_VERSION);
    CHECK(USERSPACE_CNI_ABI_COMPATIBLE());
    CHECK(strlen(userspace_library_version()) > 0);

    userspace_view *v = open_pod(pod, res, "DPDK 22.11.4");
    if (!v) return;
    CHECK_STR(userspace_last_error(), "");
    CHECK(userspace_last_status() == USERSPACE_STATUS_OK);

    char *shared = join(pod, "/shared");
    CHECK_STR(userspace_view_container_id(v), ID);
    CHECK_HAS(userspace_view_container_source(v), "override");
    CHECK_STR(userspace_view_shared_dir(v), shared);
    CHECK_STR(userspace_view_shared_dir_source(v), "annotation userspace/mapped-dir");
    CHECK(userspace_view_shared_dir_exists(v));

    /* Interfaces, in port order. */
    CHECK(userspace_view_interface_count(v) == 3);
    const userspace_interface *net1 = userspace_view_interface(v, 0);
    const userspace_interface *net2 = userspace_view_interface(v, 1);
    const userspace_interface *vf = userspace_view_interface(v, 2);
    CHECK(net1 && net2 && vf);
    CHECK(userspace_view_interface_by_name(v, "net2") == net2);

    char *sock1 = join(shared, "/" ID12 "-net1");
    CHECK_STR(userspace_interface_name(net1), "net1");
    CHECK(userspace_interface_kind(net1) == USERSPACE_KIND_VHOST_USER);
    CHECK_STR(userspace_kind_name(userspace_interface_kind(net1)), "vhost-user");
    CHECK_STR(userspace_interface_network(net1), "default/userspace-ovs");
    CHECK_STR(userspace_interface_socket_path(net1), sock1);
    CHECK(userspace_interface_role(net1) == USERSPACE_ROLE_SERVER);
    CHECK(userspace_interface_memif_mode(net1) == USERSPACE_MEMIF_MODE_UNKNOWN);
    CHECK_NULL(userspace_interface_pci_address(net1));
    CHECK_NULL(userspace_interface_vdpa_path(net1));
    CHECK_STR(userspace_interface_mac(net1), "02:00:00:00:00:01");
    uint8_t mac[6] = {0};
    CHECK_STATUS(userspace_interface_mac_octets(net1, mac, sizeof mac), USERSPACE_STATUS_OK);
    CHECK(mac[0] == 2 && mac[1] == 0 && mac[5] == 1);
    CHECK(userspace_interface_address_count(net1) == 1);
    CHECK_STR(userspace_interface_address(net1, 0), "10.56.217.10/24");
    CHECK_STR(userspace_interface_gateway(net1), "10.56.217.1");
    CHECK(userspace_interface_route_count(net1) == 2);
    CHECK_STR(userspace_interface_route_destination(net1, 0), "0.0.0.0/0");
    CHECK_NULL(userspace_interface_route_gateway(net1, 0));
    CHECK_STR(userspace_interface_route_destination(net1, 1), "192.168.0.0/16");
    CHECK_STR(userspace_interface_route_gateway(net1, 1), "10.56.217.254");
    CHECK_STR(userspace_interface_dpdk_device(net1), "net_virtio_user0");

    /* Where each fact came from. */
    CHECK(userspace_interface_source_kind(net1, USERSPACE_FIELD_SOCKET_PATH) == USERSPACE_SOURCE_KIND_NETWORK_STATUS);
    CHECK_STR(userspace_interface_source(net1, USERSPACE_FIELD_SOCKET_PATH), "annotation k8s.v1.cni.cncf.io/network-status");
    CHECK(userspace_interface_confirmation_count(net1, USERSPACE_FIELD_SOCKET_PATH) == 1);
    CHECK_STR(userspace_interface_confirmation(net1, USERSPACE_FIELD_SOCKET_PATH, 0), "annotation userspace/configuration-data");
    CHECK(userspace_interface_source_kind(net1, USERSPACE_FIELD_ROUTES) == USERSPACE_SOURCE_KIND_CONFIGURATION_DATA);
    CHECK(userspace_interface_confirmation_count(net1, USERSPACE_FIELD_ROUTES) == 0);
    CHECK(userspace_interface_source_kind(net1, USERSPACE_FIELD_VDPA_PATH) == USERSPACE_SOURCE_KIND_NONE);
    CHECK_NULL(userspace_interface_source(net1, USERSPACE_FIELD_VDPA_PATH));
    CHECK(userspace_interface_source_kind(net1, USERSPACE_FIELD_KIND) == USERSPACE_SOURCE_KIND_NETWORK_STATUS);
    CHECK(userspace_interface_source_kind(net1, USERSPACE_FIELD_MAC) == USERSPACE_SOURCE_KIND_NETWORK_STATUS);
    CHECK(userspace_interface_source_kind(net1, USERSPACE_FIELD_ADDRESSES) != USERSPACE_SOURCE_KIND_NONE);
    CHECK(userspace_interface_source_kind(net1, USERSPACE_FIELD_GATEWAY) == USERSPACE_SOURCE_KIND_CONFIGURATION_DATA);
    CHECK(userspace_interface_source_kind(net1, USERSPACE_FIELD_ROLE) != USERSPACE_SOURCE_KIND_NONE);
    CHECK(userspace_interface_source_kind(net1, USERSPACE_FIELD_NETWORK) != USERSPACE_SOURCE_KIND_NONE);

    char *sock2 = join(shared, "/memif-net2.sock");
    CHECK_STR(userspace_interface_name(net2), "net2");
    CHECK(userspace_interface_kind(net2) == USERSPACE_KIND_MEMIF);
    CHECK_STR(userspace_kind_name(USERSPACE_KIND_MEMIF), "memif");
    CHECK_STR(userspace_interface_socket_path(net2), sock2);
    CHECK(userspace_interface_role(net2) == USERSPACE_ROLE_CLIENT);
    CHECK(userspace_interface_memif_mode(net2) == USERSPACE_MEMIF_MODE_ETHERNET);
    CHECK(userspace_interface_source_kind(net2, USERSPACE_FIELD_MEMIF_MODE) == USERSPACE_SOURCE_KIND_CONFIGURATION_DATA);
    CHECK_STR(userspace_interface_dpdk_device(net2), "net_memif0");
    CHECK_NULL(userspace_interface_mac(net2));
    CHECK(userspace_interface_address_count(net2) == 1);

    CHECK_STR(userspace_interface_name(vf), "pci-0000:03:00.1");
    CHECK(userspace_interface_kind(vf) == USERSPACE_KIND_PCI);
    CHECK_STR(userspace_kind_name(USERSPACE_KIND_PCI), "pci");
    CHECK_STR(userspace_kind_name(USERSPACE_KIND_VDPA), "vdpa");
    CHECK_STR(userspace_interface_pci_address(vf), "0000:03:00.1");
    CHECK_STR(userspace_interface_dpdk_device(vf), "0000:03:00.1");
    CHECK(userspace_interface_source_kind(vf, USERSPACE_FIELD_PCI_ADDRESS) == USERSPACE_SOURCE_KIND_PCI_DEVICE_ENV);
    CHECK_STR(userspace_interface_source(vf, USERSPACE_FIELD_PCI_ADDRESS), "env PCIDEVICE_INTEL_COM_SRIOV");
    CHECK_NULL(userspace_interface_socket_path(vf));
    CHECK(userspace_interface_role(vf) == USERSPACE_ROLE_UNKNOWN);
    CHECK(userspace_interface_address_count(vf) == 0);
    CHECK(userspace_interface_route_count(vf) == 0);
    CHECK_NULL(userspace_interface_network(vf));
    CHECK_NULL(userspace_interface_gateway(vf));

    CHECK(userspace_view_conflict_count(v) == 0);
    CHECK(userspace_view_warning_count(v) == 0);

    /* CPUs: the cgroup's 2-3; the fixture puts CPU 3 on NUMA node 1. */
    CHECK(userspace_view_cpu_count(v) == 2);
    CHECK(userspace_view_cpu(v, 0) == 2);
    CHECK(userspace_view_cpu(v, 1) == 3);
    CHECK(userspace_view_cpu_numa_node(v, 0) == 0);
    CHECK(userspace_view_cpu_numa_node(v, 1) == 1);
    CHECK(userspace_view_numa_node(v) == 0);
    CHECK_STR(userspace_view_cpu_list(v), "2-3");
    CHECK_HAS(userspace_view_cpu_source(v), "cpuset.cpus.effective");

    /* Hugepages: 1000 free 2 MiB pages, hugetlb.2MB.max = 512 MiB, 1 GiB pages unlimited. */
    CHECK(userspace_view_hugepage_usable_bytes(v) == 512ull << 20);
    CHECK(userspace_view_hugepage_size(v) == 2ull << 20);
    CHECK(userspace_view_hugepage_mount_count(v) == 1);
    CHECK_STR(userspace_view_hugepage_mount(v, 0), "/dev/hugepages");
    CHECK(userspace_view_hugepage_pool_count(v) == 2);
    int seen_2m = 0, seen_1g = 0;
    for (size_t i = 0; i < userspace_view_hugepage_pool_count(v); i++) {
        uint64_t size = 0, freep = 0, total = 0, limit = 0;
        CHECK_STATUS(userspace_view_hugepage_pool(v, i, &size, &freep, &total, &limit), USERSPACE_STATUS_OK);
        if (size == 2ull << 20) {
            seen_2m = 1;
            CHECK(freep == 1000 && total == 1024 && limit == 512ull << 20);
        } else if (size == 1ull << 30) {
            seen_1g = 1;
            CHECK(freep == 0 && limit == UINT64_MAX);
        }
    }
    CHECK(seen_2m && seen_1g);
    CHECK_STATUS(userspace_view_hugepage_pool(v, 0, NULL, NULL, NULL, NULL), USERSPACE_STATUS_OK);
    uint64_t mb = 0;
    bool huge = false;
    CHECK_STATUS(userspace_view_memory(v, &mb, &huge), USERSPACE_STATUS_OK);
    CHECK(mb == 256 && huge);

    /* DPDK version, as the program said it. */
    uint32_t major = 0, minor = 0, patch = 0;
    CHECK_STATUS(userspace_view_dpdk_version(v, &major, &minor, &patch), USERSPACE_STATUS_OK);
    CHECK(major == 22 && minor == 11 && patch == 4);
    CHECK_HAS(userspace_view_dpdk_version_source(v), "set by the program");

    /* EAL arguments for the program's own rte_eal_init, with its own arguments. */
    char a0[] = "--log-level=8", a1[] = "--", a2[] = "-p", a3[] = "3";
    char *extra[] = {a0, a1, a2, a3};
    userspace_args *args = NULL;
    CHECK_STATUS(userspace_eal_args(v, "l2fwd", 4, extra, &args), USERSPACE_STATUS_OK);
    int argc = userspace_args_argc(args);
    char **argv = userspace_args_argv(args);
    CHECK(argc > 10 && argv != NULL);
    if (argv) {
        CHECK(argv[argc] == NULL);
        CHECK_STR(argv[0], "l2fwd");
        int l = find(argv, argc, "-l"), main_lcore = find(argv, argc, "--main-lcore");
        CHECK(l > 0 && main_lcore > 0);
        if (l > 0) CHECK_STR(argv[l + 1], "2,3");
        if (main_lcore > 0) CHECK_STR(argv[main_lcore + 1], "2");
        int m = find(argv, argc, "-m");
        CHECK(m > 0);
        if (m > 0) CHECK_STR(argv[m + 1], "256");
        CHECK(find(argv, argc, "--in-memory") > 0);
        CHECK(find(argv, argc, "--single-file-segments") > 0);
        CHECK(find_prefix(argv, argc, "--file-prefix=usrsp-" ID12 "-") > 0);
        char *vdev1 = join(join("--vdev=net_virtio_user0,path=", sock1), ",server=1,queues=1,mac=02:00:00:00:00:01");
        CHECK(find(argv, argc, vdev1) > 0);
        char *vdev2 = join(join("--vdev=net_memif0,role=client,socket=", sock2), ",socket-abstract=no,id=0");
        CHECK(find(argv, argc, vdev2) > 0);
        int allow = find(argv, argc, "-a");
        CHECK(allow > 0);
        if (allow > 0) CHECK_STR(argv[allow + 1], "0000:03:00.1");
        int dd = find(argv, argc, "--");
        CHECK(dd > 0 && find(argv, argc, "--log-level=8") == dd - 1);
        CHECK(dd == argc - 3);
        CHECK_STR(argv[argc - 2], "-p");
        CHECK_STR(argv[argc - 1], "3");
        CHECK(find(argv, argc, "--auto-start") < 0); /* no testpmd options for an application */
    }
    CHECK_HAS(userspace_args_line(args), "l2fwd -l 2,3 --main-lcore 2 ");
    CHECK_HAS(userspace_args_line(args), " -- -p 3");
    /* rte_eal_init reorders argv; the line keeps the original order. */
    if (argv && argc > 2) {
        char *t = argv[1];
        argv[1] = argv[2];
        argv[2] = t;
    }
    CHECK_HAS(userspace_args_line(args), "l2fwd -l 2,3");

    /* Without extra arguments: the program name, the EAL options, "--". */
    userspace_args *bare = NULL;
    CHECK_STATUS(userspace_eal_args(v, "app", 0, NULL, &bare), USERSPACE_STATUS_OK);
    CHECK_STR(userspace_args_argv(bare)[userspace_args_argc(bare) - 1], "--");
    userspace_args_free(bare);

    char *line = NULL;
    CHECK_STATUS(userspace_testpmd_line(v, NULL, &line), USERSPACE_STATUS_OK);
    CHECK_HAS(line, "dpdk-testpmd -l 2,3 --main-lcore 2 ");
    CHECK_HAS(line, "--forward-mode=io");
    userspace_string_free(line);
    CHECK_STATUS(userspace_testpmd_line(v, "/opt/dpdk/bin/dpdk-testpmd", &line), USERSPACE_STATUS_OK);
    CHECK_HAS(line, "/opt/dpdk/bin/dpdk-testpmd -l");
    userspace_string_free(line);

    char *json = NULL;
    CHECK_STATUS(userspace_view_json(v, &json), USERSPACE_STATUS_OK);
    CHECK_HAS(json, "\"name\": \"net1\"");
    CHECK_HAS(json, "\"value\": \"memif\"");
    userspace_string_free(json);
    char *report = NULL;
    CHECK_STATUS(userspace_view_report(v, &report), USERSPACE_STATUS_OK);
    CHECK_HAS(report, "PORT  NAME");
    CHECK_HAS(report, "  0     net1              vhost-user");
    CHECK_HAS(report, "[1] annotation k8s.v1.cni.cncf.io/network-status");
    CHECK_HAS(report, "kind,socket,role,mac,addresses,network [1+2]");
    CHECK_HAS(report, "DPDK 22.11.4 (set by the program");
    CHECK_HAS(report, "512 MiB usable");
    userspace_string_free(report);

    /* The view from two threads at once; errors stay on their thread. */
    struct thread_arg ta = {v, 0, 0, 0}, tb = {v, 0, 0, 0};
    pthread_t t1, t2;
    CHECK_STATUS(userspace_view_json(v, &json), USERSPACE_STATUS_OK); /* clears the last error */
    userspace_string_free(json);
    CHECK(pthread_create(&t1, NULL, reader, &ta) == 0);
    CHECK(pthread_create(&t2, NULL, reader, &tb) == 0);
    pthread_join(t1, NULL);
    pthread_join(t2, NULL);
    CHECK(ta.interfaces == 3 && tb.interfaces == 3 && ta.argc == tb.argc && ta.argc > 10);
    CHECK(ta.error_was_private && tb.error_was_private);
    CHECK(userspace_last_status() == USERSPACE_STATUS_OK);

    /* An older DPDK and the other options: spellings follow the version. */
    userspace_options *o = pod_options(pod, res, "19.11");
    CHECK_STATUS(userspace_options_set(o, USERSPACE_OPTION_FILE_PREFIX, "myapp"), USERSPACE_STATUS_OK);
    CHECK_STATUS(userspace_options_set(o, USERSPACE_OPTION_QUEUES, "2"), USERSPACE_STATUS_OK);
    CHECK_STATUS(userspace_options_set(o, USERSPACE_OPTION_WORKER_LCORES, "1"), USERSPACE_STATUS_OK);
    CHECK_STATUS(userspace_options_set(o, USERSPACE_OPTION_HUGEPAGES, "no"), USERSPACE_STATUS_OK);
    CHECK_STATUS(userspace_options_set(o, USERSPACE_OPTION_MEMORY_MB, "128"), USERSPACE_STATUS_OK);
    CHECK_STATUS(userspace_options_set(o, USERSPACE_OPTION_ALLOW_CONFLICTS, "0"), USERSPACE_STATUS_OK);
    /* Another shared dir: the plugin's socket names now resolve elsewhere than Multus' paths,
     * a conflict, which this program accepts. */
    CHECK_STATUS(userspace_options_set(o, USERSPACE_OPTION_ALLOW_CONFLICTS, "1"), USERSPACE_STATUS_OK);
    char *elsewhere = join(pod, "/elsewhere");
    CHECK_STATUS(userspace_options_set(o, USERSPACE_OPTION_SHARED_DIR, elsewhere), USERSPACE_STATUS_OK);
    userspace_view *old = NULL;
    CHECK_STATUS(userspace_view_open(o, &old), USERSPACE_STATUS_OK);
    userspace_options_free(o);
    CHECK_STR(userspace_view_shared_dir(old), elsewhere);
    CHECK_STR(userspace_view_shared_dir_source(old), "override");
    CHECK(!userspace_view_shared_dir_exists(old));
    CHECK(userspace_view_conflict_count(old) == 1); /* net1's socket path */
    CHECK_STATUS(userspace_view_memory(old, &mb, &huge), USERSPACE_STATUS_OK);
    CHECK(mb == 128 && !huge);
    userspace_args *oargs = NULL;
    CHECK_STATUS(userspace_eal_args(old, "app", 0, NULL, &oargs), USERSPACE_STATUS_OK);
    char **oargv = userspace_args_argv(oargs);
    int oargc = userspace_args_argc(oargs);
    CHECK(find(oargv, oargc, "--master-lcore") > 0);
    CHECK(find(oargv, oargc, "-w") > 0);
    CHECK(find(oargv, oargc, "--no-huge") > 0);
    CHECK(find(oargv, oargc, "--file-prefix=myapp") > 0);
    CHECK_HAS(userspace_args_line(oargs), "role=slave");
    CHECK_HAS(userspace_args_line(oargs), "server=1,queues=2");
    userspace_args_free(oargs);
    userspace_view_free(old);

    userspace_args_free(args); /* after the view: independent of it */
    userspace_view_free(v);
    free(shared);
    free(sock1);
    free(sock2);
    free(elsewhere);
}

static void empty(const char *pod, const char *res) {
    userspace_view *v = open_pod(pod, res, "22.11");
    if (!v) return;
    CHECK(userspace_view_interface_count(v) == 0);
    CHECK_NULL(userspace_view_interface(v, 0));
    CHECK_LAST(USERSPACE_STATUS_INVALID_ARGUMENT, "out of range");
    CHECK(userspace_view_conflict_count(v) == 0);
    CHECK(userspace_view_cpu_count(v) == 8);
    CHECK_STR(userspace_view_cpu_list(v), "0-7");
    CHECK(userspace_view_hugepage_usable_bytes(v) == 0);
    CHECK(userspace_view_hugepage_mount_count(v) == 0);
    CHECK(userspace_view_numa_node(v) == -1);
    CHECK(userspace_view_cpu_numa_node(v, 0) == -1);
    CHECK_STR(userspace_view_shared_dir_source(v), "default");
    uint64_t mb = 0;
    bool huge = true;
    CHECK_STATUS(userspace_view_memory(v, &mb, &huge), USERSPACE_STATUS_OK);
    CHECK(mb == 256 && !huge);

    userspace_args *args = (userspace_args *)1;
    CHECK_STATUS(userspace_eal_args(v, "app", 0, NULL, &args), USERSPACE_STATUS_EAL);
    CHECK_NULL(args);
    CHECK_HAS(userspace_last_error(), "no userspace interfaces");
    CHECK(userspace_last_status() == USERSPACE_STATUS_EAL);
    char *line = NULL;
    CHECK_STATUS(userspace_testpmd_line(v, NULL, &line), USERSPACE_STATUS_EAL);
    CHECK_NULL(line);

    char *json = NULL;
    CHECK_STATUS(userspace_view_json(v, &json), USERSPACE_STATUS_OK);
    CHECK_HAS(json, "\"interfaces\": []");
    userspace_string_free(json);
    char *report = NULL;
    CHECK_STATUS(userspace_view_report(v, &report), USERSPACE_STATUS_OK);
    CHECK_HAS(report, "interfaces (0):");
    CHECK_HAS(report, "none usable");
    userspace_string_free(report);
    userspace_view_free(v);

    /* Hugepages required but absent. */
    userspace_options *o = pod_options(pod, res, "22.11");
    CHECK_STATUS(userspace_options_set(o, USERSPACE_OPTION_HUGEPAGES, "yes"), USERSPACE_STATUS_OK);
    CHECK_STATUS(userspace_view_open(o, &v), USERSPACE_STATUS_OK);
    CHECK_STATUS(userspace_view_memory(v, &mb, &huge), USERSPACE_STATUS_EAL);
    CHECK_HAS(userspace_last_error(), "no usable hugepages");
    userspace_view_free(v);
    userspace_options_free(o);
}

static void conflict(const char *pod, const char *res) {
    userspace_view *v = open_pod(pod, res, "22.11");
    if (!v) return;
    CHECK(userspace_view_interface_count(v) == 2);
    CHECK(userspace_view_conflict_count(v) == 2);
    const userspace_conflict *sock = NULL, *gw = NULL;
    for (size_t i = 0; i < userspace_view_conflict_count(v); i++) {
        const userspace_conflict *c = userspace_view_conflict(v, i);
        if (userspace_conflict_field(c) == USERSPACE_FIELD_SOCKET_PATH) sock = c;
        if (userspace_conflict_field(c) == USERSPACE_FIELD_GATEWAY) gw = c;
    }
    CHECK(sock && gw);
    char *kept = join(join("\"", pod), "/elsewhere/" ID12 "-net1\"");
    char *other = join(join("\"", pod), "/shared/" ID12 "-net1\"");
    CHECK_STR(userspace_conflict_interface(sock), "net1");
    CHECK_STR(userspace_conflict_field_name(sock), "socket_path");
    CHECK_STR(userspace_conflict_kept_value(sock), kept);
    CHECK_STR(userspace_conflict_kept_source(sock), "annotation k8s.v1.cni.cncf.io/network-status");
    CHECK_STR(userspace_conflict_other_value(sock), other);
    CHECK_STR(userspace_conflict_other_source(sock), "annotation userspace/configuration-data");
    CHECK(userspace_conflict_affects_dataplane(sock));
    CHECK_HAS(userspace_conflict_message(sock), "net1: socket_path is ");
    CHECK_STR(userspace_conflict_interface(gw), "net2");
    CHECK_STR(userspace_conflict_field_name(gw), "gateway");
    CHECK(!userspace_conflict_affects_dataplane(gw));
    /* The preferred source's value is the one the accessors give. */
    const userspace_interface *net1 = userspace_view_interface_by_name(v, "net1");
    CHECK_HAS(userspace_interface_socket_path(net1), "/elsewhere/");

    userspace_args *args = NULL;
    CHECK_STATUS(userspace_eal_args(v, "app", 0, NULL, &args), USERSPACE_STATUS_CONFLICT);
    CHECK_NULL(args);
    CHECK_HAS(userspace_last_error(), "sources disagree");
    CHECK_HAS(userspace_last_error(), "socket_path");
    char *report = NULL;
    CHECK_STATUS(userspace_view_report(v, &report), USERSPACE_STATUS_OK);
    CHECK_HAS(report, "conflicts:");
    userspace_string_free(report);
    userspace_view_free(v);

    /* Going on anyway uses the preferred source. */
    userspace_options *o = pod_options(pod, res, "22.11");
    CHECK_STATUS(userspace_options_set(o, USERSPACE_OPTION_ALLOW_CONFLICTS, "1"), USERSPACE_STATUS_OK);
    CHECK_STATUS(userspace_view_open(o, &v), USERSPACE_STATUS_OK);
    userspace_options_free(o);
    CHECK_STATUS(userspace_eal_args(v, "app", 0, NULL, &args), USERSPACE_STATUS_OK);
    CHECK_HAS(userspace_args_line(args), "/elsewhere/" ID12 "-net1,server=1");
    userspace_args_free(args);
    userspace_view_free(v);
    free(kept);
    free(other);
}

static void errors(const char *badpod, const char *pod, const char *res) {
    /* Statuses in words. */
    CHECK_STR(userspace_status_describe(USERSPACE_STATUS_OK), "ok");
    CHECK_STR(userspace_status_describe(USERSPACE_STATUS_PANIC), "internal error (panic)");
    CHECK_STR(userspace_status_describe(42), "unknown status");
    CHECK_STR(userspace_kind_name(99), "unknown");
    CHECK_STR(userspace_kind_name(USERSPACE_KIND_UNKNOWN), "unknown");

    /* A panic inside the library is an error code, and the library still works after it. */
    CHECK_STATUS(userspace_internal_test_panic(), USERSPACE_STATUS_PANIC);
    CHECK_HAS(userspace_last_error(), "internal error (panic): userspace_internal_test_panic");
    CHECK(userspace_last_status() == USERSPACE_STATUS_PANIC);

    /* Opening. */
    CHECK_STATUS(userspace_view_open(NULL, NULL), USERSPACE_STATUS_NULL_ARGUMENT);
    CHECK_HAS(userspace_last_error(), "out must not be NULL");
    userspace_options *o = pod_options(badpod, res, "22.11");
    userspace_view *v = (userspace_view *)1;
    CHECK_STATUS(userspace_view_open(o, &v), USERSPACE_STATUS_DISCOVERY);
    CHECK_NULL(v);
    CHECK_HAS(userspace_last_error(), "userspace/configuration-data");
    CHECK_STATUS(userspace_options_set(o, USERSPACE_OPTION_PODINFO_DIR, NULL), USERSPACE_STATUS_OK);
    CHECK_STATUS(userspace_options_set(o, USERSPACE_OPTION_CONTAINER_ID, "not an id!"), USERSPACE_STATUS_OK);
    CHECK_STATUS(userspace_view_open(o, &v), USERSPACE_STATUS_DISCOVERY);
    CHECK_NULL(v);
    userspace_options_free(o);

    /* Options. */
    o = userspace_options_new();
    CHECK_STATUS(userspace_options_set(NULL, USERSPACE_OPTION_QUEUES, "1"), USERSPACE_STATUS_NULL_ARGUMENT);
    CHECK_STATUS(userspace_options_set(o, 999, "x"), USERSPACE_STATUS_INVALID_ARGUMENT);
    CHECK_HAS(userspace_last_error(), "999 is not a userspace_option");
    CHECK_STATUS(userspace_options_set(o, 0, "x"), USERSPACE_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(userspace_options_set(o, USERSPACE_OPTION_DPDK_VERSION, "banana"), USERSPACE_STATUS_INVALID_ARGUMENT);
    CHECK_HAS(userspace_last_error(), "not a DPDK version");
    CHECK_STATUS(userspace_options_set(o, USERSPACE_OPTION_HUGEPAGES, "maybe"), USERSPACE_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(userspace_options_set(o, USERSPACE_OPTION_MEMORY_MB, "0"), USERSPACE_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(userspace_options_set(o, USERSPACE_OPTION_MEMORY_MB, "lots"), USERSPACE_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(userspace_options_set(o, USERSPACE_OPTION_FILE_PREFIX, "a/b"), USERSPACE_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(userspace_options_set(o, USERSPACE_OPTION_WORKER_LCORES, "0"), USERSPACE_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(userspace_options_set(o, USERSPACE_OPTION_QUEUES, "70000"), USERSPACE_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(userspace_options_set(o, USERSPACE_OPTION_ALLOW_CONFLICTS, "2"), USERSPACE_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(userspace_options_set(o, USERSPACE_OPTION_PROC_ROOT, "\xff\xfe"), USERSPACE_STATUS_INVALID_ARGUMENT);
    CHECK_HAS(userspace_last_error(), "not UTF-8");
    CHECK_STATUS(userspace_options_set(o, USERSPACE_OPTION_QUEUES, NULL), USERSPACE_STATUS_OK);
    CHECK_STR(userspace_last_error(), ""); /* a success clears it */
    userspace_options_free(o);

    /* A DPDK too old for the builder, and a malformed version in the environment. */
    v = open_pod(pod, res, "17.11");
    CHECK_STATUS(userspace_view_dpdk_version(v, NULL, NULL, NULL), USERSPACE_STATUS_DPDK_VERSION);
    CHECK_HAS(userspace_last_error(), "older than the oldest supported release");
    CHECK_NULL(userspace_view_dpdk_version_source(v));
    CHECK_LAST(USERSPACE_STATUS_DPDK_VERSION, "older");
    userspace_args *args = (userspace_args *)1;
    CHECK_STATUS(userspace_eal_args(v, "app", 0, NULL, &args), USERSPACE_STATUS_DPDK_VERSION);
    CHECK_NULL(args);
    userspace_view_free(v);
    setenv("USERSPACE_DPDK_VERSION", "bogus", 1);
    v = open_pod(pod, res, NULL);
    CHECK_STATUS(userspace_view_dpdk_version(v, NULL, NULL, NULL), USERSPACE_STATUS_DPDK_VERSION);
    CHECK_HAS(userspace_last_error(), "USERSPACE_DPDK_VERSION");
    userspace_view_free(v);
    setenv("USERSPACE_DPDK_VERSION", "21.11.2", 1);
    v = open_pod(pod, res, NULL);
    uint32_t major = 0, minor = 0, patch = 0;
    CHECK_STATUS(userspace_view_dpdk_version(v, &major, &minor, &patch), USERSPACE_STATUS_OK);
    CHECK(major == 21 && minor == 11 && patch == 2);
    CHECK_STR(userspace_view_dpdk_version_source(v), "USERSPACE_DPDK_VERSION=21.11.2");
    unsetenv("USERSPACE_DPDK_VERSION");

    /* EAL arguments: bad arguments. */
    CHECK_STATUS(userspace_eal_args(v, "app", 0, NULL, NULL), USERSPACE_STATUS_NULL_ARGUMENT);
    CHECK_STATUS(userspace_eal_args(NULL, "app", 0, NULL, &args), USERSPACE_STATUS_NULL_ARGUMENT);
    CHECK_HAS(userspace_last_error(), "view must not be NULL");
    CHECK_STATUS(userspace_eal_args(v, NULL, 0, NULL, &args), USERSPACE_STATUS_NULL_ARGUMENT);
    CHECK_HAS(userspace_last_error(), "program must not be NULL");
    CHECK_STATUS(userspace_eal_args(v, "app", -1, NULL, &args), USERSPACE_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(userspace_eal_args(v, "app", 1, NULL, &args), USERSPACE_STATUS_NULL_ARGUMENT);
    char ok[] = "-p", bad[] = "\xff";
    char *with_null[] = {ok, NULL};
    CHECK_STATUS(userspace_eal_args(v, "app", 2, with_null, &args), USERSPACE_STATUS_NULL_ARGUMENT);
    CHECK_HAS(userspace_last_error(), "extra_argv[1]");
    char *not_utf8[] = {bad};
    CHECK_STATUS(userspace_eal_args(v, "app", 1, not_utf8, &args), USERSPACE_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(userspace_eal_args(v, "\xff", 0, NULL, &args), USERSPACE_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(userspace_testpmd_line(NULL, NULL, NULL), USERSPACE_STATUS_NULL_ARGUMENT);
    CHECK_STATUS(userspace_testpmd_line(v, NULL, NULL), USERSPACE_STATUS_NULL_ARGUMENT);
    CHECK(userspace_args_argc(NULL) == 0);
    CHECK_LAST(USERSPACE_STATUS_NULL_ARGUMENT, "args must not be NULL");
    CHECK_NULL(userspace_args_argv(NULL));
    CHECK_NULL(userspace_args_line(NULL));

    /* Indexes out of range. */
    const userspace_interface *net1 = userspace_view_interface(v, 0);
    CHECK(net1 != NULL);
    CHECK_NULL(userspace_view_interface(v, 99));
    CHECK_LAST(USERSPACE_STATUS_INVALID_ARGUMENT, "interface index 99 is out of range (there are 3)");
    CHECK_NULL(userspace_view_interface_by_name(v, "nope"));
    CHECK_LAST(USERSPACE_STATUS_INVALID_ARGUMENT, "no interface \"nope\"");
    CHECK_NULL(userspace_view_interface_by_name(v, NULL));
    CHECK_LAST(USERSPACE_STATUS_NULL_ARGUMENT, "name");
    CHECK_NULL(userspace_interface_address(net1, 99));
    CHECK_NULL(userspace_interface_route_destination(net1, 99));
    CHECK_NULL(userspace_interface_route_gateway(net1, 99));
    CHECK_NULL(userspace_interface_confirmation(net1, USERSPACE_FIELD_ROUTES, 0));
    CHECK_NULL(userspace_interface_confirmation(net1, USERSPACE_FIELD_SOCKET_PATH, 5));
    CHECK(userspace_interface_source_kind(net1, 99) == USERSPACE_SOURCE_KIND_NONE);
    CHECK_LAST(USERSPACE_STATUS_INVALID_ARGUMENT, "99 is not a userspace_field");
    CHECK_NULL(userspace_interface_source(net1, -1));
    CHECK(userspace_interface_confirmation_count(net1, 0) == 0);
    CHECK_LAST(USERSPACE_STATUS_INVALID_ARGUMENT, "not a userspace_field");
    CHECK_NULL(userspace_view_conflict(v, 0));
    CHECK_NULL(userspace_view_warning_source(v, 0));
    CHECK_NULL(userspace_view_warning_message(v, 0));
    CHECK(userspace_view_cpu(v, 99) == -1);
    CHECK(userspace_view_cpu_numa_node(v, 99) == -1);
    CHECK_NULL(userspace_view_hugepage_mount(v, 99));
    CHECK_STATUS(userspace_view_hugepage_pool(v, 99, NULL, NULL, NULL, NULL), USERSPACE_STATUS_INVALID_ARGUMENT);
    uint8_t mac[6];
    CHECK_STATUS(userspace_interface_mac_octets(net1, mac, 5), USERSPACE_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(userspace_interface_mac_octets(net1, NULL, 6), USERSPACE_STATUS_NULL_ARGUMENT);
    CHECK_STATUS(userspace_interface_mac_octets(userspace_view_interface(v, 1), mac, 6), USERSPACE_STATUS_INVALID_ARGUMENT);
    CHECK_HAS(userspace_last_error(), "net2 has no MAC");
    CHECK_STATUS(userspace_view_json(v, NULL), USERSPACE_STATUS_NULL_ARGUMENT);
    CHECK_STATUS(userspace_view_report(v, NULL), USERSPACE_STATUS_NULL_ARGUMENT);
    userspace_view_free(v);

    /* NULL handles: every accessor answers "nothing" and records the error. */
    CHECK_STATUS(userspace_view_json(NULL, NULL), USERSPACE_STATUS_NULL_ARGUMENT);
    CHECK_STATUS(userspace_view_report(NULL, NULL), USERSPACE_STATUS_NULL_ARGUMENT);
    CHECK_NULL(userspace_view_container_id(NULL));
    CHECK_LAST(USERSPACE_STATUS_NULL_ARGUMENT, "view must not be NULL");
    CHECK_NULL(userspace_view_container_source(NULL));
    CHECK_NULL(userspace_view_shared_dir(NULL));
    CHECK_NULL(userspace_view_shared_dir_source(NULL));
    CHECK(!userspace_view_shared_dir_exists(NULL));
    CHECK(userspace_view_interface_count(NULL) == 0);
    CHECK_NULL(userspace_view_interface(NULL, 0));
    CHECK_NULL(userspace_view_interface_by_name(NULL, "net1"));
    CHECK_NULL(userspace_interface_name(NULL));
    CHECK_LAST(USERSPACE_STATUS_NULL_ARGUMENT, "interface must not be NULL");
    CHECK(userspace_interface_kind(NULL) == USERSPACE_KIND_UNKNOWN);
    CHECK_NULL(userspace_interface_network(NULL));
    CHECK_NULL(userspace_interface_socket_path(NULL));
    CHECK(userspace_interface_role(NULL) == USERSPACE_ROLE_UNKNOWN);
    CHECK(userspace_interface_memif_mode(NULL) == USERSPACE_MEMIF_MODE_UNKNOWN);
    CHECK_NULL(userspace_interface_pci_address(NULL));
    CHECK_NULL(userspace_interface_vdpa_path(NULL));
    CHECK_NULL(userspace_interface_mac(NULL));
    CHECK_STATUS(userspace_interface_mac_octets(NULL, mac, 6), USERSPACE_STATUS_NULL_ARGUMENT);
    CHECK(userspace_interface_address_count(NULL) == 0);
    CHECK_NULL(userspace_interface_address(NULL, 0));
    CHECK_NULL(userspace_interface_gateway(NULL));
    CHECK(userspace_interface_route_count(NULL) == 0);
    CHECK_NULL(userspace_interface_route_destination(NULL, 0));
    CHECK_NULL(userspace_interface_route_gateway(NULL, 0));
    CHECK_NULL(userspace_interface_dpdk_device(NULL));
    CHECK(userspace_interface_source_kind(NULL, USERSPACE_FIELD_KIND) == USERSPACE_SOURCE_KIND_NONE);
    CHECK_NULL(userspace_interface_source(NULL, USERSPACE_FIELD_KIND));
    CHECK(userspace_interface_confirmation_count(NULL, USERSPACE_FIELD_KIND) == 0);
    CHECK_NULL(userspace_interface_confirmation(NULL, USERSPACE_FIELD_KIND, 0));
    CHECK(userspace_view_conflict_count(NULL) == 0);
    CHECK_NULL(userspace_view_conflict(NULL, 0));
    CHECK_NULL(userspace_conflict_interface(NULL));
    CHECK_LAST(USERSPACE_STATUS_NULL_ARGUMENT, "conflict must not be NULL");
    CHECK(userspace_conflict_field(NULL) == USERSPACE_FIELD_UNKNOWN);
    CHECK_NULL(userspace_conflict_field_name(NULL));
    CHECK_NULL(userspace_conflict_kept_value(NULL));
    CHECK_NULL(userspace_conflict_kept_source(NULL));
    CHECK_NULL(userspace_conflict_other_value(NULL));
    CHECK_NULL(userspace_conflict_other_source(NULL));
    CHECK(!userspace_conflict_affects_dataplane(NULL));
    CHECK_NULL(userspace_conflict_message(NULL));
    CHECK(userspace_view_warning_count(NULL) == 0);
    CHECK_NULL(userspace_view_warning_source(NULL, 0));
    CHECK_NULL(userspace_view_warning_message(NULL, 0));
    CHECK(userspace_view_cpu_count(NULL) == 0);
    CHECK(userspace_view_cpu(NULL, 0) == -1);
    CHECK(userspace_view_cpu_numa_node(NULL, 0) == -1);
    CHECK_NULL(userspace_view_cpu_list(NULL));
    CHECK_NULL(userspace_view_cpu_source(NULL));
    CHECK(userspace_view_numa_node(NULL) == -1);
    CHECK(userspace_view_hugepage_usable_bytes(NULL) == 0);
    CHECK(userspace_view_hugepage_size(NULL) == 0);
    CHECK(userspace_view_hugepage_mount_count(NULL) == 0);
    CHECK_NULL(userspace_view_hugepage_mount(NULL, 0));
    CHECK(userspace_view_hugepage_pool_count(NULL) == 0);
    CHECK_STATUS(userspace_view_hugepage_pool(NULL, 0, NULL, NULL, NULL, NULL), USERSPACE_STATUS_NULL_ARGUMENT);
    CHECK_STATUS(userspace_view_memory(NULL, NULL, NULL), USERSPACE_STATUS_NULL_ARGUMENT);
    CHECK_STATUS(userspace_view_dpdk_version(NULL, NULL, NULL, NULL), USERSPACE_STATUS_NULL_ARGUMENT);
    CHECK_NULL(userspace_view_dpdk_version_source(NULL));

    /* Every free function takes NULL. */
    userspace_string_free(NULL);
    userspace_args_free(NULL);
    userspace_view_free(NULL);
    userspace_options_free(NULL);
    CHECK(1);
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s full|empty|conflict POD RESOURCES | errors BADPOD POD RESOURCES\n", argv[0]);
        return 2;
    }
    const char *mode = argv[1];
    if (strcmp(mode, "full") == 0) full(argv[2], argv[3]);
    else if (strcmp(mode, "empty") == 0) empty(argv[2], argv[3]);
    else if (strcmp(mode, "conflict") == 0) conflict(argv[2], argv[3]);
    else if (strcmp(mode, "errors") == 0 && argc >= 5) errors(argv[2], argv[3], argv[4]);
    else {
        fprintf(stderr, "unknown mode %s\n", mode);
        return 2;
    }
    printf("api_test %s: %d checks, %d failed\n", mode, checks, failures);
    return failures == 0 ? 0 : 1;
}
