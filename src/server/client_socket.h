#pragma once
// Finding out, from inside an HTTP handler, whether the client is still there.
//
// cpp-httplib 0.11 serves each connection on one worker thread but gives handlers no access to
// its socket. The socket is found once per connection: the file descriptor whose peer and local
// ports and peer address are the request's (remote_addr, remote_port, local_port) — a TCP
// connection is identified by them — and kept in a thread-local for the connection's later
// requests. A handler that waits on the engine polls client_gone(): a peer that closed or reset
// the connection reads as EOF / error on a non-blocking MSG_PEEK; a live idle client reads as
// "would block", and pipelined bytes also mean it is there.
#include <httplib.h>

namespace ag::server {

// Finds the socket serving `req` on this thread. Cheap when the connection is already known.
void bind_client_socket(const httplib::Request& req);

// True when the client of the request bound on this thread has closed or reset the connection.
// False when unknown (no socket found).
bool client_gone();

}  // namespace ag::server
