// SQL text helpers: a small lexer that tells code from string literals, quoted identifiers and
// comments, and what is built on it (placeholder translation, statement splitting).
#include "manager/db/sql.h"

#include <charconv>
#include <utility>

namespace df::manager::db::internal {
namespace {

bool IsIdentChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '$' || static_cast<unsigned char>(c) >= 0x80;
}

char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

// Length of a PostgreSQL dollar-quote tag ($$ or $name$) at sql[i], or 0.
size_t DollarTag(std::string_view sql, size_t i) {
  size_t j = i + 1;
  if (j < sql.size() && sql[j] >= '0' && sql[j] <= '9') {
    return 0;  // $1: a positional parameter
  }
  while (j < sql.size() && sql[j] != '$') {
    if (!IsIdentChar(sql[j])) {
      return 0;
    }
    ++j;
  }
  return j < sql.size() ? j - i + 1 : 0;
}

// Marks which bytes of `sql` are code (outside literals, quoted identifiers and comments).
std::vector<bool> CodeMask(std::string_view sql) {
  std::vector<bool> code(sql.size(), false);
  size_t i = 0;
  const size_t n = sql.size();
  while (i < n) {
    char c = sql[i];
    bool prev_ident = i > 0 && IsIdentChar(sql[i - 1]);
    if (c == '-' && i + 1 < n && sql[i + 1] == '-') {
      while (i < n && sql[i] != '\n') {
        ++i;
      }
    } else if (c == '/' && i + 1 < n && sql[i + 1] == '*') {
      int depth = 0;  // PostgreSQL nests block comments
      while (i < n) {
        if (sql[i] == '/' && i + 1 < n && sql[i + 1] == '*') {
          ++depth;
          i += 2;
        } else if (sql[i] == '*' && i + 1 < n && sql[i + 1] == '/') {
          i += 2;
          if (--depth == 0) {
            break;
          }
        } else {
          ++i;
        }
      }
    } else if (c == '\'' || c == '"' || c == '`') {
      // E'..' (PostgreSQL) takes backslash escapes; elsewhere a doubled quote is the escape.
      bool backslash =
          c == '\'' && i > 0 && Lower(sql[i - 1]) == 'e' && !(i > 1 && IsIdentChar(sql[i - 2]));
      ++i;
      while (i < n) {
        if (backslash && sql[i] == '\\') {
          i += 2;
        } else if (sql[i] == c) {
          if (i + 1 < n && sql[i + 1] == c) {
            i += 2;
          } else {
            ++i;
            break;
          }
        } else {
          ++i;
        }
      }
    } else if (c == '$' && !prev_ident && DollarTag(sql, i) > 0) {
      std::string_view tag = sql.substr(i, DollarTag(sql, i));
      size_t end = sql.find(tag, i + tag.size());
      i = end == std::string_view::npos ? n : end + tag.size();
    } else {
      code[i] = true;
      ++i;
    }
  }
  return code;
}

std::string_view Trim(std::string_view s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) {
    return {};
  }
  size_t e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

}  // namespace

Translated TranslatePlaceholders(std::string_view sql) {
  Translated out;
  std::vector<bool> code = CodeMask(sql);
  out.sql.reserve(sql.size() + 16);
  for (size_t i = 0; i < sql.size(); ++i) {
    if (code[i] && sql[i] == '?') {
      out.sql += '$';
      out.sql += std::to_string(++out.count);
    } else {
      out.sql += sql[i];
    }
  }
  return out;
}

std::vector<std::string> SplitStatements(std::string_view sql) {
  std::vector<std::string> out;
  std::vector<bool> code = CodeMask(sql);
  size_t start = 0;
  bool has_code = false;  // the current statement has more than comments and blanks
  auto flush = [&](size_t end) {
    std::string_view stmt = Trim(sql.substr(start, end - start));
    if (has_code && !stmt.empty()) {
      out.emplace_back(stmt);
    }
    has_code = false;
  };
  for (size_t i = 0; i < sql.size(); ++i) {
    if (!code[i]) {
      continue;
    }
    if (sql[i] != ';') {
      has_code = has_code || (sql[i] != ' ' && sql[i] != '\t' && sql[i] != '\r' && sql[i] != '\n');
      continue;
    }
    size_t j = i + 1;
    while (j < sql.size() && (sql[j] == ' ' || sql[j] == '\t' || sql[j] == '\r')) {
      ++j;
    }
    if (j == sql.size() || sql[j] == '\n') {
      flush(i);
      start = i + 1;
    }
  }
  flush(sql.size());
  return out;
}

StatusOr<std::string> ExpandTokens(Dialect dialect, std::string_view sql) {
  std::string out;
  out.reserve(sql.size() + 64);
  size_t i = 0;
  while (i < sql.size()) {
    size_t open = sql.find("{{", i);
    if (open == std::string_view::npos) {
      out.append(sql.substr(i));
      break;
    }
    size_t close = sql.find("}}", open + 2);
    if (close == std::string_view::npos) {
      return InvalidArgument("unterminated {{ in migration");
    }
    out.append(sql.substr(i, open - i));
    std::string_view token = sql.substr(open + 2, close - open - 2);
    if (token == "ID") {
      switch (dialect) {
        case Dialect::kSqlite:
          out += "INTEGER PRIMARY KEY AUTOINCREMENT";
          break;
        case Dialect::kPostgres:
          out += "BIGSERIAL PRIMARY KEY";
          break;
        case Dialect::kMysql:
          out += "BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY";
          break;
      }
    } else if (token == "TEXT") {
      out += dialect == Dialect::kMysql ? "LONGTEXT" : "TEXT";
    } else if (token == "BIGINT") {
      out += "BIGINT";
    } else {
      return InvalidArgument("unknown migration token {{" + std::string(token) + "}}");
    }
    i = close + 2;
  }
  return out;
}

bool HasKeyword(std::string_view sql, std::string_view word) {
  std::vector<bool> code = CodeMask(sql);
  size_t i = 0;
  while (i < sql.size()) {
    if (!code[i] || !IsIdentChar(sql[i])) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < sql.size() && code[j] && IsIdentChar(sql[j])) {
      ++j;
    }
    if (j - i == word.size()) {
      bool same = true;
      for (size_t k = 0; k < word.size() && same; ++k) {
        same = Lower(sql[i + k]) == Lower(word[k]);
      }
      if (same) {
        return true;
      }
    }
    i = j;
  }
  return false;
}

std::string FormatDouble(double v) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  return ec == std::errc() ? std::string(buf, end) : std::string("0");
}

std::optional<int64_t> ParseInt(std::string_view s) {
  int64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) {
    return std::nullopt;
  }
  return v;
}

std::optional<double> ParseDouble(std::string_view s) {
  double v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) {
    return std::nullopt;
  }
  return v;
}

Value ParseDecimal(std::string_view s) {
  if (auto i = ParseInt(s)) {
    return *i;
  }
  if (auto d = ParseDouble(s)) {
    return *d;
  }
  return std::string(s);
}

}  // namespace df::manager::db::internal
