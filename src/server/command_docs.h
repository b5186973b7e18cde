#pragma once
// COMMAND DOCS argument lists, written the way Redis's documentation shows a command's syntax
// ("key value [NX | XX] [EX seconds | PX milliseconds]") and turned into the nested argument
// maps redis-cli reads for its hints. Pure functions; thread-safe.

#include <string_view>

#include "protocol/reply_writer.h"

namespace flin::server {

// The syntax line of a command (without its name), or "" if it takes no arguments.
std::string_view CommandSyntax(std::string_view name);
// Writes the "arguments" array of COMMAND DOCS for `syntax`.
void WriteArgumentDocs(protocol::ReplyWriter& w, std::string_view syntax);

}  // namespace flin::server
