/* `kick run` command line: parses and validates, then calls run_vm(). */
#ifndef KICK_CLI_RUN_H
#define KICK_CLI_RUN_H

#include <stdint.h>
#include <stdio.h>

/* argv[0] is "run". Returns kick's exit status (2 for a usage error). */
int cli_run_main(int argc, char **argv);
void cli_run_usage(FILE *out);

/* Parses a size such as 512M, 2G, 1048576K or 4096 (no suffix: MiB, as QEMU's
 * -m). Suffixes K, M, G, T are binary, optionally followed by "iB" or "B".
 * Returns 0 or -EINVAL (not a size) / -ERANGE (overflows 64 bits). */
int cli_parse_size(const char *s, uint64_t *bytes);

#endif
