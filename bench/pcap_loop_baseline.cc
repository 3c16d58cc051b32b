// The baseline for replay benchmarks: the least any libpcap-based reader can do with a capture
// file — open it, call pcap_next_ex for every record, and sum the lengths so the loop is not
// optimised away. Prints frames, bytes and seconds as one JSON line.
#include <pcap/pcap.h>

#include <chrono>
#include <cstdint>
#include <cstdio>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: pcap_loop_baseline FILE\n");
    return 2;
  }
  char err[PCAP_ERRBUF_SIZE] = {};
  const auto t0 = std::chrono::steady_clock::now();
  pcap_t* p = pcap_open_offline_with_tstamp_precision(argv[1], PCAP_TSTAMP_PRECISION_NANO, err);
  if (p == nullptr) {
    std::fprintf(stderr, "pcap_loop_baseline: %s\n", err);
    return 2;
  }
  std::uint64_t frames = 0;
  std::uint64_t bytes = 0;
  pcap_pkthdr* h = nullptr;
  const u_char* data = nullptr;
  while (pcap_next_ex(p, &h, &data) == 1) {
    ++frames;
    bytes += h->len + data[0];  // touch the frame, as any reader must
  }
  pcap_close(p);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("{\"frames\": %llu, \"bytes\": %llu, \"seconds\": %.6f}\n",
              static_cast<unsigned long long>(frames), static_cast<unsigned long long>(bytes),
              secs);
  return 0;
}
