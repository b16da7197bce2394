// A made-up AWS JSON service for the tests of the shared layer (aws/json_*.h): its own
// codes, a legacy code prefix, and names unlike SQS's and ECS's so that a test can tell
// what came from the descriptor.
#pragma once

#include <string_view>

#include "aws/json_service.h"

namespace opfleet::aws::testing {

inline constexpr ErrorCodeKind kTestCodes[] = {
    {"WidgetNotFoundException", ErrorKind::kNotFound},
    {"SlowDownPlease", ErrorKind::kThrottled},
    {"WidgetServerException", ErrorKind::kUnavailable},
    {"BadWidgetException", ErrorKind::kInvalid},
    {"WidgetLockedException", ErrorKind::kConflict},
    // A common error's name with this service's own meaning, which wins.
    {"OptInRequired", ErrorKind::kInvalid},
};
inline constexpr std::string_view kTestPrefixes[] = {"Widgets.Legacy."};

inline constexpr JsonService kTestService{
    .name = "Widgets",
    .signing_name = "widgets",
    .content_type = "application/x-amz-json-1.1",
    .target_prefix = "WidgetService_20240101.",
    .retry_event = "widgets_retry",
    .error_codes = kTestCodes,
    .code_prefixes = kTestPrefixes,
    .query_compatible = false,
};

// The same service after a move from the query protocol (as SQS did): it also names
// its errors in x-amzn-query-error.
inline constexpr JsonService kQueryCompatibleService = [] {
  JsonService s = kTestService;
  s.content_type = "application/x-amz-json-1.0";
  s.query_compatible = true;
  return s;
}();

}  // namespace opfleet::aws::testing
