#ifndef KICK_LOOPBACK_DEMO_H
#define KICK_LOOPBACK_DEMO_H
int loopback_demo_main(int argc, char **argv);
#endif
