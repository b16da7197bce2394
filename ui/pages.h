// The HTML pages, each rendered from the JSON document of its API route (ui/reads.h), so
// the page and the API never disagree. Every value from a document is escaped.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "ui/html.h"
#include "ui/reads.h"

namespace opfleet::ui::pages {

html::Page runs(const nlohmann::json& doc, const RunsFilter& filter);
html::Page run(const nlohmann::json& doc);
html::Page fleet(const nlohmann::json& doc);
html::Page queue(const nlohmann::json& doc);
html::Page scaling(const nlohmann::json& doc);
html::Page schedules(const nlohmann::json& doc);

// An error page: what went wrong and what to do. `refresh_seconds` > 0 retries by itself
// (the 503 page, so a dashboard left open recovers with the database).
html::Page problem(const std::string& title, const std::string& message, int refresh_seconds = 0);

// Seconds since the epoch of an ISO 8601 UTC time as the reads write it; NaN if malformed.
double epoch_seconds(const std::string& iso_utc);

}  // namespace opfleet::ui::pages
