#pragma once
// Compact binary encoding of the Raft core's values for the cluster bus and for stable
// storage: Message, Entry, HardState, SnapshotMeta, ConfState and ConfChange.
//
// Format: unsigned LEB128 varints for integers; byte strings as varint length + bytes; a
// Message starts with its type byte and a varint bitmask of the fields present (absent
// fields are zero/empty), so a heartbeat is a handful of bytes. Every Encode appends to
// *out; every Decode consumes its whole input.
//
// Decoders reject ANY malformed input with Status::Corruption: unknown types or flag bits,
// over-long or overflowing varints, lengths or counts beyond the remaining input (so a length
// field can never make them allocate more than the input's size), trailing bytes. They never
// crash. Pure functions; thread-safe.

#include <string>
#include <string_view>

#include "common/status.h"
#include "raft/types.h"

namespace flin::raft {

void EncodeMessage(const Message& m, std::string* out);
Result<Message> DecodeMessage(std::string_view in);

void EncodeEntry(const Entry& e, std::string* out);
Result<Entry> DecodeEntry(std::string_view in);

void EncodeHardState(const HardState& hs, std::string* out);
Result<HardState> DecodeHardState(std::string_view in);

void EncodeConfState(const ConfState& cs, std::string* out);
Result<ConfState> DecodeConfState(std::string_view in);

void EncodeSnapshotMeta(const SnapshotMeta& meta, std::string* out);
Result<SnapshotMeta> DecodeSnapshotMeta(std::string_view in);

// The payload of a kConfChange entry.
std::string EncodeConfChange(const ConfChange& cc);
Result<ConfChange> DecodeConfChange(std::string_view in);

}  // namespace flin::raft
