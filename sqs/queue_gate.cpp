#include "sqs/queue_gate.h"

#include "cli/exit_codes.h"
#include "common/log.h"

namespace opfleet::sqs {

int require_queue(Client& client, std::string_view queue_name, std::string* url) {
  auto found = client.get_queue_url(queue_name);
  if (found) {
    *url = std::move(*found);
    return cli::kExitOk;
  }
  log::error("queue_unavailable", {{"queue", queue_name},
                                   {"error", found.error().describe()},
                                   {"hint", "run `opfleet provision` first"}});
  return found.error().kind == ErrorKind::kNotFound ? cli::kExitConfig : cli::kExitUnavailable;
}

}  // namespace opfleet::sqs
