// Snapshot data arriving in pieces (SnapshotStream) is accepted or refused exactly as the
// whole of it would be, whatever the pieces: checked against a reference walk of whole data
// over random snapshots, arriving in random pieces (empty ones too), damaged at random bytes
// or cut short.

#include "cluster/snapshot_data.h"

#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "storage/encoding.h"
#include "storage/hash_payload.h"
#include "storage/list_payload.h"

namespace flin::cluster {
namespace {

using Records = std::vector<std::pair<std::string, std::string>>;

// The rules, written out plainly (the version before SnapshotStream, which every node of
// earlier builds applies): a header or none, then whole records, keys ascending, values
// decodable, a hash's payload well formed.
bool ReferenceAccepts(std::string_view data, Records* out) {
  size_t pos = 0;
  uint32_t first;
  size_t p = 0;
  if (GetU32(data, &p, &first) && first == kSnapshotHeader) {
    if (data.size() < 12) return false;
    pos = 12;
  }
  std::string prev;
  bool any = false;
  while (pos < data.size()) {
    uint32_t kl, vl;
    if (!GetU32(data, &pos, &kl) || data.size() - pos < kl) return false;
    std::string k(data.substr(pos, kl));
    pos += kl;
    if (!GetU32(data, &pos, &vl) || data.size() - pos < vl) return false;
    std::string v(data.substr(pos, vl));
    pos += vl;
    const auto value = storage::DecodeValue(v);
    if (!value || !storage::WellFormedPayload(*value) || (any && k <= prev)) {
      return false;
    }
    prev = k;
    any = true;
    out->emplace_back(k, v);
  }
  return true;
}

std::string RandomSnapshot(std::mt19937& rng) {
  std::string data;
  if (rng() % 4 != 0) {
    PutU32(&data, kSnapshotHeader);
    PutU64(&data, rng());
  }
  const int n = rng() % 20;
  std::vector<std::string> keys;
  for (int i = 0; i < n; ++i) keys.push_back("k" + std::to_string(rng() % 1000));
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  for (const std::string& k : keys) {
    std::string v;
    if (rng() % 6 == 0) {  // a list
      storage::ListElements l;
      l.Parse(storage::kEmptyListPayload);
      for (int e = 1 + rng() % 5; e > 0; --e) l.items().push_back(l.Keep(std::string(rng() % 9, 'e')));
      std::string payload;
      l.Encode(&payload);
      storage::EncodeValue(storage::ValueType::kList, rng() % 2 ? 0 : 12345, payload, &v);
    } else if (const int kind = rng() % 6; kind < 2) {  // a hash, or a set (of integers, or not)
      storage::HashFields h;
      h.Parse(storage::kEmptyHashPayload);
      const bool set = kind == 1, ints = rng() % 2 == 0;
      std::vector<std::string> fields;
      for (int f = 1 + rng() % 5; f > 0; --f) fields.push_back((ints ? "" : "f") + std::to_string(f));
      for (const std::string& f : fields) h.Set(f, h.Keep(std::string(set ? 0 : rng() % 50, 'v')));
      if (set) h.set_hashtable(!ints);
      std::string payload;
      h.Encode(&payload);
      storage::EncodeValue(set ? storage::ValueType::kSet : storage::ValueType::kHash,
                           rng() % 2 ? 0 : 12345, payload, &v);
    } else {
      storage::EncodeValue(storage::ValueType::kString, rng() % 2 ? 0 : 12345,
                           std::string(rng() % 300, 'x'), &v);
    }
    PutU32(&data, static_cast<uint32_t>(k.size()));
    data += k;
    PutU32(&data, static_cast<uint32_t>(v.size()));
    data += v;
  }
  return data;
}

TEST(SnapshotStreamTest, PiecesAreJudgedAsTheWhole) {
  std::mt19937 rng(7);
  int accepted = 0, refused = 0;
  for (int round = 0; round < 3000; ++round) {
    std::string data = RandomSnapshot(rng);
    switch (rng() % 4) {  // damaged (a byte changed, the tail cut), or left whole
      case 0:
        if (!data.empty()) data[rng() % data.size()] ^= static_cast<char>(1 + rng() % 255);
        break;
      case 1:
        data.resize(rng() % (data.size() + 1));
        break;
      default:
        break;
    }
    Records expected, got, whole;
    const bool ok = ReferenceAccepts(data, &expected);
    SnapshotStream stream;
    Status fed;
    // Pieces of 0-64 bytes; each call sees what arrived and was not consumed yet.
    for (size_t arrived = 0; fed.ok();) {
      arrived = std::min(data.size(), arrived + rng() % 65);
      fed = stream.Consume(std::string_view(data).substr(stream.consumed(),
                                                         arrived - stream.consumed()),
                           [&](auto k, auto v) {
                             got.emplace_back(std::string(k), std::string(v));
                             return Status::Ok();
                           });
      if (arrived == data.size()) break;
    }
    const Status end = fed.ok() ? stream.Finish(data.size()) : fed;
    ASSERT_EQ(end.ok(), ok) << "round " << round << ": " << end.ToString();
    Status parsed = ParseSnapshotData(data, [&](auto k, auto v) {
      whole.emplace_back(std::string(k), std::string(v));
      return Status::Ok();
    });
    ASSERT_EQ(parsed.ok(), ok) << "round " << round;
    // Refused or not, the records handed out are the ones before the first fault, in order.
    EXPECT_EQ(got, expected) << "round " << round;
    EXPECT_EQ(whole, expected) << "round " << round;
    if (ok) {
      EXPECT_EQ(stream.clock(), SnapshotClock(data));
      ++accepted;
    } else {
      ++refused;
    }
  }
  EXPECT_GT(accepted, 500);
  EXPECT_GT(refused, 500);
}

TEST(SnapshotStreamTest, ALengthBeyondAnyValueIsRefusedAtOnce) {
  std::string data;
  PutU32(&data, kSnapshotHeader);
  PutU64(&data, 1);
  PutU32(&data, kMaxSnapshotField + 1);  // a damaged key length
  SnapshotStream stream;
  EXPECT_FALSE(stream.Consume(data, nullptr).ok());  // not kept waiting for 1 GiB of key
  EXPECT_FALSE(stream.Consume(std::string_view(data).substr(stream.consumed()), nullptr).ok());
  EXPECT_FALSE(stream.Finish(data.size()).ok());
}

// A peer's snapshot is data from outside: a hash whose payload does not parse is refused
// (a string's payload is any bytes).
TEST(SnapshotStreamTest, AMalformedHashIsRefused) {
  for (const bool good : {true, false}) {
    std::string payload("\x00\x01\x01" "f" "\x01" "v", 6);
    if (!good) payload[3 + 1] = 5;  // the value's length past the end
    std::string v, data;
    storage::EncodeValue(storage::ValueType::kHash, 0, payload, &v);
    PutU32(&data, 1);
    data += "k";
    PutU32(&data, static_cast<uint32_t>(v.size()));
    data += v;
    SnapshotStream stream;
    EXPECT_EQ(stream.Consume(data, nullptr).ok(), good);
  }
}

// A set whose payload parses but is no set (a value, or flagged an intset with a member that
// cannot be in one) is refused too.
TEST(SnapshotStreamTest, AMalformedSetIsRefused) {
  const std::string payloads[] = {
      std::string("\x00\x01\x01" "7" "\x00", 5),  // an intset {7}: good
      std::string("\x01\x01\x01" "a" "\x00", 5),  // a hashtable {a}: good
      std::string("\x00\x01\x01" "a" "\x00", 5),  // an intset holding "a"
      std::string("\x01\x01\x01" "a" "\x01" "v", 6),  // a member with a value
  };
  for (size_t i = 0; i < std::size(payloads); ++i) {
    std::string v, data;
    storage::EncodeValue(storage::ValueType::kSet, 0, payloads[i], &v);
    PutU32(&data, 1);
    data += "k";
    PutU32(&data, static_cast<uint32_t>(v.size()));
    data += v;
    SnapshotStream stream;
    EXPECT_EQ(stream.Consume(data, nullptr).ok(), i < 2) << i;
  }
}

TEST(SnapshotStreamTest, AnErrorFromTheCallerStopsTheStream) {
  std::string data;
  std::string v;
  storage::EncodeValue(storage::ValueType::kString, 0, "x", &v);
  for (const char* k : {"a", "b"}) {
    PutU32(&data, 1);
    data += k;
    PutU32(&data, static_cast<uint32_t>(v.size()));
    data += v;
  }
  SnapshotStream stream;
  int calls = 0;
  Status s = stream.Consume(data, [&](auto, auto) {
    ++calls;
    return Status::IOError("disk full");
  });
  EXPECT_EQ(calls, 1);
  EXPECT_FALSE(s.ok());
  EXPECT_FALSE(stream.Finish(data.size()).ok());
}

}  // namespace
}  // namespace flin::cluster
