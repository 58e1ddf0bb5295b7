/* kick: command-line entry. */
#include <stdio.h>
#include <string.h>

#include "vmm/cli_run.h"
#include "vmm/loopback_demo.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: kick run --kernel BZIMAGE [--initrd FILE] [--cmdline STRING] [...]\n"
            "       kick demo [--transport modern|legacy|transitional] [--intx]\n"
            "       kick --help\n"
            "\n"
            "  run    boots a Linux kernel in a KVM virtual machine, its serial console\n"
            "         on kick's stdin/stdout ('kick run --help' for the options)\n"
            "  demo   loopback: kick's guest-side driver drives kick's device side\n"
            "         (virtio-rng and an echo device) through the PCI model and\n"
            "         prints what was negotiated and moved.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "run"))
        return cli_run_main(argc - 1, argv + 1);
    if (!strcmp(argv[1], "demo"))
        return loopback_demo_main(argc - 1, argv + 1);
    fprintf(stderr, "kick: unknown command '%s' (try 'kick --help')\n", argv[1]);
    return 2;
}
