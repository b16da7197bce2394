#include "sqs/types.h"

#include <charconv>

namespace opfleet::sqs {
namespace {

template <class T>
T number_attribute(const Attributes& attributes, const char* name) {
  auto it = attributes.find(name);
  if (it == attributes.end()) return 0;
  T value = 0;
  const std::string& s = it->second;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  // A malformed number is treated as absent rather than guessed at.
  if (ec != std::errc() || ptr != s.data() + s.size()) return 0;
  return value;
}

}  // namespace

int Message::receive_count() const {
  return number_attribute<int>(attributes, msg_attr::kApproximateReceiveCount);
}

std::int64_t Message::sent_timestamp_ms() const {
  return number_attribute<std::int64_t>(attributes, msg_attr::kSentTimestamp);
}

std::string Message::group_id() const {
  auto it = attributes.find(msg_attr::kMessageGroupId);
  return it == attributes.end() ? std::string() : it->second;
}

}  // namespace opfleet::sqs
