#include "server/state_machine.h"


namespace flin::server {

void StateMachineImpl::Apply(storage::WriteTxn& txn, int partition, int64_t now_ms,
                             std::string_view command, protocol::ReplyWriter* reply) {
  scratch_.clear();
  protocol::ReplyWriter discard(&scratch_, 2);
  protocol::ReplyWriter& out = reply ? *reply : discard;
  const CommandSpec* spec = nullptr;
  if (DecodeCommand(command, &args_)) spec = commands_->Find(args_[0]);
  if (spec == nullptr || spec->apply == nullptr || !spec->ArityOk(args_.size())) {
    // Only the server writes log entries; this means a bug or a damaged log.
    out.Error("ERR cannot apply a malformed log entry");
    return;
  }
  // A read through the log changes nothing; with nobody waiting (a follower, a replay after a
  // restart) its reply would only be built to be thrown away, and an MGET of many large
  // values would build a large one on every replica.
  if (reply == nullptr && !spec->Has(kCmdWrite)) return;
  ApplyContext ctx(txn, now_ms, Args(args_), out, partitions_, &expired_keys_);
  ctx.partition = partition;
  ctx.commands = commands_;
  ctx.reply_wanted = reply != nullptr;
  spec->apply(ctx);
}

}  // namespace flin::server
