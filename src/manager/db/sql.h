// Internal: SQL text helpers shared by the dialects and Migrate. Pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dragonfly/manager/db.h"

namespace df::manager::db::internal {

// PostgreSQL: `sql` with every `?` outside string literals ('..', E'..', $tag$..$tag$), quoted
// identifiers and comments replaced by $1, $2, ...; `count` is the number replaced.
struct Translated {
  std::string sql;
  size_t count = 0;
};
Translated TranslatePlaceholders(std::string_view sql);

// Splits a migration's text into statements at each `;` that ends a line (or the text) outside
// literals and comments. Returns the trimmed, non-empty statements without their `;`.
std::vector<std::string> SplitStatements(std::string_view sql);

// Replaces the migration tokens {{ID}}, {{TEXT}} and {{BIGINT}} with `dialect`'s types.
// kInvalidArgument for any other {{...}}.
StatusOr<std::string> ExpandTokens(Dialect dialect, std::string_view sql);

// Whether `sql` has the keyword `word` (ASCII, case-insensitive) outside literals and comments.
bool HasKeyword(std::string_view sql, std::string_view word);

// Text <-> numbers, for the dialects that exchange values as text. Doubles use the shortest
// form that reads back exactly.
std::string FormatDouble(double v);
std::optional<int64_t> ParseInt(std::string_view s);
std::optional<double> ParseDouble(std::string_view s);
// A DECIMAL/NUMERIC column: int64 when integral and in range, else double (else the text).
Value ParseDecimal(std::string_view s);

}  // namespace df::manager::db::internal
