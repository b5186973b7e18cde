// Connection and ConnectionPool against real servers started on scratch ports: redis-server
// and, when built, flin-server (each test runs once per server).

#include "flin/connection.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

#include "client/test_server.h"
#include "flin/pool.h"

namespace flin {
namespace {

class ConnectionTest : public ::testing::TestWithParam<testing::ServerKind> {
 protected:
  void SetUp() override {
    std::string why;
    server_ = testing::TestServer::Start(GetParam(), {}, &why);
    if (!server_) GTEST_SKIP() << "skipping tests against a server: " << why;
  }

  std::unique_ptr<Connection> Open(ConnectOptions options = {}) {
    auto conn = Connection::Connect("127.0.0.1", server_->port(), options);
    EXPECT_TRUE(conn.ok()) << conn.status().ToString();
    return conn.ok() ? std::move(conn).value() : nullptr;
  }

  PoolOptions PoolOpts(size_t max_connections, std::chrono::milliseconds acquire_timeout) {
    PoolOptions options;
    options.port = server_->port();
    options.max_connections = max_connections;
    options.acquire_timeout = acquire_timeout;
    return options;
  }

  std::unique_ptr<testing::TestServer> server_;
};

TEST_P(ConnectionTest, BinarySafeSetGet) {
  auto conn = Open();
  ASSERT_TRUE(conn);
  const std::string value("a\0b\r\nc", 6);
  Result<Reply> set = conn->Command(Argv{"SET", "bin", value});
  ASSERT_TRUE(set.ok()) << set.status().ToString();
  EXPECT_TRUE(set->IsStatus("OK"));
  Result<Reply> get = conn->Command({"GET", "bin"});
  ASSERT_TRUE(get.ok());
  EXPECT_EQ(get->str, value);
  EXPECT_TRUE(conn->Command({"GET", "missing"})->IsNil());
}

TEST_P(ConnectionTest, ErrorReplyIsAValueNotAFailure) {
  auto conn = Open();
  ASSERT_TRUE(conn);
  Result<Reply> r = conn->Command({"NO-SUCH-COMMAND"});
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->IsError());
  EXPECT_FALSE(conn->broken());
  EXPECT_TRUE(conn->Command({"PING"})->IsStatus("PONG"));
}

TEST_P(ConnectionTest, PipelineRepliesMatchInOrder) {
  auto conn = Open();
  ASSERT_TRUE(conn);
  std::vector<Argv> cmds(20000, Argv{"INCR", "counter"});
  Result<std::vector<Reply>> replies = conn->Pipeline(cmds);
  ASSERT_TRUE(replies.ok()) << replies.status().ToString();
  ASSERT_EQ(replies->size(), cmds.size());
  for (size_t i = 0; i < replies->size(); ++i) ASSERT_EQ((*replies)[i].integer, int64_t(i) + 1);
  EXPECT_EQ(conn->pending(), 0u);
}

TEST_P(ConnectionTest, LargeValuesCrossManyReads) {
  auto conn = Open();
  ASSERT_TRUE(conn);
  std::string big(8 << 20, 'x');
  for (size_t i = 0; i < big.size(); i += 4093) big[i] = static_cast<char>(i);
  ASSERT_TRUE(conn->Command(Argv{"SET", "big", big})->IsStatus("OK"));
  std::vector<Argv> gets(3, Argv{"GET", "big"});
  Result<std::vector<Reply>> replies = conn->Pipeline(gets);
  ASSERT_TRUE(replies.ok());
  for (const Reply& r : *replies) EXPECT_EQ(r.str, big);
}

TEST_P(ConnectionTest, NonBlockingApi) {
  auto conn = Open();
  ASSERT_TRUE(conn);
  conn->Append({"SET", "nb", "1"});
  conn->Append({"INCR", "nb"});
  conn->Append({"GET", "nb"});
  EXPECT_EQ(conn->pending(), 3u);
  std::vector<Reply> got;
  while (got.size() < 3) {
    ASSERT_TRUE(conn->WriteSome().ok());
    pollfd p{conn->fd(), static_cast<short>(POLLIN | (conn->wants_write() ? POLLOUT : 0)), 0};
    ASSERT_GT(::poll(&p, 1, 5000), 0);
    ASSERT_TRUE(conn->ReadSome().ok());
    Reply r;
    for (;;) {
      Result<bool> popped = conn->TryPopReply(&r);
      ASSERT_TRUE(popped.ok());
      if (!*popped) break;
      got.push_back(r);
    }
  }
  EXPECT_TRUE(got[0].IsStatus("OK"));
  EXPECT_EQ(got[1].integer, 2);
  EXPECT_EQ(got[2].str, "2");
}

TEST_P(ConnectionTest, Resp3) {
  auto conn = Open();
  ASSERT_TRUE(conn);
  Result<Reply> hello = conn->Command({"HELLO", "3"});
  ASSERT_TRUE(hello.ok());
  ASSERT_EQ(hello->type, ReplyType::kMap) << hello->ToString();
  EXPECT_EQ(hello->elements[0].str, "server");
  EXPECT_TRUE(conn->Command({"GET", "missing"})->IsNil());
  EXPECT_TRUE(conn->Command({"SET", "k", "v"})->IsStatus("OK"));
  EXPECT_EQ(conn->Command({"GET", "k"})->str, "v");
}

TEST_P(ConnectionTest, ServerDeathBreaksTheConnection) {
  auto conn = Open();
  ASSERT_TRUE(conn);
  ASSERT_TRUE(conn->Command({"PING"}).ok());
  server_->Kill();
  Result<Reply> r = conn->Command({"PING"});
  EXPECT_FALSE(r.ok());
  EXPECT_TRUE(conn->broken());
  EXPECT_FALSE(conn->Command({"PING"}).ok());
  EXPECT_FALSE(Connection::Connect("127.0.0.1", server_->port(), {}).ok());
}

INSTANTIATE_TEST_SUITE_P(Servers, ConnectionTest,
                         ::testing::Values(testing::ServerKind::kRedis, testing::ServerKind::kFlin),
                         [](const auto& info) { return testing::KindName(info.param); });

// A listener that accepts (in the kernel backlog) but never answers.
TEST(ConnectionTimeoutTest, SilentServerTimesOut) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(::listen(fd, 4), 0);
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  ConnectOptions options;
  options.io_timeout = std::chrono::milliseconds(100);
  auto conn = Connection::Connect("127.0.0.1", ntohs(addr.sin_port), options);
  ASSERT_TRUE(conn.ok());
  Result<Reply> r = (*conn)->Command({"PING"});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kTimedOut);
  EXPECT_TRUE((*conn)->broken());
  ::close(fd);
}

TEST(ConnectionErrorTest, RefusedAndUnresolvable) {
  auto refused = Connection::Connect("127.0.0.1", testing::PickFreePort(), {});
  EXPECT_EQ(refused.status().code(), Status::Code::kIOError);
  auto bad = Connection::Connect("no-such-host.invalid", 1, {});
  EXPECT_FALSE(bad.ok());
}

TEST_P(ConnectionTest, PoolBoundsAndReuse) {
  ConnectionPool pool(PoolOpts(2, std::chrono::milliseconds(20)));
  {
    auto a = pool.Acquire();
    auto b = pool.Acquire();
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_EQ(pool.open_count(), 2u);
    auto c = pool.Acquire();
    EXPECT_EQ(c.status().code(), Status::Code::kTimedOut);
    // A connection given back with a reply unread is closed, not reused.
    (*a)->Append({"PING"});
    ASSERT_TRUE((*a)->Flush().ok());
  }
  EXPECT_EQ(pool.open_count(), 1u);
  EXPECT_EQ(pool.idle_count(), 1u);
  EXPECT_TRUE(pool.Command({"PING"})->IsStatus("PONG"));
}

TEST_P(ConnectionTest, PoolReplacesAConnectionTheServerClosed) {
  ConnectionPool pool(PoolOpts(1, std::chrono::seconds(5)));
  auto killer = Open();
  ASSERT_TRUE(killer);
  {
    auto lease = pool.Acquire();
    ASSERT_TRUE(lease.ok());
    Result<Reply> id = (*lease)->Command({"CLIENT", "ID"});
    ASSERT_TRUE(id.ok());
    if (id->type != ReplyType::kInteger) GTEST_SKIP() << "server lacks CLIENT ID";
    Result<Reply> killed = killer->Command({"CLIENT", "KILL", "ID", std::to_string(id->integer)});
    ASSERT_TRUE(killed.ok());
    if (killed->IsError()) GTEST_SKIP() << "server lacks CLIENT KILL: " << killed->str;
    // Await the server's close (it may happen after the kill's reply), then give the
    // connection back to the pool as if it had sat idle all along.
    pollfd p{(*lease)->fd(), POLLRDHUP, 0};
    ASSERT_EQ(::poll(&p, 1, 10000), 1);
  }
  // The pool must notice the close and open a fresh connection rather than fail the command.
  Result<Reply> r = pool.Command({"PING"});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->IsStatus("PONG"));
  EXPECT_EQ(pool.open_count(), 1u);
}

TEST_P(ConnectionTest, PoolSharedByThreads) {
  ConnectionPool pool(PoolOpts(3, std::chrono::seconds(10)));
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 500; ++i) ASSERT_TRUE(pool.Command({"INCR", "shared"}).ok());
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(pool.Command({"GET", "shared"})->str, "4000");
  EXPECT_LE(pool.open_count(), 3u);
}

}  // namespace
}  // namespace flin
