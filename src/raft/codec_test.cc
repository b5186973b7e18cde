// Round trips and malformed input for the Raft codec.

#include "raft/codec.h"

#include <gtest/gtest.h>

namespace flin::raft {
namespace {

Message FullMessage() {
  Message m;
  m.type = MessageType::kSnapshot;
  m.from = 3;
  m.to = 1ull << 40;
  m.term = 7;
  m.log_term = 6;
  m.index = 300;
  m.commit = 299;
  m.reject = true;
  m.reject_hint = 12;
  m.tick = 99999;
  m.read_seq = 5;
  m.force = true;
  m.entries = {{7, 301, EntryType::kNormal, "hello"},
               {7, 302, EntryType::kConfChange, EncodeConfChange({ConfChangeType::kAddLearner, 9})},
               {7, 303, EntryType::kNormal, ""}};
  m.snapshot = {250, 5, {{1, 2, 3}, {9}}};
  m.offset = 4096;
  m.chunk = std::string(1000, '\0') + "tail";
  m.done = true;
  m.run_id = 0xfeedfacecafebeefull;
  m.recover_to = 301;
  m.unanimous = true;
  return m;
}

TEST(CodecTest, MessageRoundTrip) {
  for (const Message& m : {Message{}, FullMessage()}) {
    std::string wire;
    EncodeMessage(m, &wire);
    auto d = DecodeMessage(wire);
    ASSERT_TRUE(d.ok()) << d.status().ToString();
    EXPECT_EQ(d.value(), m);
  }
}

TEST(CodecTest, HeartbeatIsSmall) {
  Message m;
  m.type = MessageType::kHeartbeat;
  m.from = 1;
  m.to = 2;
  m.term = 5;
  m.commit = 1000;
  m.tick = 5000;
  std::string wire;
  EncodeMessage(m, &wire);
  EXPECT_LE(wire.size(), 12u);
}

TEST(CodecTest, OtherValuesRoundTrip) {
  std::string w;
  EncodeEntry({3, 4, EntryType::kConfChange, "x"}, &w);
  EXPECT_EQ(DecodeEntry(w).value(), (Entry{3, 4, EntryType::kConfChange, "x"}));
  w.clear();
  EncodeHardState({9, 2, ~0ull}, &w);
  EXPECT_EQ(DecodeHardState(w).value(), (HardState{9, 2, ~0ull}));
  w.clear();
  EncodeConfState({{1, 2}, {3}}, &w);
  EXPECT_EQ(DecodeConfState(w).value(), (ConfState{{1, 2}, {3}}));
  w.clear();
  EncodeSnapshotMeta({5, 6, {{1}, {}}}, &w);
  EXPECT_EQ(DecodeSnapshotMeta(w).value(), (SnapshotMeta{5, 6, {{1}, {}}}));
  ConfChange cc{ConfChangeType::kPromoteLearner, 77};
  EXPECT_EQ(DecodeConfChange(EncodeConfChange(cc)).value(), cc);
}

TEST(CodecTest, EveryTruncationIsRejected) {
  std::string wire;
  EncodeMessage(FullMessage(), &wire);
  for (size_t n = 0; n < wire.size(); n++) {
    auto d = DecodeMessage(std::string_view(wire).substr(0, n));
    EXPECT_FALSE(d.ok()) << "prefix of " << n << " bytes accepted";
    if (!d.ok()) {
      EXPECT_EQ(d.status().code(), Status::Code::kCorruption);
    }
  }
}

TEST(CodecTest, TrailingBytesAreRejected) {
  std::string wire;
  EncodeMessage(FullMessage(), &wire);
  wire.push_back('\0');
  EXPECT_FALSE(DecodeMessage(wire).ok());
}

TEST(CodecTest, CorruptedBytesNeverCrash) {
  std::string wire;
  EncodeMessage(FullMessage(), &wire);
  // Flip every bit in turn: the decoder either rejects or returns some message; it never
  // crashes or reads out of bounds (run under ASan).
  for (size_t i = 0; i < wire.size(); i++) {
    for (int b = 0; b < 8; b++) {
      std::string c = wire;
      c[i] = static_cast<char>(c[i] ^ (1 << b));
      (void)DecodeMessage(c);
    }
  }
}

TEST(CodecTest, HugeLengthsAreRejectedWithoutAllocating) {
  // type=App, from=1, to=2, flags=entries, count = 2^62: must fail on the count, not try to
  // allocate.
  std::string wire = {0, 1, 2};
  wire += std::string("\x80\x10", 2);  // flags: kHasEntries (1 << 11)
  wire += std::string("\x80\x80\x80\x80\x80\x80\x80\x80\x40", 9);
  auto d = DecodeMessage(wire);
  EXPECT_FALSE(d.ok());
  // A chunk length beyond the input.
  std::string w2 = {8, 1, 2};
  w2 += std::string("\x80\x40", 2);  // kHasChunk (1 << 13)
  w2 += std::string("\xff\xff\xff\xff\x0f", 5);
  EXPECT_FALSE(DecodeMessage(w2).ok());
}

TEST(CodecTest, BadEnumsAndVarintsAreRejected) {
  EXPECT_FALSE(DecodeMessage(std::string(1, static_cast<char>(kNumMessageTypes))).ok());
  EXPECT_FALSE(DecodeConfChange(std::string("\x09\x01", 2)).ok());
  EXPECT_FALSE(DecodeEntry(std::string("\x01\x01\x07\x00", 4)).ok());  // entry type 7
  // 11-byte varint, and a 10-byte one overflowing 64 bits.
  EXPECT_FALSE(DecodeHardState(std::string(10, '\xff') + std::string("\x01\x00\x00", 3)).ok());
  EXPECT_FALSE(DecodeHardState(std::string(9, '\xff') + std::string("\x02\x00\x00", 3)).ok());
  EXPECT_TRUE(DecodeHardState(std::string(9, '\xff') + std::string("\x01\x00\x00", 3)).ok());
  // Unknown flag bits.
  EXPECT_FALSE(DecodeMessage(std::string("\x00\x01\x02\x80\x80\x01", 6)).ok());
}

}  // namespace
}  // namespace flin::raft
