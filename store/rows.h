// Query results. Rows owns the libpq result; Row is a cheap handle that shares that
// ownership, so a Row stays valid even after the Rows it came from is gone.
//
// Values come back in text format and are converted on access:
//   OPFLEET_TRY(auto attempt, rows[0].get<std::int64_t>("attempt"));
//   OPFLEET_TRY(auto owner, rows[0].get<std::optional<std::string>>("lease_owner"));
// Supported types: std::string, std::string_view (valid while the row lives), std::int64_t,
// int, double, bool, nlohmann::json (json/jsonb), std::vector<std::string> (a text[]
// without NULL elements), and std::optional<T> of each (NULL -> nullopt).
// A NULL read as a non-optional type, or text that does not convert, is an error of kind
// kInvalid naming the column. Asking for a column the result does not have is a bug in
// the SQL/code pairing, not a runtime condition: it aborts (OPFLEET_CHECK).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"

struct pg_result;  // PGresult from libpq-fe.h, kept out of this header

namespace opfleet::store {

namespace detail {
template <class T>
struct is_optional : std::false_type {};
template <class T>
struct is_optional<std::optional<T>> : std::true_type {};
}  // namespace detail

class Row {
 public:
  int column_count() const;
  // The index of column `name`; aborts if there is none.
  int column(std::string_view name) const;
  bool has_column(std::string_view name) const;

  bool is_null(int col) const;
  bool is_null(std::string_view name) const { return is_null(column(name)); }

  // The raw text of a non-NULL value (empty for NULL).
  std::string_view text(int col) const;

  template <class T>
  Result<T> get(int col) const;
  template <class T>
  Result<T> get(std::string_view name) const {
    return get<T>(column(name));
  }

 private:
  friend class Rows;
  Row(std::shared_ptr<pg_result> res, int row) : res_(std::move(res)), row_(row) {}

  Error null_error(int col) const;
  Result<std::int64_t> to_int64(int col) const;
  Result<double> to_double(int col) const;
  Result<bool> to_bool(int col) const;
  Result<nlohmann::json> to_json(int col) const;
  Result<std::vector<std::string>> to_text_array(int col) const;

  std::shared_ptr<pg_result> res_;
  int row_ = 0;
};

class Rows {
 public:
  Rows() = default;
  // Takes ownership of a libpq result (PQclear'ed when the last Rows/Row goes).
  explicit Rows(pg_result* res);

  int size() const;
  bool empty() const { return size() == 0; }
  int column_count() const;
  std::string_view column_name(int col) const;
  // The count of the command tag (PQcmdTuples): rows changed by INSERT/UPDATE/DELETE,
  // returned by SELECT; 0 for statements without one (DDL, SET...).
  std::int64_t affected() const;
  // The command tag: "INSERT 0 1", "UPDATE 3", "SELECT 2", "COMMIT", "ROLLBACK"...
  std::string_view command_tag() const;

  // Aborts when out of range (a bug, not a runtime condition).
  Row operator[](int row) const;
  Row front() const { return (*this)[0]; }

  class iterator {
   public:
    using value_type = Row;
    using difference_type = int;
    iterator(const Rows* rows, int i) : rows_(rows), i_(i) {}
    Row operator*() const { return (*rows_)[i_]; }
    iterator& operator++() {
      ++i_;
      return *this;
    }
    bool operator==(const iterator& o) const { return i_ == o.i_; }

   private:
    const Rows* rows_;
    int i_;
  };
  iterator begin() const { return iterator(this, 0); }
  iterator end() const { return iterator(this, size()); }

 private:
  std::shared_ptr<pg_result> res_;
};

template <class T>
Result<T> Row::get(int col) const {
  if constexpr (detail::is_optional<T>::value) {
    using V = typename T::value_type;
    if (is_null(col)) return T{};
    auto v = get<V>(col);
    if (!v) return fail(std::move(v).error());
    return T{std::move(*v)};
  } else {
    if (is_null(col)) return fail(null_error(col));
    if constexpr (std::is_same_v<T, std::string>) {
      return std::string(text(col));
    } else if constexpr (std::is_same_v<T, std::string_view>) {
      return text(col);
    } else if constexpr (std::is_same_v<T, std::int64_t>) {
      return to_int64(col);
    } else if constexpr (std::is_same_v<T, int>) {
      auto v = to_int64(col);
      if (!v) return fail(std::move(v).error());
      if (*v < INT32_MIN || *v > INT32_MAX) {
        return fail(Error::invalid("integer out of range for int"));
      }
      return static_cast<int>(*v);
    } else if constexpr (std::is_same_v<T, double>) {
      return to_double(col);
    } else if constexpr (std::is_same_v<T, bool>) {
      return to_bool(col);
    } else if constexpr (std::is_same_v<T, nlohmann::json>) {
      return to_json(col);
    } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
      return to_text_array(col);
    } else {
      static_assert(sizeof(T) == 0, "Row::get: unsupported type");
    }
  }
}

}  // namespace opfleet::store
