#ifndef AGENTOS_CHIREDIS_SHIM_H
#define AGENTOS_CHIREDIS_SHIM_H
// hiredis is used for the RESP protocol only (reader + argv formatter); the adapter owns the socket.
#include <hiredis/hiredis.h>
#include <hiredis/read.h>
#endif
