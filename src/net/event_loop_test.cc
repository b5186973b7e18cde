#include "net/event_loop.h"

#include <gtest/gtest.h>
#include <unistd.h>

namespace flin::net {
namespace {

// A handler that counts the events it got after it was "deleted" (Remove()d and marked dead
// by a posted task, as IoThread's graveyard task deletes a connection).
struct Handler : EventHandler {
  EventLoop* loop = nullptr;
  int fd = -1;
  bool dead = false;
  int calls_after_death = 0;
  int calls = 0;
  void OnEvent(uint32_t) override {
    ++calls;
    if (dead) ++calls_after_death;
    char buf[16];
    ssize_t n = read(fd, buf, sizeof(buf));
    (void)n;
    loop->Stop();
  }
};

// IoThread and Transport delete a closed handler from a posted task ("after the current
// event": IoThread::Forget posts graveyard_.clear()). That was safe while posted tasks ran
// only after every event of an epoll_wait had been dispatched. With RunTasks() now run
// between epoll_wait and the dispatch, a task that Remove()s and deletes a handler whose event
// is already in the array leaves the loop calling OnEvent on a freed object.
// IoThread: connection X forgotten in BeforeWait or a timer (graveyard [X], clear task C
// posted); another thread had posted a task T before C (a push, a completion); the next
// epoll_wait returns Y's EPOLLIN|EPOLLHUP (its peer reset) with the wake fd; T runs first,
// Y's send fails, Y closes, Forget(Y) joins the non-empty graveyard; C deletes X and Y; the
// loop then dispatches Y's event to the freed ClientConn.
TEST(EventLoopTest, ATaskPostedBeforeTheWaitDoesNotDeleteAHandlerWhoseEventIsDue) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  EventLoop loop;
  Handler h;
  h.loop = &loop;
  h.fd = fds[0];
  ASSERT_TRUE(loop.Add(fds[0], EPOLLIN, &h));
  ASSERT_EQ(write(fds[1], "x", 1), 1);  // h's event is due at the first epoll_wait
  loop.Post([&] {                       // ... and so is this task (the wake fd)
    loop.Remove(h.fd);
    h.dead = true;  // stands for `delete`: any later OnEvent is a use after free
    loop.Stop();
  });
  loop.Run();
  EXPECT_EQ(h.calls_after_death, 0) << "OnEvent ran on a handler a task had removed and freed";
  close(fds[0]);
  close(fds[1]);
}

}  // namespace
}  // namespace flin::net
