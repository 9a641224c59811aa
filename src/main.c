#include "cli/cli.h"

int main(int argc, char **argv) { return vs_cli_main(argc, argv); }
