#include "storage/list_payload.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

namespace flin::storage {
namespace {

std::vector<std::string> Items(const ListElements& l) {
  return {l.items().begin(), l.items().end()};
}

std::string Encoded(const std::vector<std::string>& items) {
  ListElements l;
  EXPECT_TRUE(l.Parse(kEmptyListPayload));
  for (const std::string& s : items) l.items().push_back(s);
  std::string out;
  l.Encode(&out);
  return out;
}

TEST(ListPayloadTest, RoundTripsInOrderWithRepeatsAndEmptyElements) {
  const std::vector<std::string> items = {"a", "", "a", std::string("\0b", 2),
                                          std::string(300, 'x')};
  const std::string enc = Encoded(items);
  ListElements back;
  ASSERT_TRUE(back.Parse(enc));
  EXPECT_EQ(Items(back), items);
  uint64_t count = 0;
  ASSERT_TRUE(ListElements::Count(enc, &count));
  EXPECT_EQ(count, items.size());
  std::string again;
  back.Encode(&again);
  EXPECT_EQ(again, enc);
}

// A push copies the stored elements: the same bytes as decoding, pushing and encoding.
TEST(ListPayloadTest, PushWithoutDecodingIsPushAfterDecoding) {
  const std::vector<std::string> stored = {"x", "y", std::string(200, 'z')};
  const std::vector<std::string_view> add = {"1", "2", "3"};
  for (const bool head : {true, false}) {
    for (size_t have : {size_t{0}, size_t{3}}) {
      std::vector<std::string> start(stored.begin(), stored.begin() + have);
      std::string out;
      ASSERT_TRUE(ListElements::Push(Encoded(start), add, head, &out));
      std::vector<std::string> want = start;
      for (std::string_view a : add) want.insert(head ? want.begin() : want.end(), std::string(a));
      EXPECT_EQ(out, Encoded(want)) << head << have;  // LPUSH 1 2 3 gives 3 2 1 ...
    }
  }
  // 127 elements and one more: the count's varint grows a byte.
  std::vector<std::string> many(127, "e");
  std::string out;
  ASSERT_TRUE(ListElements::Push(Encoded(many), std::vector<std::string_view>{"f"}, false, &out));
  many.push_back("f");
  EXPECT_EQ(out, Encoded(many));
  EXPECT_FALSE(ListElements::Push("", std::vector<std::string_view>{"f"}, false, &out));
}

// Slice and Pop walk the payload; they agree with the decoded list for every range and count.
TEST(ListPayloadTest, SliceAndPopAgreeWithTheDecodedList) {
  std::vector<std::string> items;
  for (int i = 0; i < 9; ++i) items.push_back(std::string(i * 20, static_cast<char>('a' + i)));
  const std::string enc = Encoded(items);
  for (uint64_t from = 0; from <= 10; ++from) {
    for (uint64_t to = from; to <= 11; ++to) {
      std::vector<std::string_view> got;
      ASSERT_TRUE(ListElements::Slice(enc, from, to, &got));
      std::vector<std::string> want;
      for (uint64_t i = from; i < std::min<uint64_t>(to, items.size()); ++i) want.push_back(items[i]);
      EXPECT_EQ(std::vector<std::string>(got.begin(), got.end()), want) << from << " " << to;
    }
  }
  for (const bool head : {true, false}) {
    for (uint64_t count = 0; count <= 10; ++count) {
      std::vector<std::string_view> popped;
      std::string rest;
      uint64_t left;
      ASSERT_TRUE(ListElements::Pop(enc, head, count, &popped, &rest, &left));
      std::vector<std::string> kept = items, want;
      for (uint64_t i = 0; i < count && !kept.empty(); ++i) {
        want.push_back(head ? kept.front() : kept.back());
        head ? (void)kept.erase(kept.begin()) : kept.pop_back();
      }
      EXPECT_EQ(std::vector<std::string>(popped.begin(), popped.end()), want);
      EXPECT_EQ(left, kept.size());
      EXPECT_EQ(rest, kept.empty() ? "" : Encoded(kept)) << head << count;
    }
  }
  std::vector<std::string_view> out;
  std::string rest;
  uint64_t left;
  EXPECT_FALSE(ListElements::Slice(enc.substr(0, enc.size() - 1), 0, 9, &out));
  EXPECT_FALSE(ListElements::Pop(enc.substr(0, enc.size() - 1), false, 1, &out, &rest, &left));
  EXPECT_FALSE(ListElements::Pop(enc + "x", false, 1, &out, &rest, &left));
}

TEST(ListPayloadTest, RefusesMalformedPayloads) {
  const std::string enc = Encoded({"ab", "c"});
  ListElements l;
  EXPECT_FALSE(l.Parse(""));
  EXPECT_FALSE(l.Parse(std::string(1, '\x01') + enc.substr(1)));  // a flag not defined
  for (size_t cut = 0; cut < enc.size(); ++cut) EXPECT_FALSE(l.Parse(enc.substr(0, cut))) << cut;
  EXPECT_FALSE(l.Parse(enc + "x"));  // trailing bytes
  EXPECT_TRUE(l.empty());
  // A count beyond what the bytes can hold is refused from the header.
  uint64_t count;
  EXPECT_FALSE(ListElements::Count(std::string("\0\x7f", 2), &count));
  EXPECT_FALSE(l.Parse(std::string("\0\xff\xff\xff\xff\x0f", 6)));
  // A varint not in its shortest form.
  EXPECT_FALSE(l.Parse(std::string("\0\x81\x00" "\x01" "a", 5)));
}

}  // namespace
}  // namespace flin::storage
