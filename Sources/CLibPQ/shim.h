#ifndef AGENTOS_CLIBPQ_SHIM_H
#define AGENTOS_CLIBPQ_SHIM_H
#include <libpq-fe.h>

// NOTICE/WARNING messages go to stderr by default, which would corrupt the TUI.
static void agentos_pq_notice_discard(void *arg, const char *message) { (void)arg; (void)message; }
static inline void agentos_pq_silence_notices(PGconn *conn) {
    PQsetNoticeProcessor(conn, agentos_pq_notice_discard, (void *)0);
}
#endif
