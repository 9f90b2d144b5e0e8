/* The SDK's C API in a few lines: print the dpdk-testpmd command line for this pod.
 * Build: cargo build -p userspace-cni-sdk-ffi && make -C examples/c testpmd_line
 * Run in a pod (inputs as the agent's: USERSPACE_PODINFO, USERSPACE_SHARED_DIR, …). */
#include <stdio.h>

#include "userspace_cni.h"

int main(void) {
    userspace_view *view = NULL;
    if (userspace_view_open(NULL, &view) != USERSPACE_STATUS_OK) {
        fprintf(stderr, "userspace: %s\n", userspace_last_error());
        return 1;
    }
    char *line = NULL;
    userspace_status st = userspace_testpmd_line(view, NULL, &line);
    if (st != USERSPACE_STATUS_OK) {
        fprintf(stderr, "userspace: %s: %s\n", userspace_status_describe(st), userspace_last_error());
        userspace_view_free(view);
        return 1;
    }
    puts(line);
    userspace_string_free(line);
    userspace_view_free(view);
    return 0;
}
