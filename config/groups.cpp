// The option groups shared by several subcommands. Their defaults are the documented ones
// (docs/configuration.md lists every option with its default; keep the two in step).
#include <cstdlib>
#include <string>

#include "config/config.h"
#include "config/validate.h"

namespace opfleet::config {
namespace {

// Like the AWS CLI and SDKs, so one environment serves opfleet and the aws tools alike.
std::string default_region() {
  for (const char* name : {"AWS_REGION", "AWS_DEFAULT_REGION"}) {
    const char* v = std::getenv(name);
    if (v != nullptr && *v != '\0') return v;
  }
  return "us-east-1";
}

}  // namespace

// One option per line reads better than what clang-format makes of the chained calls.
// clang-format off
po::options_description general_options() {
  po::options_description d("general options");
  d.add_options()
      ("help,h", "print this help and exit")
      ("config", po::value<std::string>()->value_name("FILE")->default_value(kDefaultConfigFile),
       "INI configuration file (the default may be absent; a file named here must exist)")
      ("log-level",
       one_of({"debug", "info", "warn", "error"})->value_name("LEVEL")->default_value("info"),
       "least severe log level written: debug, info, warn or error")
      ("log-format", one_of({"text", "json"})->value_name("FORMAT")->default_value("text"),
       "text (for people) or json (one object per line, for journald/CloudWatch)");
  return d;
}

po::options_description database_options(bool url_required) {
  auto* url = po::value<std::string>()->value_name("URL")->default_value("", "");
  if (url_required) url->required();
  po::options_description d("database options");
  d.add_options()
      ("database-url", url,
       url_required ? "PostgreSQL connection URI, postgresql://user:password@host:port/db "
                      "(required)"
                    : "PostgreSQL connection URI, postgresql://user:password@host:port/db")
      ("db-statement-timeout-ms", non_negative_int()->value_name("MS")->default_value(5000),
       "statement_timeout of every statement, in milliseconds (0 = none)")
      ("db-connect-timeout-s", positive_int()->value_name("S")->default_value(5),
       "give up connecting to PostgreSQL after this many seconds");
  return d;
}

po::options_description aws_options() {
  po::options_description d("AWS/SQS options");
  d.add_options()
      ("sqs-endpoint", http_url()->value_name("URL")->default_value("", ""),
       "SQS endpoint (empty = https://sqs.<region>.amazonaws.com; LocalStack: "
       "http://localhost:4566)")
      ("region", aws_region()->value_name("REGION")->default_value(default_region()),
       "AWS region (default: $AWS_REGION, else $AWS_DEFAULT_REGION, else us-east-1)")
      ("queue-name",
       sqs_queue_name(false)->value_name("NAME")->default_value("opfleet-tasks.fifo"),
       "task queue; a name ending in .fifo is a FIFO queue")
      ("dlq-name", sqs_queue_name(true)->value_name("NAME")->default_value("", ""),
       "dead-letter queue (empty = derived from --queue-name)")
      ("aws-profile", po::value<std::string>()->value_name("NAME")->default_value("", ""),
       "profile of the shared credentials/config files (empty = $AWS_PROFILE, else default)")
      ("sqs-retry-base-ms", positive_int()->value_name("MS")->default_value(1000),
       "backoff: the first retry waits up to this long; the bound doubles per retry")
      ("sqs-retry-cap-ms", positive_int()->value_name("MS")->default_value(16000),
       "backoff: the largest bound of a retry wait")
      ("sqs-retry-max-attempts", non_negative_int()->value_name("N")->default_value(6),
       "attempts per call, the first included (0 = no limit)")
      ("sqs-breaker-threshold", positive_int()->value_name("N")->default_value(5),
       "consecutive failures that open the circuit breaker")
      ("sqs-breaker-open-ms", positive_int()->value_name("MS")->default_value(5000),
       "how long an open circuit fails calls fast before one trial call");
  return d;
}
// clang-format on

CommandSpec shared_spec() {
  po::options_description shared;
  shared.add(database_options(false)).add(aws_options());
  return CommandSpec{"", "", "", shared, {}, {}};
}

}  // namespace opfleet::config
