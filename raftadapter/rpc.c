/* Node-to-node RPCs over the peer port (issue 3 fills this in). */

#include <stdlib.h>

#include "raftadapter/radapter_internal.h"

static void closed_cb(uv_handle_t *h)
{
    free(h);
}

void radapter__rpc_accept(struct radapter *r, uint64_t id, uv_stream_t *stream)
{
    (void)r;
    (void)id;
    uv_close((uv_handle_t *)stream, closed_cb);
}
