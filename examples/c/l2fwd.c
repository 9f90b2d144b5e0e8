/* l2fwd: a DPDK application that gets everything about its pod from the userspace CNI SDK.
 *
 * It opens the SDK's view of the pod, prints the SDK's report, takes its rte_eal_init()
 * arguments from the SDK (cores, memory, one device per interface of the pod, spelled for the
 * DPDK it runs with), then forwards between the pod's ports as l2fwd does, without touching
 * the frames: port 0 <-> port 1, port 2 <-> port 3, …; an odd last port sends back what it
 * receives. On SIGINT or SIGTERM it prints, per port, what it received, sent and dropped.
 *
 * Build (see Makefile): cargo build -p userspace-cni-sdk-ffi && make -C examples/c
 * Run in a pod:         l2fwd [--dry-run] [EAL options --] [--idle-us N]
 *   (or as the pod's application: userspace-agent run -- l2fwd)
 *   --dry-run    print the report and the EAL arguments, then exit without starting DPDK
 *   EAL options  added to the SDK's (before a "--")
 *   --idle-us N  sleep N µs when a poll of every port found nothing (default 0: busy-poll)
 * The pod's inputs are found as the agent finds them (USERSPACE_PODINFO, USERSPACE_SHARED_DIR,
 * USERSPACE_CONTAINER_ID, …); the DPDK version is the one the program runs with. */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_version.h>

#include "userspace_cni.h"

#define BURST 32
#define RX_DESC 1024
#define TX_DESC 1024
#define MBUFS_PER_PORT 8192

struct port {
    const char *iface; /* the pod's interface name */
    uint16_t id;       /* DPDK port id */
    uint16_t peer;     /* index in ports[] it forwards to */
    uint64_t rx, tx, dropped;
};

static volatile sig_atomic_t quit;
static struct port *ports;
static unsigned nb_ports;
static unsigned idle_us;

static void on_signal(int sig) {
    (void)sig;
    quit = 1;
}

static int die(const char *what, userspace_view *view) {
    fprintf(stderr, "l2fwd: %s: %s\n", what, userspace_last_error());
    userspace_view_free(view);
    return 1;
}

/* The forwarding loop, on one lcore: every port's RX goes to its peer's TX. */
static int forward(void *arg) {
    (void)arg;
    struct rte_mbuf *bufs[BURST];
    while (!quit) {
        unsigned got = 0;
        for (unsigned i = 0; i < nb_ports; i++) {
            struct port *in = &ports[i], *out = &ports[in->peer];
            uint16_t n = rte_eth_rx_burst(in->id, 0, bufs, BURST);
            if (n == 0) continue;
            got += n;
            in->rx += n;
            uint16_t sent = rte_eth_tx_burst(out->id, 0, bufs, n);
            out->tx += sent;
            if (sent < n) {
                out->dropped += n - sent;
                rte_pktmbuf_free_bulk(&bufs[sent], n - sent);
            }
        }
        if (got == 0 && idle_us) usleep(idle_us);
    }
    return 0;
}

static int start_port(uint16_t id, struct rte_mempool *pool) {
    struct rte_eth_conf conf;
    memset(&conf, 0, sizeof conf);
    uint16_t rxd = RX_DESC, txd = TX_DESC;
    int rc = rte_eth_dev_configure(id, 1, 1, &conf);
    if (rc == 0) rc = rte_eth_dev_adjust_nb_rx_tx_desc(id, &rxd, &txd);
    if (rc == 0) rc = rte_eth_rx_queue_setup(id, 0, rxd, rte_eth_dev_socket_id(id), NULL, pool);
    if (rc == 0) rc = rte_eth_tx_queue_setup(id, 0, txd, rte_eth_dev_socket_id(id), NULL);
    if (rc == 0) rc = rte_eth_dev_start(id);
    if (rc == 0) (void)rte_eth_promiscuous_enable(id); /* not every PMD has it */
    return rc;
}

int main(int argc, char **argv) {
    int dry_run = argc > 1 && strcmp(argv[1], "--dry-run") == 0;
    if (dry_run) {
        argv[1] = argv[0];
        argv++;
        argc--;
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    /* A vhost-user peer that goes away makes the next write raise SIGPIPE: survive it. */
    signal(SIGPIPE, SIG_IGN);

    if (!USERSPACE_CNI_ABI_COMPATIBLE()) {
        fprintf(stderr, "l2fwd: built for SDK ABI %d, running with %u\n", USERSPACE_CNI_ABI_VERSION,
                userspace_abi_version());
        return 1;
    }

    /* 1. The pod, as the SDK sees it; the DPDK version is ours. */
    userspace_options *options = userspace_options_new();
    if (!options || userspace_options_set(options, USERSPACE_OPTION_DPDK_VERSION, rte_version()) != USERSPACE_STATUS_OK)
        return die("options", NULL);
    userspace_view *view = NULL;
    userspace_status st = userspace_view_open(options, &view);
    userspace_options_free(options);
    if (st != USERSPACE_STATUS_OK) return die("reading the pod", NULL);

    char *report = NULL;
    if (userspace_view_report(view, &report) != USERSPACE_STATUS_OK) return die("report", view);
    printf("l2fwd: the SDK's view of this pod (%s):\n%s", rte_version(), report);
    userspace_string_free(report);

    /* 2. rte_eal_init's arguments: ours plus the pod's. */
    userspace_args *args = NULL;
    if (userspace_eal_args(view, argv[0], argc - 1, argv + 1, &args) != USERSPACE_STATUS_OK)
        return die("EAL arguments", view);
    printf("l2fwd: EAL arguments: %s\n", userspace_args_line(args));
    fflush(stdout);
    if (dry_run) {
        userspace_args_free(args);
        userspace_view_free(view);
        return 0;
    }

    int eal_argc = userspace_args_argc(args);
    char **eal_argv = userspace_args_argv(args);
    int used = rte_eal_init(eal_argc, eal_argv);
    if (used < 0) {
        fprintf(stderr, "l2fwd: rte_eal_init: %s\n", rte_strerror(rte_errno));
        userspace_args_free(args);
        userspace_view_free(view);
        return 1;
    }
    /* Our own options, after the ones EAL took. */
    int app_argc = eal_argc - used;
    char **app_argv = eal_argv + used;
    for (int i = 1; i < app_argc; i++) {
        if (strcmp(app_argv[i], "--idle-us") == 0 && i + 1 < app_argc) {
            idle_us = (unsigned)strtoul(app_argv[++i], NULL, 10);
        } else {
            fprintf(stderr, "l2fwd: unknown option %s\n", app_argv[i]);
            rte_eal_cleanup();
            return 2;
        }
    }

    /* 3. One port per interface of the pod, found by the device name the SDK gave it. */
    nb_ports = (unsigned)userspace_view_interface_count(view);
    ports = calloc(nb_ports ? nb_ports : 1, sizeof *ports);
    if (!ports) rte_exit(EXIT_FAILURE, "l2fwd: out of memory\n");
    for (unsigned i = 0; i < nb_ports; i++) {
        const userspace_interface *iface = userspace_view_interface(view, i);
        const char *dev = userspace_interface_dpdk_device(iface);
        ports[i].iface = userspace_interface_name(iface);
        if (!dev || rte_eth_dev_get_port_by_name(dev, &ports[i].id) != 0)
            rte_exit(EXIT_FAILURE, "l2fwd: interface %s: no DPDK port %s\n", ports[i].iface, dev ? dev : "?");
        ports[i].peer = (uint16_t)((i % 2 == 0) ? (i + 1 < nb_ports ? i + 1 : i) : i - 1);
    }
    struct rte_mempool *pool =
        rte_pktmbuf_pool_create("l2fwd_mbufs", MBUFS_PER_PORT * nb_ports - 1, 256, 0,
                                RTE_MBUF_DEFAULT_BUF_SIZE, (int)rte_socket_id());
    if (!pool) rte_exit(EXIT_FAILURE, "l2fwd: mbuf pool: %s\n", rte_strerror(rte_errno));
    for (unsigned i = 0; i < nb_ports; i++) {
        int rc = start_port(ports[i].id, pool);
        if (rc != 0)
            rte_exit(EXIT_FAILURE, "l2fwd: port %u (%s): %s\n", ports[i].id, ports[i].iface, rte_strerror(-rc));
    }
    for (unsigned i = 0; i < nb_ports; i++)
        printf("l2fwd: %s (port %u, %s) -> %s\n", ports[i].iface, ports[i].id,
               userspace_interface_dpdk_device(userspace_view_interface(view, i)),
               ports[ports[i].peer].iface);

    /* 4. Forward on the first worker lcore the SDK gave us (the main one on a 1-lcore line). */
    unsigned worker = rte_get_next_lcore(-1, 1, 0);
    printf("l2fwd: forwarding on lcore %u\n", worker < RTE_MAX_LCORE ? worker : rte_lcore_id());
    fflush(stdout);
    if (worker < RTE_MAX_LCORE) {
        rte_eal_remote_launch(forward, NULL, worker);
        rte_eal_mp_wait_lcore();
    } else {
        forward(NULL);
    }

    /* 5. What was moved. */
    uint64_t rx = 0, tx = 0, dropped = 0;
    for (unsigned i = 0; i < nb_ports; i++) {
        struct rte_eth_stats s;
        memset(&s, 0, sizeof s);
        (void)rte_eth_stats_get(ports[i].id, &s);
        printf("l2fwd: port %u %s: rx %" PRIu64 " tx %" PRIu64 " dropped %" PRIu64
               " (ethdev: ipackets %" PRIu64 " opackets %" PRIu64 ")\n",
               ports[i].id, ports[i].iface, ports[i].rx, ports[i].tx, ports[i].dropped, s.ipackets,
               s.opackets);
        rx += ports[i].rx;
        tx += ports[i].tx;
        dropped += ports[i].dropped;
        rte_eth_dev_stop(ports[i].id);
        rte_eth_dev_close(ports[i].id);
    }
    printf("l2fwd: total rx %" PRIu64 " tx %" PRIu64 " dropped %" PRIu64 "\n", rx, tx, dropped);
    fflush(stdout);
    rte_mempool_free(pool);
    rte_eal_cleanup();
    free(ports);
    userspace_args_free(args);
    userspace_view_free(view);
    return 0;
}
