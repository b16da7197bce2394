// Statement parameters. Every parameter travels in PostgreSQL's text format; the server
// infers its type from the statement (cast in SQL where inference is not enough:
// `$1::bigint`, `$2::jsonb`, `$3::text[]`). std::nullopt is SQL NULL.
//   conn.exec("UPDATE steps SET attempt = $1 WHERE run_id = $2",
//             {param::int64(3), param::text(run_id)});
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace opfleet::store {

using Param = std::optional<std::string>;
using Params = std::vector<Param>;

namespace param {

inline Param null() {
  return std::nullopt;
}
inline Param text(std::string_view s) {
  return std::string(s);
}
Param int64(std::int64_t v);
// Shortest text that reads back as the same double; NaN and ±Infinity in PostgreSQL's spelling.
Param float64(double v);
Param boolean(bool v);
// Compact JSON text, for json/jsonb columns.
Param json(const nlohmann::json& v);
// A one-dimensional text[] literal: {"a","b \"c\""} (every element quoted and escaped).
Param text_array(const std::vector<std::string>& items);

}  // namespace param

}  // namespace opfleet::store
