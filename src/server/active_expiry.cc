#include "server/active_expiry.h"

#include <map>

#include "server/command.h"
#include "storage/encoding.h"

namespace flin::server {

ActiveExpiry::ActiveExpiry(storage::Store* store, int partitions, Hooks hooks)
    : store_(store), partitions_(partitions), hooks_(std::move(hooks)) {}

void ActiveExpiry::ReadTerms(std::vector<uint64_t>* out) const {
  out->resize(partitions_);
  for (int p = 0; p < partitions_; ++p) (*out)[p] = hooks_.leader_term(p);
}

int ActiveExpiry::NextLed(int from) const {
  while (from < partitions_ && terms_[from] == 0) ++from;
  return from;
}

void ActiveExpiry::StartPass() {
  // The counter first, then the terms, then (in Cycle) the iterator: a value with an expiry
  // written after this read changes the counter; one written before it is in the iterator.
  pass_writes_ = store_->volatile_writes();
  pass_terms_ = terms_;
  pass_conclusive_ = true;
  cursor_.clear();
  in_pass_ = true;
}

bool ActiveExpiry::UnchangedSincePassBegan() const {
  return store_->volatile_writes() == pass_writes_ && terms_ == pass_terms_;
}

void ActiveExpiry::EndPass() {
  in_pass_ = false;
  cursor_.clear();
  // Terms only grow, so leadership that changed at any time during the pass shows here (the
  // pass may have skipped a partition this node leads now). Asleep, the pass's counter and
  // terms are what a change is detected against.
  sleeping_ = pass_conclusive_ && UnchangedSincePassBegan();
}

void ActiveExpiry::Cycle(int64_t now_ms) {
  ReadTerms(&terms_);
  if (sleeping_) {
    if (UnchangedSincePassBegan()) return;
    sleeping_ = false;
  }
  if (!in_pass_) StartPass();

  auto it = store_->NewIterator();
  int partition = NextLed(0);
  std::string start = storage::PartitionPrefix(partition);
  if (!cursor_.empty() && cursor_ > start) start = cursor_;
  it->Seek(start);
  // Keys found expired, by partition: each partition's deletions go through its own log.
  std::map<int, std::vector<std::string>> expired;
  int examined = 0;
  while (it->Valid() && examined < kScanPerCycle) {
    std::string_view key;
    if (!storage::DecodeDataKey(std::string_view(it->key().data(), it->key().size()), &partition,
                                &key) ||
        partition >= partitions_) {
      break;  // past the data keys
    }
    if (terms_[partition] == 0) {
      const int next = NextLed(partition + 1);
      if (next >= partitions_) break;
      it->Seek(storage::PartitionPrefix(next));
      ++examined;  // a seek costs about as much as a key
      continue;
    }
    ++examined;
    ++scanned_;
    auto v = storage::DecodeValue(std::string_view(it->value().data(), it->value().size()));
    if (!v || v->expire_at_ms != 0) pass_conclusive_ = false;
    if (v && v->Expired(now_ms)) {
      auto& args = expired[partition];
      if (args.empty()) args.push_back("flin.expired");
      args.emplace_back(key);
      args.push_back(std::to_string(v->expire_at_ms));
    }
    it->Next();
  }
  if (!it->status().ok()) pass_conclusive_ = false;  // a read error ended the walk early
  int at_partition;
  std::string_view at_key;
  if (examined >= kScanPerCycle && it->Valid() &&
      storage::DecodeDataKey(std::string_view(it->key().data(), it->key().size()), &at_partition,
                             &at_key) &&
      at_partition < partitions_) {
    cursor_.assign(it->key().data(), it->key().size());
  } else {
    EndPass();
  }
  for (auto& [p, args] : expired) {
    std::string command;
    EncodeCommand(args, &command);
    hooks_.propose(p, std::move(command));
  }
}

}  // namespace flin::server
