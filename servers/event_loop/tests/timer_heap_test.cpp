// TimerHeap against a plain model (a sorted multiset of deadlines): the pure
// piece of the event loop, tested on its own as muduo tests its buffer.
#include "servers/event_loop/timer_heap.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <set>
#include <vector>

namespace iomodels::loop {
namespace {

struct TestTimer final : Handler {
  void on_ready(std::uint8_t) override {}
  void on_timer() override {}
  Clock::time_point deadline{};  // the model's copy
};

const Clock::time_point kStart{};

Clock::time_point at(int ms) {
  return kStart + std::chrono::milliseconds(ms);
}

TEST(TimerHeap, PopsInDeadlineOrderAndOnlyWhenExpired) {
  TimerHeap heap;
  TestTimer a, b, c;
  heap.arm(a, at(30));
  heap.arm(b, at(10));
  heap.arm(c, at(20));
  EXPECT_EQ(heap.earliest_deadline(), at(10));
  EXPECT_EQ(heap.pop_expired(at(5)), nullptr);
  EXPECT_EQ(heap.pop_expired(at(25)), &b);
  EXPECT_EQ(heap.pop_expired(at(25)), &c);
  EXPECT_EQ(heap.pop_expired(at(25)), nullptr);
  EXPECT_TRUE(a.timer_armed());
  EXPECT_FALSE(b.timer_armed());
  EXPECT_EQ(heap.pop_expired(at(30)), &a);
  EXPECT_TRUE(heap.empty());
}

TEST(TimerHeap, RearmingMovesTheTimerAndCancelRemovesIt) {
  TimerHeap heap;
  TestTimer a, b;
  heap.arm(a, at(10));
  heap.arm(b, at(20));
  heap.arm(a, at(30));  // later: b is now first
  EXPECT_EQ(heap.earliest_deadline(), at(20));
  heap.arm(a, at(5));  // earlier again
  EXPECT_EQ(heap.earliest_deadline(), at(5));
  heap.cancel(a);
  heap.cancel(a);  // cancelling twice is harmless
  EXPECT_FALSE(a.timer_armed());
  EXPECT_EQ(heap.pop_expired(at(100)), &b);
  EXPECT_TRUE(heap.empty());
}

TEST(TimerHeap, RandomOperationsAgreeWithASortedModel) {
  std::mt19937 random(12345);
  std::vector<TestTimer> timers(200);
  TimerHeap heap;
  std::multiset<Clock::time_point> model;
  int now = 0;
  for (int step = 0; step < 20000; ++step) {
    TestTimer& t = timers[random() % timers.size()];
    switch (random() % 4) {
      case 0:
      case 1: {  // arm or re-arm
        if (t.timer_armed()) model.erase(model.find(t.deadline));
        t.deadline = at(now + static_cast<int>(random() % 1000));
        heap.arm(t, t.deadline);
        model.insert(t.deadline);
        break;
      }
      case 2:  // cancel
        if (t.timer_armed()) model.erase(model.find(t.deadline));
        heap.cancel(t);
        break;
      case 3: {  // time passes: everything due comes out, earliest first
        now += static_cast<int>(random() % 50);
        Clock::time_point previous = kStart;
        while (Handler* h = heap.pop_expired(at(now))) {
          auto* expired = static_cast<TestTimer*>(h);
          ASSERT_LE(expired->deadline, at(now));
          ASSERT_GE(expired->deadline, previous);
          ASSERT_FALSE(expired->timer_armed());
          previous = expired->deadline;
          model.erase(model.find(expired->deadline));
        }
        ASSERT_TRUE(model.empty() || *model.begin() > at(now));
        break;
      }
    }
    ASSERT_EQ(heap.empty(), model.empty());
    if (!model.empty()) {
      ASSERT_EQ(heap.earliest_deadline(), *model.begin());
    }
  }
}

}  // namespace
}  // namespace iomodels::loop
