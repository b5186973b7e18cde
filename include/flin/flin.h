#pragma once
// libflin, the C++ client of Flin (and of any Redis-protocol server, Redis Cluster included).
//
//   flin/reply.h       Reply: one decoded RESP2/RESP3 reply (a value; errors are replies too)
//   flin/connection.h  Connection: one socket; blocking calls with timeouts, pipelining, and a
//                      non-blocking interface for event loops
//   flin/pool.h        ConnectionPool: bounded, thread-safe set of connections to one server
//   flin/cluster.h     ClusterClient: routes by key slot, follows MOVED/ASK, retries transient
//                      errors with bounded back-off; SlotMap and helpers
//
// Errors are values: calls return flin::Status / flin::Result<T> (common/status.h) and never
// throw. Every wait is bounded by a timeout in the options; every retry loop by a count.
//
// Example:
//   flin::ClusterOptions options;
//   options.seeds = {{"127.0.0.1", 6380}};
//   auto client = flin::ClusterClient::Connect(options);
//   if (!client.ok()) { /* client.status() says why */ }
//   flin::Result<flin::Reply> r = (*client)->Execute({"SET", "greeting", "hello"});

#include "flin/cluster.h"
#include "flin/connection.h"
#include "flin/pool.h"
#include "flin/reply.h"
