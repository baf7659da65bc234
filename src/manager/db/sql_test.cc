#include "manager/db/sql.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace df::manager::db::internal {
namespace {

TEST(TranslatePlaceholdersTest, NumbersPlaceholdersOutsideLiteralsAndComments) {
  auto t = TranslatePlaceholders(
      "SELECT ?, 'a?''b?', \"c?\", E'x\\'?', $$d?$$, $tag$ ? $tag$ -- ?\n"
      "/* ? /* ? */ ? */ FROM t WHERE a = ? AND b$c = ?");
  EXPECT_EQ(t.sql,
            "SELECT $1, 'a?''b?', \"c?\", E'x\\'?', $$d?$$, $tag$ ? $tag$ -- ?\n"
            "/* ? /* ? */ ? */ FROM t WHERE a = $2 AND b$c = $3");
  EXPECT_EQ(t.count, 3u);
}

TEST(TranslatePlaceholdersTest, BackslashIsLiteralInStandardStrings) {
  auto t = TranslatePlaceholders("SELECT 'a\\', ?");
  EXPECT_EQ(t.sql, "SELECT 'a\\', $1");
  EXPECT_EQ(t.count, 1u);
}

TEST(TranslatePlaceholdersTest, UnterminatedLiteralSwallowsTheRest) {
  auto t = TranslatePlaceholders("SELECT 'abc ?");
  EXPECT_EQ(t.count, 0u);
}

TEST(SplitStatementsTest, SplitsAtSemicolonEndingALine) {
  auto s = SplitStatements(
      "CREATE TABLE a (x TEXT DEFAULT ';\n');\n"
      "  -- a comment; not a statement\n"
      "INSERT INTO a VALUES ('x'); INSERT INTO a VALUES ('y');  \n"
      ";\n"
      "UPDATE a SET x = 'z'");
  ASSERT_EQ(s.size(), 3u);
  EXPECT_EQ(s[0], "CREATE TABLE a (x TEXT DEFAULT ';\n')");
  EXPECT_EQ(s[1],
            "-- a comment; not a statement\n"
            "INSERT INTO a VALUES ('x'); INSERT INTO a VALUES ('y')");
  EXPECT_EQ(s[2], "UPDATE a SET x = 'z'");
}

TEST(SplitStatementsTest, CommentsOnlyIsNothing) {
  EXPECT_TRUE(SplitStatements("-- nothing\n/* here */;\n").empty());
}

TEST(ExpandTokensTest, PerDialect) {
  const char* sql = "CREATE TABLE t (id {{ID}}, n {{BIGINT}}, body {{TEXT}})";
  EXPECT_EQ(*ExpandTokens(Dialect::kSqlite, sql),
            "CREATE TABLE t (id INTEGER PRIMARY KEY AUTOINCREMENT, n BIGINT, body TEXT)");
  EXPECT_EQ(*ExpandTokens(Dialect::kPostgres, sql),
            "CREATE TABLE t (id BIGSERIAL PRIMARY KEY, n BIGINT, body TEXT)");
  EXPECT_EQ(*ExpandTokens(Dialect::kMysql, sql),
            "CREATE TABLE t (id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, n BIGINT, "
            "body LONGTEXT)");
  EXPECT_EQ(ExpandTokens(Dialect::kSqlite, "x {{BLOB}}").status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(ExpandTokens(Dialect::kSqlite, "x {{ID").status().code(), StatusCode::kInvalidArgument);
}

TEST(HasKeywordTest, WholeWordsInCodeOnly) {
  EXPECT_TRUE(HasKeyword("INSERT INTO t VALUES (1) returning id", "RETURNING"));
  EXPECT_FALSE(HasKeyword("INSERT INTO t (returning_x) VALUES ('RETURNING')", "RETURNING"));
  EXPECT_FALSE(HasKeyword("INSERT INTO t VALUES (1) -- RETURNING", "RETURNING"));
}

TEST(NumbersTest, RoundTrip) {
  for (double d : {0.1, -2.5, 1e300, 5e-324, std::numeric_limits<double>::max()}) {
    EXPECT_EQ(*ParseDouble(FormatDouble(d)), d);
  }
  EXPECT_TRUE(std::isinf(*ParseDouble("-Infinity")));
  EXPECT_TRUE(std::isnan(*ParseDouble("NaN")));
  EXPECT_EQ(*ParseInt("-9223372036854775808"), std::numeric_limits<int64_t>::min());
  EXPECT_FALSE(ParseInt("12x").has_value());
  EXPECT_EQ(std::get<int64_t>(ParseDecimal("42")), 42);
  EXPECT_EQ(std::get<double>(ParseDecimal("4.5")), 4.5);
}

}  // namespace
}  // namespace df::manager::db::internal
