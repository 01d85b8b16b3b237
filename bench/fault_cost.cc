// The host's first-touch fault cost, printed beside latency figures so that figures from
// different hosts can be compared: a checkpoint pause or a restore that touches fresh host
// memory pays one minor fault per 4 KiB page, and that fault costs 0.1-0.3 us on bare metal
// but 5-20 us in a VM whose guest page tables sit behind nested paging (the cloud hosts
// densevm runs on). One line: the CPU model, the load average, and the median over 5 runs of
// the time per fault to touch one byte of each page of a fresh anonymous 16 MiB mapping
// (THP off for it, so that each page is one fault), with the faults counted by getrusage.
//
//   build/bench/fault_cost           host: AMD EPYC, load 3.29 4.14 6.14, first-touch fault
//                                     17.2 us (median of 5, 4096 pages)
//   build/bench/fault_cost --brief   fault 17.2 us, load 3.29   (to go beside one figure)
#include <sys/mman.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

namespace {

constexpr size_t kPage = 4096;
constexpr size_t kPages = 4096;  // 16 MiB: enough faults to average, few enough to be quick
constexpr int kRuns = 5;

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("model name", 0) != 0) continue;
    const size_t colon = line.find(':');
    return colon == std::string::npos ? line : line.substr(line.find_first_not_of(' ', colon + 1));
  }
  return "unknown CPU";
}

std::string load_average() {
  std::ifstream in("/proc/loadavg");
  std::string one, five, fifteen;
  in >> one >> five >> fifteen;
  return one + " " + five + " " + fifteen;
}

long minor_faults() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_minflt;
}

// Microseconds per fault for one fresh mapping, or a negative value if it could not be mapped.
double one_run() {
  const size_t bytes = kPages * kPage;
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return -1;
  // A huge page would make 512 pages one fault; the probe is about 4 KiB faults.
  (void)madvise(p, bytes, MADV_NOHUGEPAGE);
  volatile char* bytes_of = static_cast<volatile char*>(p);
  const long faults_before = minor_faults();
  const auto start = std::chrono::steady_clock::now();
  for (size_t i = 0; i < kPages; ++i) bytes_of[i * kPage] = 1;
  const auto end = std::chrono::steady_clock::now();
  const long faults = std::max(1L, minor_faults() - faults_before);
  munmap(p, bytes);
  return std::chrono::duration<double, std::micro>(end - start).count() / static_cast<double>(faults);
}

}  // namespace

int main(int argc, char** argv) {
  const bool brief = argc == 2 && std::string_view(argv[1]) == "--brief";
  if (argc > 2 || (argc == 2 && !brief)) {
    std::fprintf(stderr, "usage: fault_cost [--brief]\n");
    return 2;
  }
  std::vector<double> us;
  for (int i = 0; i < kRuns; ++i) {
    const double one = one_run();
    if (one < 0) {
      std::fprintf(stderr, "fault_cost: cannot map %zu MiB\n", kPages * kPage >> 20);
      return 1;
    }
    us.push_back(one);
  }
  std::sort(us.begin(), us.end());
  const double median = us[us.size() / 2];
  const std::string load = load_average();
  if (brief) {
    std::printf("fault %.2f us, load %s\n", median, load.substr(0, load.find(' ')).c_str());
  } else {
    std::printf("host: %s, load %s, first-touch fault %.2f us (median of %d, %zu pages)\n", cpu_model().c_str(),
                load.c_str(), median, kRuns, kPages);
  }
  return 0;
}
