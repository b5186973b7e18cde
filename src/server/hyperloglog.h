#pragma once
// HyperLogLog values in Redis 7.0's stored representation, so that the bytes GET returns, and
// what PFADD/PFCOUNT/PFMERGE compute from bytes SET, are the same as Redis's.
//
// A value is a string: a 16-byte header — "HYLL", an encoding byte (0 dense, 1 sparse), 3
// unused bytes (kept as they are), the cached cardinality as 8 bytes little endian whose most
// significant bit set means "not valid" — then the registers. There are 16384 registers of 6
// bits. Dense: 12288 bytes, register i at bit i*6, least significant bits first. Sparse: runs
// of opcodes ZERO (00llllll: 1..64 zeros), XZERO (01llllll llllllll: 1..16384 zeros) and VAL
// (1vvvvvll: 1..4 registers of value 1..32). A sparse value becomes dense when a register
// needs more than 32, or when it would grow past kSparseMaxBytes (Redis's
// hll-sparse-max-bytes default; fixed here, so every replica decides alike).
//
// An element goes to register (h & 16383) with value 1 + trailing zeros of (h >> 14) (at most
// 51), h = MurmurHash64A(element, seed 0xadc83b19). The cardinality is Otmar Ertl's improved
// estimator ("New cardinality estimation algorithms for HyperLogLog sketches", 2017) over the
// histogram of register values, rounded as Redis rounds it.
//
// Every function accepts any bytes: a value that IsHll() refuses is never read further, and
// corrupt sparse data (runs that do not cover exactly 16384 registers) is reported, never
// read or written out of bounds. Where Redis tolerates some corruption (runs past the last
// register in PFADD's search for its run, an XZERO cut at the last byte, which Redis reads
// with its string's NUL terminator as the second byte), these functions do the same, to
// answer alike.
//
// Pure functions of their arguments: any thread.

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace flin::server::hll {

inline constexpr size_t kHeaderBytes = 16;
inline constexpr int kRegisters = 16384;
inline constexpr size_t kDenseBytes = kHeaderBytes + kRegisters * 6 / 8;  // 12304
inline constexpr size_t kSparseMaxBytes = 3000;
inline constexpr std::string_view kErrWrongType =
    "WRONGTYPE Key is not a valid HyperLogLog string value.";
inline constexpr std::string_view kErrCorrupt = "INVALIDOBJ Corrupted HLL object detected";

// One byte per register: what several values merge into (PFCOUNT of several keys, PFMERGE).
using Registers = std::array<uint8_t, kRegisters>;

uint64_t MurmurHash64A(std::string_view data, uint64_t seed);

// Redis's check before any use: "HYLL", encoding 0 or 1, at least a header, and a dense
// value of exactly kDenseBytes.
bool IsHll(std::string_view value);

// An empty HLL as Redis creates it: sparse, one XZERO of 16384, cardinality 0 (valid).
std::string NewSparse();

enum class AddResult { kUnchanged, kChanged, kCorrupt };
// Adds `element` to a value IsHll() accepted. kChanged invalidates the cached cardinality (as
// Redis's PFADD does). On kCorrupt, what changed before the corruption was met stays, as in
// Redis.
AddResult Add(std::string* hll, std::string_view element);

// The cached cardinality, if the header says it is valid.
bool CachedCardinality(std::string_view hll, uint64_t* card);
void SetCachedCardinality(std::string* hll, uint64_t card);
void InvalidateCache(std::string* hll);

// The estimate from a value IsHll() accepted (ignoring the cache); false if its sparse data
// is corrupt.
bool Count(std::string_view hll, uint64_t* card);
// The estimate of merged registers.
uint64_t Count(const Registers& max);

// max[i] = MAX(max[i], register i of `hll`); false if corrupt (max may then be partly merged).
bool MergeInto(std::string_view hll, Registers* max);

// PFMERGE's write: `dest` (IsHll()) is made dense if `to_dense`, then takes every nonzero
// register of `max` that is higher, in its encoding, and its cache is invalidated. false if
// dest is corrupt sparse data that cannot be made dense.
bool StoreMax(std::string* dest, const Registers& max, bool to_dense);

}  // namespace flin::server::hll
