// Stop strings over streamed text: hold-back across pieces, earliest match, UTF-8 boundaries.
#include "engine/stop_matcher.h"

#include <gtest/gtest.h>

namespace ag::engine {
namespace {

TEST(StopMatcher, HoldsBackPossibleStopAcrossPieces) {
  StopMatcher m({"</code>", "END"});
  EXPECT_EQ(m.push("hello <"), "hello ");
  EXPECT_EQ(m.n_held(), 1u);
  EXPECT_EQ(m.push("/co"), "");
  EXPECT_EQ(m.push("x"), "</cox");  // not a stop after all
  EXPECT_EQ(m.push("abc</code>tail"), "abc");
  EXPECT_TRUE(m.matched());
  EXPECT_EQ(m.matched_stop(), "</code>");
  EXPECT_EQ(m.push("more"), "");

  StopMatcher n({"EN", "END"});
  EXPECT_EQ(n.push("xE"), "x");
  EXPECT_EQ(n.flush(), "E");
  StopMatcher first({"b", "abc"});
  EXPECT_EQ(first.push("zabc"), "z");  // the earliest occurrence wins
  StopMatcher none({"", "zz"});
  EXPECT_EQ(none.push("a z"), "a ");
  EXPECT_EQ(none.flush(), "z");
  StopMatcher utf8({"é!"});
  EXPECT_EQ(utf8.push("café"), "caf");  // held from the lead byte: whole characters only
  EXPECT_EQ(utf8.push("?"), "é?");
}

}  // namespace
}  // namespace ag::engine
