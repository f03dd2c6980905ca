#include <gtest/gtest.h>
TEST(Core, Links) { SUCCEED(); }
