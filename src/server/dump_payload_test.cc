#include "server/dump_payload.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "common/crc64.h"
#include "storage/hash_payload.h"
#include "storage/list_payload.h"

namespace flin::server {
namespace {

std::string Hex(std::string_view s) {
  static const char* kDigits = "0123456789abcdef";
  std::string out;
  for (unsigned char c : s) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 15]);
  }
  return out;
}

std::string Unhex(std::string_view hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  }
  return out;
}

// A payload around `body` (type byte and object) with a valid footer of `version`.
std::string WithFooter(std::string body, uint16_t version = kDumpRdbVersion) {
  body.push_back(static_cast<char>(version & 0xff));
  body.push_back(static_cast<char>(version >> 8));
  const uint64_t crc = Crc64(0, body);
  for (int i = 0; i < 8; ++i) body.push_back(static_cast<char>((crc >> (8 * i)) & 0xff));
  return body;
}

LoadedPayload Load(std::string_view payload, std::string* value, uint64_t max = 1 << 30) {
  value->clear();
  return LoadDumpPayload(payload, max, value);
}

constexpr uint64_t kMax = 64 << 20;

// DUMP replies of redis-server 7.0.15, taken with redis-cli.
TEST(DumpPayloadTest, DumpIsByteForByteRedis) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"hello", "000568656c6c6f0a006372df766534200a"},
      {"", "00000a005d9b5c400f7fa2da"},
      {"123", "00c07b0a0048e253e1007a67b9"},
      {"-129", "00c17fff0a001760822854808480"},
      {"2147483647", "00c2ffffff7f0a002c74e59ee02eada1"},
      {"2147483648", "000a323134373438333634380a00e7b129a34c1d76ee"},
      {"9223372036854775807", "0013393232333337323033363835343737353830370a003a657e9481e85f22"},
      {"+5", "00022b350a0087d1480711b44cc2"},
      {"007", "00033030370a007258e27b4c69bad9"},
      {"-0", "00022d300a00d5411fd9d6d050cc"},
      {"abcdefghijklmnopqrstu",
       "00156162636465666768696a6b6c6d6e6f7071727374750a00ad1c23029a10e306"},
      {std::string(100, 'a'), "00c3094064016161e057000161610a00e8a3b507b06df271"},
  };
  for (const auto& [value, hex] : cases) {
    EXPECT_EQ(Hex(DumpString(value)), hex) << "value " << value;
    std::string back;
    ASSERT_EQ(Load(Unhex(hex), &back).fault, PayloadFault::kNone) << value;
    EXPECT_EQ(back, value);
  }
}

TEST(DumpPayloadTest, RoundTripsAcrossEncodingsAndLengthForms) {
  std::mt19937_64 rng(7);
  std::string random(200000, '\0');
  for (char& c : random) c = static_cast<char>(rng());
  std::vector<std::string> values = {"0",
                                     "-1",
                                     "127",
                                     "128",
                                     "-128",
                                     "-129",
                                     "32767",
                                     "32768",
                                     "-32768",
                                     "-32769",
                                     "2147483647",
                                     "-2147483648",
                                     "-2147483649",
                                     "12345678901",
                                     "-1234567890",
                                     "01",
                                     "1 ",
                                     " 1",
                                     "1e3",
                                     "0x10",
                                     std::string("\0\xff\r\n", 4),
                                     std::string(20, 'z'),
                                     std::string(21, 'z'),
                                     std::string(63, 'q'),
                                     std::string(64, 'q'),
                                     random.substr(0, 63),
                                     random.substr(0, 64),
                                     random.substr(0, 16383),
                                     random.substr(0, 16384),
                                     random,
                                     std::string(1 << 20, 'x') + random.substr(0, 1000)};
  for (const std::string& v : values) {
    const std::string p = DumpString(v);
    std::string back;
    const LoadedPayload r = Load(p, &back);
    ASSERT_EQ(r.fault, PayloadFault::kNone) << v.size();
    EXPECT_EQ(r.size, v.size());
    EXPECT_TRUE(back == v) << "length " << v.size();
    EXPECT_EQ(LoadDumpPayload(p, kMax, nullptr).size, v.size());  // header only
  }
  // What Redis picks: integers of up to 11 characters in 32 bits, LZF only when it pays.
  EXPECT_EQ(static_cast<uint8_t>(DumpString("-2147483648")[1]), 0xc2);
  EXPECT_EQ(static_cast<uint8_t>(DumpString("12345678901")[1]), 11);
  EXPECT_EQ(static_cast<uint8_t>(DumpString(std::string(21, 'z'))[1]), 0xc3);
  EXPECT_EQ(static_cast<uint8_t>(DumpString(random.substr(0, 64))[1]), 0x40);  // 14-bit length
  EXPECT_EQ(static_cast<uint8_t>(DumpString(random)[1]), 0x80);                // 32-bit length
}

// Every form Redis's loader reads, including those its writer never makes.
TEST(DumpPayloadTest, ReadsEveryStringEncoding) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {std::string("\x00\x40\x05hello", 8), "hello"},                 // 14-bit length
      {std::string("\x00\x80\0\0\0\x05hello", 11), "hello"},          // 32-bit length
      {std::string("\x00\x81\0\0\0\0\0\0\0\x05hello", 15), "hello"},  // 64-bit length
      {std::string("\x00\xc0\x80", 3), "-128"},
      {std::string("\x00\xc1\x00\x80", 4), "-32768"},
      {std::string("\x00\xc2\x00\x00\x00\x80", 6), "-2147483648"},
      {std::string("\x00\xc3\x06\x05\x04hello", 10), "hello"},  // LZF, one literal run
      {std::string("\x00\xc3\x00\x00", 4), ""},                 // LZF of nothing
      {std::string("\x00\x05helloXYZ", 10), "hello"},           // bytes after it: ignored
  };
  for (const auto& [body, value] : cases) {
    std::string back;
    ASSERT_EQ(Load(WithFooter(body), &back).fault, PayloadFault::kNone) << Hex(body);
    EXPECT_EQ(back, value);
  }
}

TEST(DumpPayloadTest, FooterVersionAndChecksum) {
  const std::string body("\x00\x05hello", 7);
  std::string v;
  EXPECT_EQ(Load(WithFooter(body, 9), &v).fault, PayloadFault::kNone);
  EXPECT_EQ(Load(WithFooter(body, 0), &v).fault, PayloadFault::kNone);
  EXPECT_EQ(Load(WithFooter(body, 11), &v).fault, PayloadFault::kVersionOrChecksum);
  EXPECT_EQ(Load(WithFooter(body, 0xffff), &v).fault, PayloadFault::kVersionOrChecksum);
  std::string p = WithFooter(body);
  for (size_t i = 0; i < p.size(); ++i) {
    std::string bad = p;
    bad[i] ^= 0x20;
    EXPECT_EQ(Load(bad, &v).fault, PayloadFault::kVersionOrChecksum) << i;
  }
  EXPECT_EQ(Load("", &v).fault, PayloadFault::kVersionOrChecksum);
  EXPECT_EQ(Load("123456789", &v).fault, PayloadFault::kVersionOrChecksum);
  // The footer alone: its version's bytes are the type and the string's length, as Redis
  // reads them: version 0 is an empty string, 10 (a list's type) no object.
  EXPECT_EQ(Load(WithFooter(""), &v).fault, PayloadFault::kBadFormat);
  ASSERT_EQ(Load(WithFooter("", 0), &v).fault, PayloadFault::kNone);
  EXPECT_EQ(v, "");
}

// As Redis's reader, which reads the object from a buffer that holds the footer too.
TEST(DumpPayloadTest, AStringMayRunIntoTheFooterButNotPastIt) {
  std::string v;
  const std::string p = WithFooter(std::string("\x00\x05he", 4));
  ASSERT_EQ(Load(p, &v).fault, PayloadFault::kNone);
  EXPECT_EQ(v, p.substr(2, 5));  // "he", the version, a byte of the CRC
  EXPECT_EQ(Load(WithFooter(std::string("\x00\x0chi", 4)), &v).fault, PayloadFault::kNone);
  EXPECT_EQ(Load(WithFooter(std::string("\x00\x0dhi", 4)), &v).fault, PayloadFault::kBadFormat);
}

TEST(DumpPayloadTest, OtherTypesAreNamedAndUnknownOnesAreBadData) {
  std::string v;
  const std::vector<std::pair<int, std::string>> types = {
      {3, "zset"},  {5, "zset"},   {6, "module"}, {7, "module"}, {12, "zset"},
      {15, "stream"}, {17, "zset"}, {19, "stream"}};
  for (const auto& [type, name] : types) {
    const LoadedPayload r = Load(WithFooter(std::string(1, static_cast<char>(type)) + "\x01a"), &v);
    EXPECT_EQ(r.fault, PayloadFault::kNotString) << type;
    EXPECT_EQ(RdbTypeName(r.type), name);
  }
  // Hashes (4, 16) are read as such: this body is not one.
  for (int type : {4, 16}) {
    const LoadedPayload r = Load(WithFooter(std::string(1, static_cast<char>(type)) + "\x01a"), &v);
    EXPECT_EQ(r.fault, PayloadFault::kBadFormat) << type;
    EXPECT_EQ(r.value_type, storage::ValueType::kHash);
  }
  // Sets (2, 11) too: a set of one member "a"; the body above is no intset.
  {
    const LoadedPayload r = Load(WithFooter(std::string("\x02\x01\x01" "a")), &v);
    EXPECT_EQ(r.fault, PayloadFault::kNone);
    EXPECT_EQ(r.value_type, storage::ValueType::kSet);
    const LoadedPayload i = Load(WithFooter(std::string("\x0b\x01" "a")), &v);
    EXPECT_EQ(i.fault, PayloadFault::kBadFormat);
    EXPECT_EQ(i.value_type, storage::ValueType::kSet);
  }
  // Lists (1, 18): a list of one element "a"; a quicklist node of one plain element.
  {
    const LoadedPayload r = Load(WithFooter(std::string("\x01\x01\x01" "a")), &v);
    EXPECT_EQ(r.fault, PayloadFault::kNone);
    EXPECT_EQ(r.value_type, storage::ValueType::kList);
    const LoadedPayload q = Load(WithFooter(std::string("\x12\x01\x01\x01" "a")), &v);
    EXPECT_EQ(q.fault, PayloadFault::kNone);
    EXPECT_EQ(q.value_type, storage::ValueType::kList);
    EXPECT_EQ(Load(WithFooter(std::string("\x12\x01\x03\x01" "a")), &v).fault,
              PayloadFault::kBadFormat);  // a container kind 3
  }
  // Older encodings of the types Flin has are bad data, not another type.
  for (int type : {9, 10, 13, 14}) {
    EXPECT_EQ(Load(WithFooter(std::string(1, static_cast<char>(type)) + "\x01a"), &v).fault,
              PayloadFault::kBadFormat)
        << type;
  }
  for (int type : {8, 20, 21, 0x7f, 0xff}) {
    EXPECT_EQ(Load(WithFooter(std::string(1, static_cast<char>(type)) + "\x01a"), &v).fault,
              PayloadFault::kBadFormat)
        << type;
  }
  // Unknown string encodings and length forms.
  for (const char* body : {"\x00\xc4\x00", "\x00\xff\x00", "\x00\x82\x00"}) {
    EXPECT_EQ(Load(WithFooter(std::string(body, 3)), &v).fault, PayloadFault::kBadFormat);
  }
}

TEST(DumpPayloadTest, LyingLengthsAreRefusedWithoutAllocating) {
  std::string v;
  // A raw length far past the payload.
  const std::string huge64("\x00\x81\x40\0\0\0\0\0\0\0hello", 15);
  EXPECT_EQ(Load(WithFooter(huge64), &v).fault, PayloadFault::kBadFormat);
  // LZF: a compressed length past the payload; an expanded length over the limit, refused
  // before decompressing (max_bytes is the allocation bound); lengths that do not match.
  EXPECT_EQ(Load(WithFooter(std::string("\x00\xc3\x30\x05\x04hello", 10)), &v).fault,
            PayloadFault::kBadFormat);
  const std::string big("\x00\xc3\x06\x81\0\0\0\x10\0\0\0\0\x04hello", 18);
  EXPECT_EQ(Load(WithFooter(big), &v, kMax).fault, PayloadFault::kTooLarge);
  EXPECT_EQ(LoadDumpPayload(WithFooter(big), kMax, nullptr).size, uint64_t{1} << 36);
  EXPECT_EQ(Load(WithFooter(std::string("\x00\xc3\x06\x09\x04hello", 10)), &v).fault,
            PayloadFault::kBadFormat);
  EXPECT_EQ(Load(WithFooter(std::string("\x00\xc3\x06\x03\x04hello", 10)), &v).fault,
            PayloadFault::kBadFormat);
  // Every limit applies to the decoded length, whatever the encoding.
  EXPECT_EQ(Load(DumpString("hello"), &v, 4).fault, PayloadFault::kTooLarge);
  EXPECT_EQ(Load(DumpString("hello"), &v, 5).fault, PayloadFault::kNone);
  EXPECT_EQ(Load(DumpString("-2147483648"), &v, 10).fault, PayloadFault::kTooLarge);
  EXPECT_EQ(Load(DumpString(std::string(1000, 'a')), &v, 999).fault, PayloadFault::kTooLarge);
}

// Every prefix, and every byte changed, of payloads of each encoding (the footer made valid
// again, so the object itself is read): never a crash, a value only within the limit.
TEST(DumpPayloadTest, TruncatedAndCorruptObjectsNeverCrash) {
  std::mt19937_64 rng(11);
  std::string text;
  for (int i = 0; i < 300; ++i) text += "word" + std::to_string(rng() % 50) + " ";
  for (const std::string& value :
       {std::string("hello"), std::string("-32768"), text, std::string(70, 'b')}) {
    const std::string p = DumpString(value);
    const std::string body = p.substr(0, p.size() - 10);
    std::string v;
    for (size_t cut = 0; cut < body.size(); ++cut) {
      const LoadedPayload r = Load(WithFooter(body.substr(0, cut)), &v, 4096);
      if (r.fault == PayloadFault::kNone) {
        EXPECT_LE(v.size(), 4096u);
      }
    }
    for (size_t i = 0; i < body.size(); ++i) {
      for (int bit = 0; bit < 8; ++bit) {
        std::string bad = body;
        bad[i] ^= static_cast<char>(1 << bit);
        const LoadedPayload r = Load(WithFooter(bad), &v, 4096);
        if (r.fault == PayloadFault::kNone) {
          EXPECT_LE(v.size(), 4096u);
        }
      }
    }
  }
}

// A hash payload's fields in order, as (field, value) pairs.
std::vector<std::pair<std::string, std::string>> HashOf(std::string_view payload) {
  storage::HashFields h;
  EXPECT_TRUE(h.Parse(payload));
  std::vector<std::pair<std::string, std::string>> out;
  h.ForEach([&](std::string_view f, std::string_view v) { out.emplace_back(f, v); });
  return out;
}

// DUMP replies of redis-server 7.0.15 for hashes: a small one is a listpack (type 16) with
// every integer encoding Redis picked for these values, one with a 65-byte value is
// RDB_TYPE_HASH (4) with an LZF and an integer string, and a listpack whose string is LZF.
TEST(DumpPayloadTest, RestoresRedisHashes) {
  using P = std::vector<std::pair<std::string, std::string>>;
  std::string v;
  LoadedPayload r = Load(Unhex("1032320000000a0081610201018162028568656c6c6f06816302f178ec038164"
                               "02f2a0860104816502f4351cdcdf0200000009ff0a00b50ebe0dc5f62776"),
                         &v);
  ASSERT_EQ(r.fault, PayloadFault::kNone);
  EXPECT_EQ(r.value_type, storage::ValueType::kHash);
  EXPECT_EQ(HashOf(v), (P{{"a", "1"}, {"b", "hello"}, {"c", "-5000"}, {"d", "100000"},
                          {"e", "12345678901"}}));
  storage::HashFields h;
  ASSERT_TRUE(h.Parse(v));
  EXPECT_FALSE(h.hashtable());

  r = Load(Unhex("04020166c3094041017878e034000178780167c0070a00a34fc69256428a53"), &v);
  ASSERT_EQ(r.fault, PayloadFault::kNone);
  EXPECT_EQ(HashOf(v), (P{{"f", std::string(65, 'x')}, {"g", "7"}}));
  ASSERT_TRUE(h.Parse(v));
  EXPECT_TRUE(h.hashtable());  // a value over 64 bytes, as Redis converts it

  r = Load(Unhex("10c3407b42690b690200002800826630039861e00e000319826631e0141d0032e0141d0033e0141d"
                 "0034e0141d0035e0141d0036e0141d0037e0141d0038e0141d0039e0121d048366313004e111"
                 "2c201e0031e0151e0032e0151e0033e0151e0034e0151e0035e0151e0036e0151e0037e0151e"
                 "0038e0151e0039e0111e0119ff0a00428ddceaa92ef92d"),
           &v);
  ASSERT_EQ(r.fault, PayloadFault::kNone);
  P want;
  for (int i = 0; i < 20; ++i) want.emplace_back("f" + std::to_string(i), std::string(24, 'a'));
  EXPECT_EQ(HashOf(v), want);
}

// A set payload's members in order, and whether it is flagged hashtable.
std::pair<std::vector<std::string>, bool> SetOf(std::string_view payload) {
  storage::HashFields h;
  EXPECT_TRUE(h.Parse(payload));
  std::vector<std::string> out;
  h.ForEach([&](std::string_view m, std::string_view v) {
    EXPECT_EQ(v, "");
    out.emplace_back(m);
  });
  return {out, h.hashtable()};
}

// DUMP replies of redis-server 7.0.15 for sets: intsets (type 11) of 16-bit integers, and of
// 64-bit ones whose string is LZF; a hashtable set (type 2).
TEST(DumpPayloadTest, RestoresRedisSets) {
  using S = std::pair<std::vector<std::string>, bool>;
  std::string v;
  LoadedPayload r = Load(Unhex("0b1002000000040000"
                               "00fbff0100020003000a00c8e4dfb66f7396f0"),
                         &v);
  ASSERT_EQ(r.fault, PayloadFault::kNone);
  EXPECT_EQ(r.value_type, storage::ValueType::kSet);
  EXPECT_EQ(SetOf(v), (S{{"-5", "1", "2", "3"}, false}));
  r = Load(Unhex("0bc31b20040800000003200360"
                 "0003ffffff01600803000070114009010000"
                 "0a005914aeafa0eb55dd"),
           &v);
  ASSERT_EQ(r.fault, PayloadFault::kNone);
  EXPECT_EQ(SetOf(v), (S{{"-1099511627776", "1", "70000"}, false}));
  r = Load(Unhex("020202626201610a002157186e64d0ce80"), &v);
  ASSERT_EQ(r.fault, PayloadFault::kNone);
  EXPECT_EQ(SetOf(v), (S{{"bb", "a"}, true}));
}

// An intset is refused unless it is one: its width 2, 4 or 8, its size its count's, at least
// one integer, strictly ascending. A type-2 set with a member twice is refused too.
TEST(DumpPayloadTest, RefusesBadIntsetsAndRepeatedMembers) {
  const auto intset = [](uint32_t width, uint32_t count, std::vector<int64_t> ints) {
    std::string is;
    for (uint32_t x : {width, count}) {
      for (int i = 0; i < 4; ++i) is.push_back(static_cast<char>((x >> (8 * i)) & 0xff));
    }
    for (int64_t n : ints) {
      for (uint32_t i = 0; i < width; ++i) is.push_back(static_cast<char>((n >> (8 * i)) & 0xff));
    }
    return WithFooter(std::string(1, 11) + std::string(1, static_cast<char>(is.size())) + is);
  };
  std::string v;
  EXPECT_EQ(Load(intset(2, 2, {1, 2}), &v).fault, PayloadFault::kNone);
  EXPECT_EQ(Load(intset(4, 2, {-7, 9}), &v).fault, PayloadFault::kNone);
  EXPECT_EQ(SetOf(v).first, (std::vector<std::string>{"-7", "9"}));
  EXPECT_EQ(Load(intset(3, 2, {1, 2}), &v).fault, PayloadFault::kBadFormat);  // width
  EXPECT_EQ(Load(intset(2, 3, {1, 2}), &v).fault, PayloadFault::kBadFormat);  // count
  EXPECT_EQ(Load(intset(2, 0, {}), &v).fault, PayloadFault::kBadFormat);      // empty
  EXPECT_EQ(Load(intset(2, 2, {2, 1}), &v).fault, PayloadFault::kBadFormat);  // order
  EXPECT_EQ(Load(intset(2, 2, {1, 1}), &v).fault, PayloadFault::kBadFormat);  // twice
  EXPECT_EQ(Load(WithFooter(std::string("\x02\x02\x01" "a" "\x01" "a")), &v).fault,
            PayloadFault::kBadFormat);
  EXPECT_EQ(Load(WithFooter(std::string("\x02\x00", 2)), &v).fault, PayloadFault::kBadFormat);
}

// A set DUMPs as an intset (type 11, ascending, the narrowest width) while it is one, else as
// type 2, and loads back to the same payload.
TEST(DumpPayloadTest, SetsRoundTrip) {
  for (const int64_t scale : {int64_t{1}, int64_t{1000}, int64_t{1} << 40, int64_t{0}}) {
    const bool ints = scale != 0;
    std::vector<int64_t> members;
    for (int i = 0; i < 600; i += 7) members.push_back((i % 2 ? -i : i) * (ints ? scale : 1));
    std::sort(members.begin(), members.end());  // (an intset loads ascending)
    storage::HashFields h;
    ASSERT_TRUE(h.Parse(storage::kEmptyHashPayload));
    for (int64_t m : members) h.Set(h.Keep(std::to_string(m)), "");
    if (!ints) h.Set(std::string_view("\0bin", 4), "");
    h.set_hashtable(!ints);
    std::string payload;
    h.Encode(&payload);
    const std::string dump = DumpSet(payload);
    ASSERT_FALSE(dump.empty());
    EXPECT_EQ(dump[0], ints ? 11 : 2);
    std::string v;
    const LoadedPayload r = Load(dump, &v);
    ASSERT_EQ(r.fault, PayloadFault::kNone);
    EXPECT_EQ(r.value_type, storage::ValueType::kSet);
    EXPECT_EQ(v, payload);
  }
  EXPECT_EQ(DumpSet("garbage"), "");
}

// A list DUMPs as Redis 7.0's quicklist 2 (listpack nodes of at most 8 KiB, each element in
// its narrowest listpack encoding) and loads back to the same payload; RDB_TYPE_LIST loads
// too.
TEST(DumpPayloadTest, ListsRoundTrip) {
  storage::ListElements l;
  ASSERT_TRUE(l.Parse(storage::kEmptyListPayload));
  for (const char* e : {"0", "127", "128", "-1", "4095", "-4096", "4096", "32767", "-32769",
                        "8388607", "-8388609", "2147483647", "-2147483649",
                        "9223372036854775807", "-9223372036854775808", "01", "-0", "", "x"}) {
    l.items().push_back(e);
  }
  const std::string s63(63, 'a'), s64(64, 'b'), s4095(4095, 'c'), s4096(4096, 'd');
  for (const std::string* s : {&s63, &s64, &s4095, &s4096}) l.items().push_back(*s);
  for (int i = 0; i < 3000; ++i) l.items().push_back(l.Keep("element-" + std::to_string(i)));
  std::string payload;
  l.Encode(&payload);
  const std::string dump = DumpList(payload);
  ASSERT_FALSE(dump.empty());
  EXPECT_EQ(dump[0], 18);
  std::string v;
  LoadedPayload r = Load(dump, &v);
  ASSERT_EQ(r.fault, PayloadFault::kNone);
  EXPECT_EQ(r.value_type, storage::ValueType::kList);
  EXPECT_EQ(v, payload);
  EXPECT_EQ(Load(dump, &v, payload.size() - 1).fault, PayloadFault::kTooLarge);
  // RDB_TYPE_LIST: a count, then strings.
  r = Load(WithFooter(std::string("\x01\x02\x01" "a" "\x00", 5)), &v);
  ASSERT_EQ(r.fault, PayloadFault::kNone);
  ASSERT_TRUE(l.Parse(v));
  EXPECT_EQ(std::vector<std::string_view>(l.items().begin(), l.items().end()),
            (std::vector<std::string_view>{"a", ""}));
  EXPECT_EQ(DumpList("garbage"), "");
}

// A ziplist of short strings and 0..12 immediates, as Redis 3.2-6.2 wrote them; `lie` breaks
// one thing: 1 a previous length, 2 the tail offset, 3 the count, 4 the terminator.
std::string Ziplist(const std::vector<std::string>& elements, int lie = 0) {
  std::string entries;
  size_t prev = 0, tail = 10;
  for (const std::string& e : elements) {
    std::string entry(1, static_cast<char>(prev + (lie == 1 ? 1 : 0)));
    if (e.size() == 1 && e[0] >= '0' && e[0] <= '9') {
      entry.push_back(static_cast<char>(0xf1 + (e[0] - '0')));
    } else {
      entry.push_back(static_cast<char>(e.size()));
      entry += e;
    }
    tail = 10 + entries.size();
    entries += entry;
    prev = entry.size();
  }
  std::string zl;
  const auto le = [&zl](uint64_t v, int n) {
    for (int i = 0; i < n; ++i) zl.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  };
  le(10 + entries.size() + 1, 4);
  le(tail + (lie == 2 ? 1 : 0), 4);
  le(elements.size() + (lie == 3 ? 1 : 0), 2);
  zl += entries;
  zl.push_back(lie == 4 ? '\0' : '\xff');
  return zl;
}

// What Redis 3.2 to 6.2 dumped: a list as a ziplist (10) or a quicklist of ziplists (14), a
// small hash as a ziplist (13). A lying ziplist is bad data.
TEST(DumpPayloadTest, RestoresRedis6Ziplists) {
  const auto payload = [](int type, const std::string& body) {
    return WithFooter(std::string(1, static_cast<char>(type)) + body, 9);
  };
  const auto str = [](const std::string& s) { return std::string(1, static_cast<char>(s.size())) + s; };
  std::string v;
  LoadedPayload r = Load(payload(10, str(Ziplist({"a", "7", "bc"}))), &v);
  ASSERT_EQ(r.fault, PayloadFault::kNone);
  storage::ListElements l;
  ASSERT_TRUE(l.Parse(v));
  EXPECT_EQ(std::vector<std::string_view>(l.items().begin(), l.items().end()),
            (std::vector<std::string_view>{"a", "7", "bc"}));
  r = Load(payload(14, std::string("\x03") + str(Ziplist({"x"})) + str(Ziplist({})) +
                           str(Ziplist({"y", "z"}))),
           &v);  // (an empty node skipped)
  ASSERT_EQ(r.fault, PayloadFault::kNone);
  ASSERT_TRUE(l.Parse(v));
  EXPECT_EQ(l.size(), 3u);
  r = Load(payload(13, str(Ziplist({"f", "1", "g", "two"}))), &v);
  ASSERT_EQ(r.fault, PayloadFault::kNone);
  EXPECT_EQ(r.value_type, storage::ValueType::kHash);
  EXPECT_EQ(HashOf(v), (std::vector<std::pair<std::string, std::string>>{{"f", "1"}, {"g", "two"}}));
  for (int lie = 1; lie <= 4; ++lie) {
    EXPECT_EQ(Load(payload(10, str(Ziplist({"a", "b"}, lie))), &v).fault,
              PayloadFault::kBadFormat)
        << lie;
  }
  EXPECT_EQ(Load(payload(13, str(Ziplist({"f", "1", "g"}))), &v).fault,
            PayloadFault::kBadFormat);  // odd
  EXPECT_EQ(Load(payload(14, std::string("\x01") + str(Ziplist({}))), &v).fault,
            PayloadFault::kBadFormat);  // empty
}

TEST(DumpPayloadTest, HashesRoundTrip) {
  storage::HashFields h;
  ASSERT_TRUE(h.Parse(storage::kEmptyHashPayload));
  h.Set("n", "123");
  h.Set("", h.Keep(std::string("\0bin", 4)));
  const std::string long_value(1000, 'z');  // LZF-compressed in the dump
  h.Set("long", long_value);
  std::string payload;
  h.Encode(&payload);
  const std::string dump = DumpHash(payload);
  ASSERT_FALSE(dump.empty());
  EXPECT_EQ(dump[0], 4);
  std::string v;
  const LoadedPayload r = Load(dump, &v);
  ASSERT_EQ(r.fault, PayloadFault::kNone);
  EXPECT_EQ(r.value_type, storage::ValueType::kHash);
  EXPECT_EQ(v, payload);
  EXPECT_EQ(Load(dump, &v, payload.size() - 1).fault, PayloadFault::kTooLarge);
  EXPECT_EQ(DumpHash("garbage"), "");
}

// What Redis itself would refuse: a field twice, an odd listpack, a listpack whose sizes,
// back-lengths or terminator lie, an empty hash; every cut of a good payload.
TEST(DumpPayloadTest, BadHashesAreBadData) {
  std::string v;
  // RDB_TYPE_HASH with "a" twice; with no fields.
  EXPECT_EQ(Load(WithFooter(std::string("\x04\x02\x01" "a" "\x01" "1" "\x01" "a" "\x01" "2", 10)), &v).fault,
            PayloadFault::kBadFormat);
  EXPECT_EQ(Load(WithFooter(std::string("\x04\x00", 2)), &v).fault, PayloadFault::kBadFormat);
  // A listpack of one element ("a"): header 6, entry 0x81 'a' backlen 2, terminator.
  const std::string one("\x0a\x00\x00\x00\x01\x00\x81" "a" "\x02\xff", 10);
  const auto as_string = [](const std::string& lp) {
    return std::string("\x10") + static_cast<char>(lp.size()) + lp;
  };
  EXPECT_EQ(Load(WithFooter(as_string(one)), &v).fault, PayloadFault::kBadFormat);  // odd
  // Two elements, a=1: then each lie in turn.
  const std::string two("\x0e\x00\x00\x00\x02\x00\x81" "a" "\x02\x01\x01\xff", 12);
  ASSERT_EQ(two.size(), 12u);
  std::string good = two;
  good[0] = 12;
  ASSERT_EQ(Load(WithFooter(as_string(good)), &v).fault, PayloadFault::kNone);
  EXPECT_EQ(HashOf(v), (std::vector<std::pair<std::string, std::string>>{{"a", "1"}}));
  for (size_t i = 0; i < good.size(); ++i) {
    for (int delta : {1, 0x40, 0x80}) {
      std::string bad = good;
      bad[i] = static_cast<char>(bad[i] + delta);
      const LoadedPayload r = Load(WithFooter(as_string(bad)), &v);
      // A changed total size, back-length or terminator is refused; a changed count, entry
      // encoding or content may still make a well-formed listpack (0xc1 'a' is the integer
      // 353), and must then be an even one to be a hash.
      const bool structural = i < 4 || i == 8 || i == 10 || i == 11;
      if (structural) {
        EXPECT_NE(r.fault, PayloadFault::kNone) << i << " " << delta;
      }
    }
  }
  const std::string dump = Load(WithFooter(as_string(good)), &v).fault == PayloadFault::kNone
                               ? WithFooter(as_string(good))
                               : "";
  for (size_t cut = 0; cut + 10 < dump.size(); ++cut) {
    EXPECT_NE(Load(WithFooter(dump.substr(0, cut)), &v).fault, PayloadFault::kNone) << cut;
  }
}

}  // namespace
}  // namespace flin::server
