// ctest "glue": the headers Python declares to cling, compiled here without cling.
// Noise.hxx (reproducible N(0,1) per entry), SignalGuard.hxx (clean exit on SIGINT/SIGTERM,
// checked in forked children) and PyROOT.hxx (compiles on its own).
#include "Check.hxx"

#include <hepsift/Noise.hxx>
#include <hepsift/PyROOT.hxx>
#include <hepsift/SignalGuard.hxx>

#include <csignal>
#include <cstdio>
#include <fstream>
#include <string>
#include <sys/wait.h>
#include <unistd.h>

namespace {

bool exists(const std::string &path)
{
   return ::access(path.c_str(), F_OK) == 0;
}

/// Fork a child that registers `keep` and `drop` as pending, un-registers `keep`, starts the
/// guard and writes `sig` into its pipe; returns the child's exit status and its message.
std::pair<int, std::string> guardedChild(unsigned char sig, const std::string &drop, const std::string &keep)
{
   int err[2];
   if (::pipe(err) != 0)
      return {-1, "pipe failed"};
   const pid_t pid = ::fork();
   if (pid == 0) {
      ::close(err[0]);
      int fds[2];
      if (::pipe(fds) != 0)
         ::_exit(90);
      hepsift::signalguard::add(drop);
      hepsift::signalguard::add(keep);
      hepsift::signalguard::remove(keep);
      hepsift::signalguard::start(fds[0], err[1], "test");
      const unsigned char other = 7; // not a signal the guard acts on
      if (::write(fds[1], &other, 1) != 1 || ::write(fds[1], &sig, 1) != 1)
         ::_exit(91);
      ::sleep(10); // the guard ends the process long before
      ::_exit(92);
   }
   ::close(err[1]);
   int status = 0;
   ::waitpid(pid, &status, 0);
   std::string msg;
   char buf[256];
   for (ssize_t n; (n = ::read(err[0], buf, sizeof buf)) > 0;)
      msg.append(buf, static_cast<std::size_t>(n));
   ::close(err[0]);
   return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, msg};
}

} // namespace

int main()
{
   // Noise: a pure function of (seed, entry), standard normal.
   const auto a = hepsift::noise(42, 7, 8), b = hepsift::noise(42, 7, 8);
   HS_CHECK(ROOT::VecOps::All(a == b));
   HS_CHECK(hepsift::noise(42, 8, 8)[0] != a[0]);
   HS_CHECK(hepsift::noise(43, 7, 8)[0] != a[0]);
   const auto odd = hepsift::noise(42, 7, 7); // an odd count is the prefix of the even one
   for (unsigned i = 0; i < 7; ++i)
      HS_CHECK(odd[i] == a[i]);
   double sum = 0, sum2 = 0, sum4 = 0;
   const int entries = 50000, per = 4;
   for (int e = 0; e < entries; ++e)
      for (float x : hepsift::noise(1, static_cast<std::uint64_t>(e), per)) {
         sum += x;
         sum2 += double(x) * x;
         sum4 += double(x) * x * x * x;
      }
   const double n = double(entries) * per;
   HS_CHECK_CLOSE(sum / n, 0.0, 5 * std::sqrt(1 / n));
   HS_CHECK_CLOSE(sum2 / n, 1.0, 5 * std::sqrt(2 / n));
   HS_CHECK_CLOSE(sum4 / n, 3.0, 5 * std::sqrt(96 / n));

   // SignalGuard: SIGTERM and SIGINT end the process with 128 + signal, remove the pending
   // output, keep an un-registered one and say so in one line.
   for (const unsigned char sig : {static_cast<unsigned char>(SIGTERM), static_cast<unsigned char>(SIGINT)}) {
      const std::string drop = std::string(HEPSIFT_TEST_TMPDIR) + "/guard_drop.tmp";
      const std::string keep = std::string(HEPSIFT_TEST_TMPDIR) + "/guard_keep.tmp";
      std::ofstream(drop) << "unfinished";
      std::ofstream(keep) << "previous";
      const auto [status, msg] = guardedChild(sig, drop, keep);
      HS_CHECK(status == 128 + sig);
      HS_CHECK(!exists(drop));
      HS_CHECK(exists(keep));
      const std::string want = std::string("test: interrupted by ") + (sig == SIGINT ? "SIGINT" : "SIGTERM") +
                               "; unfinished output removed, previous files unchanged\n";
      HS_CHECK(msg == want);
      if (msg != want)
         std::printf("message: %s", msg.c_str());
      std::remove(keep.c_str());
   }
   return HS_REPORT();
}
