#include <stdio.h>
#include "vmm/loopback_demo.h"
int loopback_demo_main(int argc, char **argv)
{
    (void)argc; (void)argv;
    fprintf(stderr, "kick demo: not built yet\n");
    return 1;
}
