// greenrun: runs a program under greenhub.
//
//   greenrun [OPTIONS] [--] PROGRAM [ARGS...]
//
// How it works
//   Each option sets the GREENHUB_* variable it stands for (the preload
//   works without greenrun: the variables are the interface), the preload
//   is put first in LD_PRELOAD, and greenrun execs the program: the program
//   replaces greenrun in the same process, so its exit status, its signals,
//   its pid and its terminal are the program's own, with nothing in between.
//
//   The preload is found relative to greenrun's own file (/proc/self/exe,
//   symlinks resolved): next to it; in a meson build tree (build/tools/
//   greenrun/greenrun -> build/preload/); or installed (PREFIX/BINDIR/greenrun
//   -> PREFIX/LIBDIR/), with PREFIX taken from greenrun's location, so that
//   an installation moved as a whole (DESTDIR) still works.
//
//   Option values are checked by the preload at start-up, before main(),
//   with the same message for greenrun and for a bare variable: greenrun
//   checks only what it alone knows (its options, the program).
//
// Exit status: the program's; 127 if it is not found; 126 if it cannot be
// executed; 2 for a usage error; 1 if the preload cannot be found.
#include <getopt.h>
#include <limits.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#ifndef GREENRUN_VERSION
#define GREENRUN_VERSION "unknown"
#endif
#ifndef GREENRUN_BINDIR
#define GREENRUN_BINDIR "bin"
#endif
#ifndef GREENRUN_LIBDIR
#define GREENRUN_LIBDIR "lib"
#endif

namespace {

constexpr const char* kPreloadName = "libgreenhub_preload.so";

const char kUsage[] =
    "usage: greenrun [OPTIONS] [--] PROGRAM [ARGS...]\n";

const char kHelp[] =
    "Runs PROGRAM with greenhub: its pthreads become greenlets and its blocking\n"
    "socket, sleep, poll and DNS calls wait on a hub instead of an OS thread.\n"
    "\n"
    "Options (each sets the environment variable shown; values are checked at start-up):\n"
    "  --hubs N               OS threads running hubs (GREENHUB_HUBS; default: the CPUs\n"
    "                         in the affinity mask)\n"
    "  --stack-size SIZE      stack of each green thread, like 64K or 1M, 16K to 1G\n"
    "                         (GREENHUB_STACK_SIZE; default 256K)\n"
    "  --resolver KIND        DNS lookups: ares, thread or block (GREENHUB_RESOLVER;\n"
    "                         default ares)\n"
    "  --no-green-threads     pthreads stay OS threads; their calls still wait on a hub\n"
    "                         of their own (GREENHUB_GREEN_THREADS=0)\n"
    "  --trace FILE           record a trace for greentrace; %p is the pid (GREENHUB_TRACE)\n"
    "  --stats                a summary on stderr at exit (GREENHUB_STATS=1)\n"
    "  --max-blocking MS      report a hub stalled longer than MS milliseconds; 0 turns\n"
    "                         the blocking monitor off (GREENHUB_MAX_BLOCKING_MS; greenrun's\n"
    "                         default 100; without greenrun the monitor is off unless set)\n"
    "  --monitor-log FILE     the monitor's reports go to FILE, not stderr\n"
    "                         (GREENHUB_MONITOR_LOG)\n"
    "  --control PATH         answer greentop on the Unix socket PATH (GREENHUB_CONTROL)\n"
    "  -h, --help             this help\n"
    "  -V, --version          greenrun's version\n"
    "\n"
    "Exit status: PROGRAM's own (greenrun execs it); 127 if PROGRAM is not found,\n"
    "126 if it cannot be executed, 2 for a usage error.\n";

[[noreturn]] void usage_error(const char* message, const char* detail) {
  if (message != nullptr) {
    if (detail != nullptr) std::fprintf(stderr, "greenrun: %s: %s\n", message, detail);
    else std::fprintf(stderr, "greenrun: %s\n", message);
  }
  std::fputs(kUsage, stderr);
  std::fputs("Try 'greenrun --help' for more information.\n", stderr);
  std::exit(2);
}

std::string directory_of(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

bool is_file(const std::string& path) { return access(path.c_str(), R_OK) == 0; }

// PREFIX when `dir` ends with BINDIR (a relative bindir), else "".
std::string prefix_of(const std::string& dir) {
  std::string bindir = GREENRUN_BINDIR;
  if (bindir.empty() || bindir[0] == '/') return "";
  std::string suffix = "/" + bindir;
  if (dir.size() <= suffix.size() || dir.compare(dir.size() - suffix.size(), suffix.size(), suffix) != 0) {
    return "";
  }
  return dir.substr(0, dir.size() - suffix.size());
}

std::string find_preload(std::vector<std::string>* looked_in) {
  char self[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) return "";
  self[n] = '\0';
  const std::string dir = directory_of(self);
  std::vector<std::string> candidates = {
      dir + "/" + kPreloadName,                    // next to greenrun
      dir + "/../../preload/" + kPreloadName,      // build tree: tools/greenrun/ -> preload/
  };
  const std::string libdir = GREENRUN_LIBDIR;
  if (!libdir.empty() && libdir[0] == '/') {
    candidates.push_back(libdir + "/" + kPreloadName);
  } else if (std::string prefix = prefix_of(dir); !prefix.empty()) {
    candidates.push_back(prefix + "/" + libdir + "/" + kPreloadName);
  }
  for (const std::string& c : candidates) {
    looked_in->push_back(c);
    if (is_file(c)) {
      char resolved[PATH_MAX];
      return realpath(c.c_str(), resolved) != nullptr ? std::string(resolved) : c;
    }
  }
  return "";
}

// Puts `preload` first in LD_PRELOAD (once).
void add_to_ld_preload(const std::string& preload) {
  if (preload.find_first_of(" :") != std::string::npos) {
    std::fprintf(stderr, "greenrun: %s cannot be preloaded: its path contains a space or a colon\n",
                 preload.c_str());
    std::exit(1);
  }
  std::string value = preload;
  if (const char* old = std::getenv("LD_PRELOAD"); old != nullptr && *old != '\0') {
    // Keep the other entries (separated by spaces or colons), drop ours.
    std::string rest(old);
    size_t start = 0;
    while (start <= rest.size()) {
      size_t end = rest.find_first_of(" :", start);
      if (end == std::string::npos) end = rest.size();
      std::string entry = rest.substr(start, end - start);
      if (!entry.empty() && entry != preload &&
          entry.substr(entry.rfind('/') == std::string::npos ? 0 : entry.rfind('/') + 1) !=
              kPreloadName) {
        value += ":" + entry;
      }
      start = end + 1;
    }
  }
  setenv("LD_PRELOAD", value.c_str(), 1);
}

void set(const char* name, const char* value) {
  if (*value == '\0') usage_error("an option's value is empty", name);
  if (setenv(name, value, 1) != 0) {
    std::fprintf(stderr, "greenrun: cannot set %s: %s\n", name, std::strerror(errno));
    std::exit(1);
  }
}

}  // namespace

int main(int argc, char** argv) {
  enum : int {
    kHubs = 1000, kStackSize, kResolver, kNoGreenThreads, kTrace, kStats, kMaxBlocking,
    kMonitorLog, kControl,
  };
  static const option options[] = {
      {"hubs", required_argument, nullptr, kHubs},
      {"stack-size", required_argument, nullptr, kStackSize},
      {"resolver", required_argument, nullptr, kResolver},
      {"no-green-threads", no_argument, nullptr, kNoGreenThreads},
      {"trace", required_argument, nullptr, kTrace},
      {"stats", no_argument, nullptr, kStats},
      {"max-blocking", required_argument, nullptr, kMaxBlocking},
      {"monitor-log", required_argument, nullptr, kMonitorLog},
      {"control", required_argument, nullptr, kControl},
      {"help", no_argument, nullptr, 'h'},
      {"version", no_argument, nullptr, 'V'},
      {nullptr, 0, nullptr, 0},
  };
  opterr = 1;  // getopt names the bad option, like strace
  argv[0] = const_cast<char*>("greenrun");  // in its messages, however greenrun was run
  int option;
  // '+': options end at the program's name (its own options are its own).
  while ((option = getopt_long(argc, argv, "+hV", options, nullptr)) != -1) {
    switch (option) {
      case kHubs: set("GREENHUB_HUBS", optarg); break;
      case kStackSize: set("GREENHUB_STACK_SIZE", optarg); break;
      case kResolver: set("GREENHUB_RESOLVER", optarg); break;
      case kNoGreenThreads: set("GREENHUB_GREEN_THREADS", "0"); break;
      case kTrace: set("GREENHUB_TRACE", optarg); break;
      case kStats: set("GREENHUB_STATS", "1"); break;
      case kMaxBlocking: set("GREENHUB_MAX_BLOCKING_MS", optarg); break;
      case kMonitorLog: set("GREENHUB_MONITOR_LOG", optarg); break;
      case kControl: set("GREENHUB_CONTROL", optarg); break;
      case 'h':
        std::fputs(kUsage, stdout);
        std::fputs(kHelp, stdout);
        return 0;
      case 'V':
        std::printf("greenrun (greenhub) %s\n", GREENRUN_VERSION);
        return 0;
      default:
        usage_error(nullptr, nullptr);  // getopt has said what was wrong
    }
  }
  if (optind >= argc) usage_error("no program to run", nullptr);

  std::vector<std::string> looked_in;
  const std::string preload = find_preload(&looked_in);
  if (preload.empty()) {
    std::fprintf(stderr, "greenrun: cannot find %s; looked in:\n", kPreloadName);
    for (const std::string& place : looked_in) std::fprintf(stderr, "  %s\n", place.c_str());
    return 1;
  }
  add_to_ld_preload(preload);
  // greenrun is the diagnostic front end: its blocking monitor is on unless
  // the option or the variable says otherwise (a bare LD_PRELOAD leaves the
  // program's stderr alone).
  if (std::getenv("GREENHUB_MAX_BLOCKING_MS") == nullptr) set("GREENHUB_MAX_BLOCKING_MS", "100");

  const char* program = argv[optind];
  execvp(program, argv + optind);
  // As a shell reports it: 127 when there is no such program, 126 when it
  // exists but cannot be run.
  const int error = errno;
  if (error == ENOENT && std::strchr(program, '/') == nullptr) {
    std::fprintf(stderr, "greenrun: %s: command not found\n", program);
  } else {
    std::fprintf(stderr, "greenrun: %s: %s\n", program, std::strerror(error));
  }
  return error == ENOENT || error == ENOTDIR ? 127 : 126;
}
