#include "storage/hash_payload.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace flin::storage {
namespace {

std::vector<std::pair<std::string, std::string>> Fields(const HashFields& h) {
  std::vector<std::pair<std::string, std::string>> out;
  h.ForEach([&](std::string_view f, std::string_view v) { out.emplace_back(f, v); });
  return out;
}

TEST(HashPayloadTest, RoundTripsInInsertionOrder) {
  HashFields h;
  ASSERT_TRUE(h.Parse(std::string(1, '\0') + std::string(1, '\0')));  // empty
  EXPECT_TRUE(h.Set("b", "1"));
  EXPECT_TRUE(h.Set("a", std::string_view("\0x", 2)));
  EXPECT_TRUE(h.Set("", ""));
  EXPECT_FALSE(h.Set("b", "2"));  // kept in place
  std::string enc;
  h.Encode(&enc);
  HashFields back;
  ASSERT_TRUE(back.Parse(enc));
  using P = std::pair<std::string, std::string>;
  EXPECT_EQ(Fields(back), (std::vector<P>{{"b", "2"}, {"a", std::string("\0x", 2)}, {"", ""}}));
  EXPECT_FALSE(back.hashtable());
  ASSERT_NE(back.Find("a"), nullptr);
  EXPECT_EQ(back.Find("zz"), nullptr);
}

TEST(HashPayloadTest, EraseThenSetAppends) {
  HashFields h;
  ASSERT_TRUE(h.Parse(std::string(2, '\0')));
  h.Set("x", "1");
  h.Set("y", "2");
  EXPECT_TRUE(h.Erase("x"));
  EXPECT_FALSE(h.Erase("x"));
  EXPECT_EQ(h.size(), 1u);
  EXPECT_TRUE(h.Set("x", "3"));
  using P = std::pair<std::string, std::string>;
  EXPECT_EQ(Fields(h), (std::vector<P>{{"y", "2"}, {"x", "3"}}));
}

// Large hashes use an index; the order and lookups stay the same, and the listpack bounds set
// the sticky hashtable flag.
TEST(HashPayloadTest, ManyFieldsAndTheHashtableFlag) {
  HashFields h;
  ASSERT_TRUE(h.Parse(std::string(2, '\0')));
  std::vector<std::string> names;
  for (int i = 0; i < 600; ++i) names.push_back("f" + std::to_string(i));
  for (size_t i = 0; i < names.size(); ++i) {
    EXPECT_TRUE(h.Set(names[i], names[i]));
    EXPECT_EQ(h.hashtable(), i + 1 > kListpackMaxEntries) << i;
  }
  for (int i = 0; i < 590; ++i) EXPECT_TRUE(h.Erase(names[i]));
  std::string enc;
  h.Encode(&enc);
  HashFields back;
  ASSERT_TRUE(back.Parse(enc));
  EXPECT_EQ(back.size(), 10u);
  EXPECT_TRUE(back.hashtable());  // never undone
  ASSERT_NE(back.Find("f595"), nullptr);
  EXPECT_EQ(*back.Find("f595"), "f595");
  EXPECT_EQ(back.Find("f5"), nullptr);

  HashFields big;
  ASSERT_TRUE(big.Parse(std::string(2, '\0')));
  big.Set("f", big.Keep(std::string(kListpackMaxValue, 'v')));
  EXPECT_FALSE(big.hashtable());
  big.Set("g", big.Keep(std::string(kListpackMaxValue + 1, 'v')));
  EXPECT_TRUE(big.hashtable());
}

TEST(HashPayloadTest, RefusesMalformedPayloads) {
  HashFields h;
  ASSERT_TRUE(h.Parse(std::string(2, '\0')));
  h.Set("a", "1");
  h.Set("b", "2");
  std::string enc;
  h.Encode(&enc);
  HashFields p;
  EXPECT_FALSE(p.Parse(""));
  EXPECT_FALSE(p.Parse(std::string(1, '\x02') + enc.substr(1)));  // unknown flag
  for (size_t cut = 0; cut < enc.size(); ++cut) EXPECT_FALSE(p.Parse(enc.substr(0, cut))) << cut;
  EXPECT_FALSE(p.Parse(enc + "x"));  // trailing bytes
  std::string twice = enc;
  twice[7] = 'a';  // flags, count, len, "a", len, "1", len, "b" -> "a"
  EXPECT_FALSE(p.Parse(twice));
  EXPECT_EQ(p.size(), 0u);
  // The same of a hash big enough to be checked through an index: 40 fields, the last one
  // named as the first (each field and value one byte: lengths below 128 are one varint byte).
  std::string big_twice = std::string(1, '\0') + std::string(1, 40);
  for (int i = 0; i < 40; ++i) big_twice += std::string{1, static_cast<char>('0' + i % 39), 1, 'v'};
  EXPECT_FALSE(p.Parse(big_twice));
  EXPECT_TRUE(p.Parse(big_twice, /*check_unique=*/false));
  big_twice[2 + 4 * 39 + 1] = '~';  // the last field renamed: unique
  EXPECT_TRUE(p.Parse(big_twice));

  // Without the uniqueness check (a command reading what Flin wrote) it parses.
  EXPECT_TRUE(p.Parse(twice, /*check_unique=*/false));
  std::string huge_count = std::string(1, '\0') + "\xff\xff\xff\xff\x0f";
  EXPECT_FALSE(p.Parse(huge_count));
}

// The walk (HGET) agrees with the decoded hash, and stops at damage.
TEST(HashPayloadTest, FindAndCountWithoutDecoding) {
  HashFields h;
  ASSERT_TRUE(h.Parse(kEmptyHashPayload));
  std::vector<std::string> names;
  for (int i = 0; i < 30; ++i) names.push_back("f" + std::to_string(i));
  for (const std::string& n : names) h.Set(n, h.Keep(n + "v"));
  std::string enc;
  h.Encode(&enc);
  uint64_t count = 0;
  ASSERT_TRUE(HashFields::Count(enc, &count));
  EXPECT_EQ(count, 30u);
  std::string_view v;
  for (const std::string& n : names) {
    ASSERT_EQ(HashFields::Find(enc, n, &v), HashFields::Lookup::kFound) << n;
    EXPECT_EQ(v, n + "v");
  }
  EXPECT_EQ(HashFields::Find(enc, "nope", &v), HashFields::Lookup::kAbsent);
  EXPECT_EQ(HashFields::Find(enc + "x", "nope", &v), HashFields::Lookup::kMalformed);
  EXPECT_EQ(HashFields::Find(enc.substr(0, enc.size() - 1), "nope", &v),
            HashFields::Lookup::kMalformed);
  EXPECT_EQ(HashFields::Find("", "f0", &v), HashFields::Lookup::kMalformed);
  EXPECT_FALSE(HashFields::Count("", &count));
  EXPECT_FALSE(HashFields::Count(std::string(1, '\0') + "\x7f", &count));  // 127 fields in 0 bytes
}

// A set's member is an intset's while it is an integer in canonical form (Redis's string2ll).
TEST(SetPayloadTest, IntsetMembers) {
  for (const char* m : {"0", "1", "-1", "9223372036854775807", "-9223372036854775808"}) {
    EXPECT_TRUE(IntsetMember(m)) << m;
  }
  for (const char* m : {"", "01", "+1", " 1", "1 ", "-0", "1.0", "0x10", "9223372036854775808",
                        "-9223372036854775809", "a"}) {
    EXPECT_FALSE(IntsetMember(m)) << m;
  }
  HashFields s;
  ASSERT_TRUE(s.Parse(kEmptyHashPayload));
  for (size_t i = 0; i < kIntsetMaxEntries; ++i) s.Set(s.Keep(std::to_string(i)), "");
  EXPECT_TRUE(IntsetFits(s));
  s.Set("512", "");
  EXPECT_FALSE(IntsetFits(s));  // 513 members
  s.Erase("512");
  s.Set("x", "");
  EXPECT_FALSE(IntsetFits(s));
}

// A peer's set is well formed only with every value empty, and flagged hashtable unless it
// fits an intset (a set flagged intset holds integers only).
TEST(SetPayloadTest, WellFormedSets) {
  const auto payload = [](std::vector<std::pair<std::string, std::string>> members, bool table) {
    HashFields s;
    EXPECT_TRUE(s.Parse(kEmptyHashPayload));
    for (const auto& [m, v] : members) s.Set(s.Keep(m), s.Keep(v));
    s.set_hashtable(table);
    std::string out;
    s.Encode(&out);
    return out;
  };
  const auto well_formed = [](ValueType type, std::string p) {
    ValueView v;
    v.type = type;
    v.payload = p;
    return WellFormedPayload(v);
  };
  EXPECT_TRUE(well_formed(ValueType::kSet, payload({{"1", ""}, {"2", ""}}, false)));
  EXPECT_TRUE(well_formed(ValueType::kSet, payload({{"1", ""}, {"2", ""}}, true)));
  EXPECT_TRUE(well_formed(ValueType::kSet, payload({{"a", ""}}, true)));
  EXPECT_FALSE(well_formed(ValueType::kSet, payload({{"a", ""}}, false)));  // no intset
  EXPECT_FALSE(well_formed(ValueType::kSet, payload({{"1", "v"}}, true)));  // a value
  EXPECT_TRUE(well_formed(ValueType::kHash, payload({{"1", "v"}}, false)));
  EXPECT_FALSE(well_formed(ValueType::kSet, "garbage"));
  EXPECT_TRUE(well_formed(ValueType::kString, "garbage"));
}

}  // namespace
}  // namespace flin::storage
