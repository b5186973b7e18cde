#include "storage/list_payload.h"

#include <algorithm>

#include "storage/varint.h"

namespace flin::storage {

namespace {

// The header (flags and count) of a payload; *pos is then at the first element.
bool Header(std::string_view payload, size_t* pos, uint64_t* count) {
  *pos = 1;
  return !payload.empty() && payload[0] == 0 && varint::Get(payload, pos, count) &&
         *count <= payload.size() - *pos;  // (each element takes a byte at least)
}

}  // namespace

bool ListElements::Parse(std::string_view payload) {
  items_.clear();
  kept_.clear();
  size_t pos;
  uint64_t count;
  if (!Header(payload, &pos, &count)) return false;
  for (uint64_t i = 0; i < count; ++i) {
    std::string_view e;
    if (!varint::GetBytes(payload, &pos, &e)) {
      items_.clear();
      return false;
    }
    items_.push_back(e);
  }
  if (pos != payload.size()) {
    items_.clear();
    return false;
  }
  return true;
}

void ListElements::Encode(std::string* out) const {
  size_t size = 1 + varint::Size(items_.size());
  for (std::string_view e : items_) size += varint::BytesSize(e);
  out->resize(size);
  char* p = out->data();
  *p++ = 0;
  p = varint::Put(p, items_.size());
  for (std::string_view e : items_) p = varint::PutBytes(p, e);
}

std::string_view ListElements::Keep(std::string s) {
  kept_.push_back(std::move(s));
  return kept_.back();
}

bool ListElements::Count(std::string_view payload, uint64_t* count) {
  size_t pos;
  return Header(payload, &pos, count);
}

bool ListElements::Push(std::string_view payload, std::span<const std::string_view> add,
                        bool head, std::string* out) {
  size_t pos;
  uint64_t count;
  if (!Header(payload, &pos, &count)) return false;
  const std::string_view body = payload.substr(pos);
  size_t size = 1 + varint::Size(count + add.size()) + body.size();
  for (std::string_view e : add) size += varint::BytesSize(e);
  out->resize(size);
  char* p = out->data();
  *p++ = 0;
  p = varint::Put(p, count + add.size());
  if (!head) p = std::copy(body.begin(), body.end(), p);
  if (head) {
    for (auto it = add.rbegin(); it != add.rend(); ++it) p = varint::PutBytes(p, *it);
  } else {
    for (std::string_view e : add) p = varint::PutBytes(p, e);
  }
  if (head) std::copy(body.begin(), body.end(), p);
  return true;
}

bool ListElements::Slice(std::string_view payload, uint64_t from, uint64_t to,
                         std::vector<std::string_view>* out) {
  size_t pos;
  uint64_t count;
  if (!Header(payload, &pos, &count)) return false;
  to = std::min(to, count);
  for (uint64_t i = 0; i < to; ++i) {
    std::string_view e;
    if (!varint::GetBytes(payload, &pos, &e)) return false;
    if (i >= from) out->push_back(e);
  }
  return true;
}

bool ListElements::Pop(std::string_view payload, bool head, uint64_t count,
                       std::vector<std::string_view>* popped, std::string* rest,
                       uint64_t* left) {
  size_t pos;
  uint64_t n;
  if (!Header(payload, &pos, &n)) return false;
  const size_t first = pos;  // the first element's offset
  count = std::min(count, n);
  *left = n - count;
  // The elements before the cut are the popped ones (head) or the kept ones (tail); a pop
  // from the head walks only what it pops, one from the tail walks the whole list.
  const uint64_t cut = head ? count : n - count;
  size_t cut_at = first;
  for (uint64_t i = 0; i < (head ? count : n); ++i) {
    std::string_view e;
    if (!varint::GetBytes(payload, &pos, &e)) return false;
    if (head || i >= cut) popped->push_back(e);
    if (i + 1 == cut) cut_at = pos;
  }
  if (!head) {
    if (pos != payload.size()) return false;
    std::reverse(popped->begin(), popped->end());  // (the last one is popped first)
  }
  rest->clear();
  if (*left == 0) return true;
  const std::string_view kept =
      head ? payload.substr(cut_at) : payload.substr(first, cut_at - first);
  char c[10];
  rest->push_back('\0');
  rest->append(c, varint::Put(c, *left) - c);
  rest->append(kept);
  return true;
}

}  // namespace flin::storage
