/* Internal interface of the `fota` command-line tool: its subcommands. The helpers they share with
 * the other host programs are fota/hostlib.h. */
#ifndef FOTA_TOOL_H
#define FOTA_TOOL_H

#include "fota/hostlib.h"

int cmd_keygen(int argc, char **argv);
int cmd_pubkey(int argc, char **argv);
int cmd_sign(int argc, char **argv);
int cmd_provision(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_compose(int argc, char **argv);
int cmd_delta(int argc, char **argv);
int cmd_apply(int argc, char **argv);

#endif
