/* The C ABI of the SDK: print the testpmd command line for this pod.
 * Build: cargo build -p userspace-cni-sdk && cc c/testpmd_line.c -L ../target/debug -luserspace_cni_sdk -o testpmd_line
 * Run:   LD_LIBRARY_PATH=../target/debug ./testpmd_line */
#include <stdio.h>

char *userspace_testpmd_line(const char *program);
const char *userspace_last_error(void);
void userspace_string_free(char *s);

int main(void) {
    char *line = userspace_testpmd_line(NULL);
    if (!line) {
        fprintf(stderr, "userspace: %s\n", userspace_last_error());
        return 1;
    }
    puts(line);
    userspace_string_free(line);
    return 0;
}
