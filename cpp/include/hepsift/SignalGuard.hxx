// hepsift/SignalGuard.hxx — end the process cleanly on SIGINT/SIGTERM while C++ holds the
// Python interpreter (an RDataFrame event loop run through PyROOT).
//
// Python's signal handlers run only between bytecodes, so Ctrl-C is not seen during a long
// event loop. The `hepsift` command writes each signal number into a pipe
// (signal.set_wakeup_fd) and starts this guard on the read end: a native thread that blocks
// on the pipe without the interpreter lock, removes the unfinished outputs registered with
// add() (temporary files of the atomic writer), prints one line and calls _exit(128 + signal).
//
//   hepsift::signalguard::add("/data/.out.root.tmp123");
//   hepsift::signalguard::start(readFd, dup(2), "hepsift apply");
#ifndef HEPSIFT_SIGNALGUARD_HXX
#define HEPSIFT_SIGNALGUARD_HXX

#include <cerrno>
#include <csignal>
#include <cstddef>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <unistd.h>

namespace hepsift {
namespace signalguard {

inline std::mutex &lock()
{
   static std::mutex m;
   return m;
}

/// Paths removed when a signal arrives (unfinished outputs).
inline std::set<std::string> &pending()
{
   static std::set<std::string> p;
   return p;
}

inline void add(const std::string &path)
{
   std::lock_guard<std::mutex> g(lock());
   pending().insert(path);
}

inline void remove(const std::string &path)
{
   std::lock_guard<std::mutex> g(lock());
   pending().erase(path);
}

/// Remove every pending path; returns how many were removed.
inline std::size_t removePending()
{
   std::lock_guard<std::mutex> g(lock());
   std::size_t removed = 0;
   for (const auto &path : pending())
      removed += ::unlink(path.c_str()) == 0;
   return removed;
}

/// Start the guard thread: it reads signal numbers (one byte each) from `fd`; on SIGINT or
/// SIGTERM it removes the pending paths, writes "<prefix>: interrupted by SIGINT..." to `err`
/// and ends the process with status 128 + signal. Other bytes are ignored; end of file ends
/// the thread.
inline void start(int fd, int err, const std::string &prefix)
{
   std::thread([fd, err, prefix] {
      for (;;) {
         unsigned char s = 0;
         const ssize_t n = ::read(fd, &s, 1); // blocks without the interpreter lock
         if (n < 0 && errno == EINTR)
            continue;
         if (n <= 0)
            return;
         if (n != 1 || (s != SIGINT && s != SIGTERM))
            continue;
         const std::size_t removed = removePending();
         const std::string msg = prefix + ": interrupted by " + (s == SIGINT ? "SIGINT" : "SIGTERM") +
                                 (removed ? "; unfinished output removed, previous files unchanged\n" : "\n");
         ssize_t ignored = ::write(err, msg.data(), msg.size());
         (void)ignored;
         ::_exit(128 + s);
      }
   }).detach();
}

} // namespace signalguard
} // namespace hepsift

#endif
