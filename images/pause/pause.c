/* The pod sandbox's process (what Kubernetes' pause image runs): holds the pod's namespaces,
 * reaps zombies (it is PID 1 of the pod when the PID namespace is shared) and exits on
 * SIGINT/SIGTERM. Built with `gcc -static` by scripts/lib/containerd.sh. */
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static void quit(int sig) { (void)sig; _exit(0); }

static void reap(int sig) {
    (void)sig;
    while (waitpid(-1, NULL, WNOHANG) > 0) {
    }
}

int main(void) {
    struct sigaction q = {.sa_handler = quit};
    struct sigaction r = {.sa_handler = reap, .sa_flags = SA_NOCLDSTOP};
    if (sigaction(SIGINT, &q, NULL) < 0 || sigaction(SIGTERM, &q, NULL) < 0 ||
        sigaction(SIGCHLD, &r, NULL) < 0) {
        return 1;
    }
    for (;;) {
        pause();
    }
}
