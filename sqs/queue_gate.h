// The queue a command needs, looked up once before it starts: its URL, or a log line
// saying why not (queue_unavailable, with the hint to run `opfleet provision`) and the
// exit code to end with.
#pragma once

#include <string>
#include <string_view>

#include "sqs/client.h"

namespace opfleet::sqs {

// 0 with *url set; 78 when the queue does not exist (provisioning will not come by
// itself), 69 when SQS cannot be reached.
int require_queue(Client& client, std::string_view queue_name, std::string* url);

}  // namespace opfleet::sqs
