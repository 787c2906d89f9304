/* convert/serve.c — `wgpack serve BUNDLE [--port N] [--host H]`: checks the bundle as every
 * command reads one, then becomes tools/web/serve.mjs under Node (exec, no child): a static
 * server of the bundle and the demo page (tools/web/demo.html) on 127.0.0.1 by default. */
#include "cli.h"
#include "../pack/pack.h"
#include "../verify/node.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *serve_help =
    "usage: wgpack serve BUNDLE [--port N] [--host H]\n"
    "  serves the bundle and a demo page (load progress, a prompt box with streamed output and\n"
    "  tokens/s; for an encoder, the cosine of two sentences) until interrupted\n"
    "  --port N     the port (default 8080; 0: a free one, printed)\n"
    "  --host H     the address to listen on (default 127.0.0.1: this machine only)\n"
    "  prints \"wgpack serve: http://HOST:PORT/ (BUNDLE)\" once listening\n"
    "  exit: 1 usage, 2 not a bundle, 4 no node or the port cannot be had\n"
    "  env: WGPACK_TOOLS (the tools directory), WGPACK_NODE (the node binary)\n";

int cmd_serve(int argc, char **argv)
{
    static const struct option opts[] = {{"port", required_argument, 0, 'p'},
                                         {"host", required_argument, 0, 'H'},
                                         {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    const char *host = "127.0.0.1";
    int c, rc, port = 8080;
    optind = 1;
    while ((c = getopt_long(argc, argv, "p:H:h", opts, NULL)) != -1) {
        switch (c) {
        case 'p': if ((rc = cli_int("serve", "--port", optarg, 0, 65535, &port))) return rc; break;
        case 'H': host = optarg; break;
        case 'h': fputs(serve_help, stdout); return 0;
        default: return cli_usage("serve", "bad option");
        }
    }
    if (optind != argc - 1)
        return cli_usage("serve", "expected one BUNDLE directory");
    if (!*host)
        return cli_usage("serve", "--host must name an address");
    wg_error err = {0};
    wg_manifest m;
    if ((rc = wg_manifest_read(argv[optind], &m, &err))) {
        err.code = err.code == WG_EIO ? WG_EIO : WG_EINPUT; /* a bad manifest is bad input */
        return cli_report(&err);
    }
    wg_manifest_free(&m);
    char script[PATH_MAX], ports[16];
    if (!wg_tool_find("web/serve.mjs", getenv("WGPACK_TOOLS"), script, NULL, sizeof script)) {
        wg_fail(&err, WG_EIO, NULL, "cannot find tools/web/serve.mjs beside the wgpack executable "
                "(set WGPACK_TOOLS to the tools directory)");
        return cli_report(&err);
    }
    snprintf(ports, sizeof ports, "%d", port);
    const char *node = getenv("WGPACK_NODE");
    node = node && *node ? node : "node";
    char *args[] = {(char *)node, script, "--bundle", argv[optind], "--port", ports, "--host",
                    (char *)host, NULL};
    fflush(stdout);
    execvp(node, args);
    wg_fail(&err, WG_EIO, node, "cannot run (Node.js is needed): %s", strerror(errno));
    return cli_report(&err);
}
