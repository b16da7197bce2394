#include "store/rows.h"

#include <libpq-fe.h>

#include <charconv>
#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

#include "common/check.h"

namespace opfleet::store {

Rows::Rows(pg_result* res) {
  if (res != nullptr) res_.reset(res, [](pg_result* r) { PQclear(r); });
}

int Rows::size() const {
  return res_ ? PQntuples(res_.get()) : 0;
}
int Rows::column_count() const {
  return res_ ? PQnfields(res_.get()) : 0;
}

std::string_view Rows::column_name(int col) const {
  OPFLEET_CHECK(col >= 0 && col < column_count(), "column index out of range");
  return PQfname(res_.get(), col);
}

std::int64_t Rows::affected() const {
  if (!res_) return 0;
  const char* n = PQcmdTuples(res_.get());
  std::int64_t v = 0;
  std::from_chars(n, n + std::strlen(n), v);  // "" for statements that change no rows
  return v;
}

std::string_view Rows::command_tag() const {
  return res_ ? PQcmdStatus(res_.get()) : "";
}

Row Rows::operator[](int row) const {
  OPFLEET_CHECK(row >= 0 && row < size(), "row index out of range");
  return Row(res_, row);
}

int Row::column_count() const {
  return PQnfields(res_.get());
}

bool Row::has_column(std::string_view name) const {
  // PQfnumber folds unquoted names to lower case; our column names are lower case
  // already, so quote to match exactly.
  const std::string quoted = fmt::format("\"{}\"", name);
  return PQfnumber(res_.get(), quoted.c_str()) >= 0;
}

int Row::column(std::string_view name) const {
  const std::string quoted = fmt::format("\"{}\"", name);
  const int col = PQfnumber(res_.get(), quoted.c_str());
  if (col < 0) {
    const std::string why = fmt::format("result has no column '{}'", name);
    OPFLEET_CHECK(col >= 0, why.c_str());
  }
  return col;
}

bool Row::is_null(int col) const {
  OPFLEET_CHECK(col >= 0 && col < column_count(), "column index out of range");
  return PQgetisnull(res_.get(), row_, col) == 1;
}

std::string_view Row::text(int col) const {
  OPFLEET_CHECK(col >= 0 && col < column_count(), "column index out of range");
  return std::string_view(PQgetvalue(res_.get(), row_, col),
                          static_cast<std::size_t>(PQgetlength(res_.get(), row_, col)));
}

Error Row::null_error(int col) const {
  return Error::invalid(fmt::format("column '{}' is NULL", PQfname(res_.get(), col)));
}

namespace {

Error bad_value(pg_result* res, int col, std::string_view want, std::string_view got) {
  // Values can be long (json); the start is enough to recognise them.
  constexpr std::size_t kShown = 40;
  return Error::invalid(fmt::format("column '{}': cannot read '{}{}' as {}", PQfname(res, col),
                                    got.substr(0, kShown), got.size() > kShown ? "..." : "", want));
}

}  // namespace

Result<std::int64_t> Row::to_int64(int col) const {
  const std::string_view t = text(col);
  std::int64_t v = 0;
  auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
  if (ec != std::errc() || end != t.data() + t.size()) {
    return fail(bad_value(res_.get(), col, "int64", t));
  }
  return v;
}

Result<double> Row::to_double(int col) const {
  const std::string_view t = text(col);
  // PostgreSQL spells the special values NaN, Infinity, -Infinity; from_chars accepts
  // those spellings too (case-insensitively), so no special casing is needed.
  double v = 0;
  auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
  if (ec != std::errc() || end != t.data() + t.size()) {
    return fail(bad_value(res_.get(), col, "double", t));
  }
  return v;
}

Result<bool> Row::to_bool(int col) const {
  const std::string_view t = text(col);
  if (t == "t") return true;
  if (t == "f") return false;
  return fail(bad_value(res_.get(), col, "bool", t));
}

Result<nlohmann::json> Row::to_json(int col) const {
  const std::string_view t = text(col);
  auto v = nlohmann::json::parse(t, nullptr, /*allow_exceptions=*/false);
  if (v.is_discarded()) return fail(bad_value(res_.get(), col, "json", t));
  return v;
}

Result<std::vector<std::string>> Row::to_text_array(int col) const {
  // The text output of a one-dimensional array: {a,"b c","d\"e"} — elements are
  // quoted when they are empty, contain separators, quotes, backslashes or spaces, or
  // spell NULL; an unquoted NULL is a NULL element, which we do not accept here.
  const std::string_view t = text(col);
  auto bad = [&] { return fail(bad_value(res_.get(), col, "one-dimensional text[]", t)); };
  if (t.size() < 2 || t.front() != '{' || t.back() != '}') return bad();
  std::vector<std::string> out;
  std::size_t i = 1;
  const std::size_t end = t.size() - 1;
  if (i == end) return out;
  while (true) {
    std::string item;
    if (t[i] == '"') {
      ++i;
      while (i < end && t[i] != '"') {
        if (t[i] == '\\') ++i;
        if (i >= end) return bad();
        item += t[i++];
      }
      if (i >= end) return bad();
      ++i;  // closing quote
    } else {
      const std::size_t start = i;
      while (i < end && t[i] != ',') {
        if (t[i] == '{' || t[i] == '"') return bad();  // nested array or stray quote
        ++i;
      }
      item.assign(t.substr(start, i - start));
      if (item == "NULL") return bad();
    }
    out.push_back(std::move(item));
    if (i == end) break;
    if (t[i] != ',') return bad();
    ++i;
  }
  return out;
}

}  // namespace opfleet::store
