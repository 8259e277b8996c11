// Tiny assertion helpers for the C++ tests (each test program is one ctest test).
#ifndef HEPSIFT_TESTS_CHECK_HXX
#define HEPSIFT_TESTS_CHECK_HXX

#include <cmath>
#include <cstdio>
#include <string>

namespace hepsift::testing {
inline int &failures()
{
   static int n = 0;
   return n;
}
inline int &checks()
{
   static int n = 0;
   return n;
}
} // namespace hepsift::testing

#define HS_CHECK(cond)                                                                   \
   do {                                                                                  \
      ++hepsift::testing::checks();                                                      \
      if (!(cond)) {                                                                     \
         ++hepsift::testing::failures();                                                 \
         std::printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);                     \
      }                                                                                  \
   } while (0)

#define HS_CHECK_CLOSE(a, b, tol)                                                        \
   do {                                                                                  \
      ++hepsift::testing::checks();                                                      \
      double hs_a = (a), hs_b = (b);                                                     \
      if (!(std::fabs(hs_a - hs_b) <= (tol))) {                                          \
         ++hepsift::testing::failures();                                                 \
         std::printf("FAIL %s:%d: %s = %.9g vs %s = %.9g\n", __FILE__, __LINE__, #a, hs_a, #b, hs_b); \
      }                                                                                  \
   } while (0)

// Checks that `expr` throws `Exc` whose message contains `fragment`.
#define HS_CHECK_THROWS(expr, Exc, fragment)                                             \
   do {                                                                                  \
      ++hepsift::testing::checks();                                                      \
      bool hs_ok = false;                                                                \
      std::string hs_msg;                                                                \
      try {                                                                              \
         expr;                                                                           \
      } catch (const Exc &e) {                                                           \
         hs_msg = e.what();                                                              \
         hs_ok = hs_msg.find(fragment) != std::string::npos;                             \
      } catch (const std::exception &e) {                                                \
         hs_msg = std::string("other exception: ") + e.what();                           \
      }                                                                                  \
      if (!hs_ok) {                                                                      \
         ++hepsift::testing::failures();                                                 \
         std::printf("FAIL %s:%d: %s should throw %s containing '%s'; got: %s\n", __FILE__, __LINE__, \
                     #expr, #Exc, std::string(fragment).c_str(), hs_msg.c_str());          \
      }                                                                                  \
   } while (0)

#define HS_REPORT()                                                                      \
   (std::printf("%d checks, %d failed\n", hepsift::testing::checks(), hepsift::testing::failures()), \
    hepsift::testing::failures() == 0 ? 0 : 1)

#endif
