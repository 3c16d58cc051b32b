// libpcap sources: offline files (pcap and pcapng, "-" for standard input) and live interfaces.
#include "weighbridge/capture/pcap_source.h"

#include <fcntl.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

#include "pcap_reader.h"
#include "pcapng_reader.h"
#include "weighbridge/core/counter.h"

namespace weighbridge::capture {
namespace {

struct PcapCloser {
  void operator()(pcap_t* p) const noexcept { pcap_close(p); }
};
using PcapHandle = std::unique_ptr<pcap_t, PcapCloser>;

// With PCAP_TSTAMP_PRECISION_NANO libpcap stores nanoseconds in tv_usec; otherwise microseconds.
inline StreamTime ToStreamTime(const timeval& tv, bool nanos) noexcept {
  const std::int64_t sub = static_cast<std::int64_t>(tv.tv_usec);
  return StreamTime::FromNanos(static_cast<std::int64_t>(tv.tv_sec) * kNanosPerSecond +
                               (nanos ? sub : sub * kNanosPerMicro));
}

// pcap_datalink() returns a DLT_* value; the decoder takes LINKTYPE_* values (the numbers in
// the file formats). They are equal except for a few historical types whose DLT_* numbers differ
// between platforms; libpcap maps the file's LINKTYPE_RAW to DLT_RAW (12 on Linux) on reading.
int ToLinkType(int dlt) noexcept {
  switch (dlt) {
    case DLT_RAW:
      return kLinkRaw;
    case DLT_ATM_RFC1483:
      return 100;  // LINKTYPE_ATM_RFC1483
    default:
      return dlt;
  }
}

// ---------------------------------------------------------------------------------------------
// Offline: one file read front to back with pcap_next_ex.
class PcapFileSource final : public PacketSource {
 public:
  PcapFileSource(PcapHandle pcap, std::string path, const DecodeOptions& decode,
                 const SiteClassifier* site)
      : pcap_(std::move(pcap)),
        path_(std::move(path)),
        link_type_(ToLinkType(pcap_datalink(pcap_.get()))),
        decoder_(decode, site) {}

  PollResult Poll(std::span<PacketMeta> out) override {
    PollResult r;
    if (done_) {
      r.state = PollResult::State::kEnd;
      return r;
    }
    if (fallback_) return PollFallback(out);
    std::size_t frames = 0;
    while (frames < out.size()) {
      pcap_pkthdr* hdr = nullptr;
      const u_char* data = nullptr;
      const int rc = pcap_next_ex(pcap_.get(), &hdr, &data);
      if (rc == 1) {
        ++frames;
        frames_read_.Add(1);
        const DecodeResult d = decoder_.Decode(link_type_, data, hdr->caplen, hdr->len,
                                               ToStreamTime(hdr->ts, true), &out[r.packets]);
        if (d == DecodeResult::kOk) ++r.packets;
        continue;
      }
      const std::string why = rc == PCAP_ERROR_BREAK ? "" : pcap_geterr(pcap_.get());
      if (why.find("different from the type of the first interface") != std::string::npos &&
          StartFallback()) {
        r.state = PollResult::State::kMore;  // the rest comes from our own pcapng reader
        return r;
      }
      done_ = true;
      if (rc == PCAP_ERROR_BREAK) {  // end of file
        r.state = PollResult::State::kEnd;
      } else {
        // libpcap reports a short read ("truncated dump file") and an impossible record header
        // ("invalid packet capture length") the same way; both end the file here.
        r.state = PollResult::State::kError;
        r.error = path_ + ": truncated or corrupt record after frame " +
                  std::to_string(frames_read_.Get()) + ": " + why;
      }
      return r;
    }
    return r;
  }

  // For a file, `received` is the number of records read so far (frames handed to the decoder).
  SourceStats Stats() const override {
    SourceStats s;
    s.received = frames_read_.Get();
    return s;
  }
  const Decoder& decoder() const override { return decoder_; }
  std::string Name() const override { return "pcap:" + path_; }

 private:
  // libpcap 1.10 stops at a pcapng interface whose link type differs from the first one's. For a
  // file (not a pipe) our own pcapng reader starts again from the top, skips the frames libpcap
  // already delivered, and goes on with per-interface link types.
  bool StartFallback() {
    if (path_ == "-") return false;
    FileHandle f(std::fopen(path_.c_str(), "rb"));
    if (!f) return false;
    auto reader = std::make_unique<internal::PcapngReader>(f.get());
    internal::PcapngReader::Frame frame;
    for (std::uint64_t i = 0, n = frames_read_.Get(); i < n; ++i) {
      if (reader->Next(&frame) != 1) return false;  // not the file libpcap read: give up
    }
    fallback_file_ = std::move(f);
    fallback_ = std::move(reader);
    return true;
  }

  PollResult PollFallback(std::span<PacketMeta> out) {
    PollResult r;
    internal::PcapngReader::Frame f;
    for (std::size_t frames = 0; frames < out.size(); ++frames) {
      const int rc = fallback_->Next(&f);
      if (rc == 1) {
        frames_read_.Add(1);
        if (decoder_.Decode(f.link_type, f.data, f.caplen, f.wire_len, f.ts, &out[r.packets]) ==
            DecodeResult::kOk) {
          ++r.packets;
        }
        continue;
      }
      done_ = true;
      r.state = rc == 0 ? PollResult::State::kEnd : PollResult::State::kError;
      if (rc < 0) {
        r.error = path_ + ": corrupt pcapng block after frame " +
                  std::to_string(frames_read_.Get()) + ": " + fallback_->error();
      }
      return r;
    }
    return r;
  }

  struct FileCloser {
    void operator()(std::FILE* f) const noexcept { std::fclose(f); }
  };
  using FileHandle = std::unique_ptr<std::FILE, FileCloser>;

  PcapHandle pcap_;
  FileHandle fallback_file_;
  std::unique_ptr<internal::PcapngReader> fallback_;
  std::string path_;
  int link_type_;
  Decoder decoder_;
  // Read by Stats() on other threads (a metrics scrape) while Poll counts: one writer, relaxed.
  RelaxedCounter frames_read_;
  bool done_ = false;
};

// ---------------------------------------------------------------------------------------------
// Offline, classic pcap in a regular file: records parsed in place from large reads
// (internal::PcapChunkReader), record for record what libpcap would hand out.
class PcapChunkSource final : public PacketSource {
 public:
  PcapChunkSource(std::unique_ptr<internal::PcapChunkReader> reader, std::string path,
                  const DecodeOptions& decode, const SiteClassifier* site)
      : reader_(std::move(reader)), path_(std::move(path)), decoder_(decode, site) {}

  PollResult Poll(std::span<PacketMeta> out) override {
    PollResult r;
    if (done_) {
      r.state = PollResult::State::kEnd;
      return r;
    }
    const int link_type = reader_->link_type();
    internal::PcapChunkReader::Frame f;
    for (std::size_t frames = 0; frames < out.size(); ++frames) {
      const int rc = reader_->Next(&f);
      if (rc == 1) {
        frames_read_.Add(1);
        if (decoder_.Decode(link_type, f.data, f.caplen, f.wire_len, f.ts, &out[r.packets]) ==
            DecodeResult::kOk) {
          ++r.packets;
        }
        continue;
      }
      done_ = true;
      r.state = rc == 0 ? PollResult::State::kEnd : PollResult::State::kError;
      if (rc < 0) {
        r.error = path_ + ": truncated or corrupt record after frame " +
                  std::to_string(frames_read_.Get()) + ": " + reader_->error();
      }
      return r;
    }
    return r;
  }
  SourceStats Stats() const override {
    SourceStats s;
    s.received = frames_read_.Get();
    return s;
  }
  const Decoder& decoder() const override { return decoder_; }
  std::string Name() const override { return "pcap:" + path_; }

 private:
  std::unique_ptr<internal::PcapChunkReader> reader_;
  std::string path_;
  Decoder decoder_;
  // Read by Stats() on other threads (a metrics scrape) while Poll counts: one writer, relaxed.
  RelaxedCounter frames_read_;
  bool done_ = false;
};

// ---------------------------------------------------------------------------------------------
// Live: pcap_dispatch into the caller's span. libpcap's Linux TPACKET_V3 ring hands out frames in
// blocks; `timeout_ms` bounds how long a partly filled block waits for more frames. The handle is
// non-blocking and Poll does its own bounded poll(), so Poll returns within about timeout_ms.
class PcapLiveSource final : public PacketSource {
 public:
  PcapLiveSource(PcapHandle pcap, std::string interface, bool nanos, int timeout_ms,
                 const DecodeOptions& decode, const SiteClassifier* site)
      : pcap_(std::move(pcap)),
        interface_(std::move(interface)),
        fd_(pcap_get_selectable_fd(pcap_.get())),
        timeout_ms_(timeout_ms),
        link_type_(ToLinkType(pcap_datalink(pcap_.get()))),
        nanos_(nanos),
        decoder_(decode, site) {}

  PollResult Poll(std::span<PacketMeta> out) override {
    PollResult r;
    if (stopped_.load(std::memory_order_relaxed)) {
      r.state = PollResult::State::kEnd;
      return r;
    }
    if (out.empty()) return r;
    DispatchContext ctx{this, out, 0};
    // cnt bounds the frames processed, so the callback never writes past out.
    const int cnt = static_cast<int>(std::min<std::size_t>(out.size(), INT_MAX));
    int rc = pcap_dispatch(pcap_.get(), cnt, &PcapLiveSource::OnFrame,
                           static_cast<u_char*>(static_cast<void*>(&ctx)));
    if (rc == 0 && fd_ >= 0) {
      // Non-blocking handle with nothing ready: wait up to timeout_ms for the ring, then try once
      // more. (A blocking TPACKET_V3 handle waits forever on a silent interface: the kernel
      // retires only blocks that hold a packet, so pcap_set_timeout alone does not bound Poll.)
      pollfd pfd{fd_, POLLIN, 0};
      if (::poll(&pfd, 1, timeout_ms_) > 0) {
        rc = pcap_dispatch(pcap_.get(), cnt, &PcapLiveSource::OnFrame,
                           static_cast<u_char*>(static_cast<void*>(&ctx)));
      }
    }
    r.packets = ctx.written;
    if (rc > 0) {
      r.state = PollResult::State::kMore;
    } else if (rc == 0) {
      r.state = PollResult::State::kIdle;
    } else if (rc == PCAP_ERROR_BREAK) {
      r.state = PollResult::State::kEnd;
    } else {
      r.state = PollResult::State::kError;
      r.error = "live:" + interface_ + ": read failed: " + pcap_geterr(pcap_.get());
    }
    return r;
  }

  // pcap_breakloop is safe from another thread: it sets a flag and, on Linux, wakes the poll()
  // inside pcap_dispatch through an eventfd. stopped_ makes later Polls return kEnd at once.
  void Stop() override {
    stopped_.store(true, std::memory_order_relaxed);
    pcap_breakloop(pcap_.get());
  }

  // pcap_stats is a getsockopt(PACKET_STATISTICS) that libpcap accumulates into the handle;
  // the mutex keeps two concurrent Stats() callers from racing on that accumulation.
  SourceStats Stats() const override {
    SourceStats s;
    pcap_stat ps{};
    std::lock_guard<std::mutex> lock(stats_mu_);
    if (pcap_stats(pcap_.get(), &ps) == 0) {
      s.received = ps.ps_recv;
      s.kernel_drops = ps.ps_drop;
      s.interface_drops = ps.ps_ifdrop;
    }
    return s;
  }
  const Decoder& decoder() const override { return decoder_; }
  std::string Name() const override { return "live:" + interface_; }

 private:
  struct DispatchContext {
    PcapLiveSource* self;
    std::span<PacketMeta> out;
    std::size_t written;
  };

  static void OnFrame(u_char* user, const pcap_pkthdr* hdr, const u_char* data) noexcept {
    // `user` is the DispatchContext that Poll passed to pcap_dispatch.
    auto* ctx = static_cast<DispatchContext*>(static_cast<void*>(user));
    if (ctx->written >= ctx->out.size()) return;  // cannot happen: cnt bounds it
    PcapLiveSource* self = ctx->self;
    if (self->decoder_.Decode(self->link_type_, data, hdr->caplen, hdr->len,
                              ToStreamTime(hdr->ts, self->nanos_),
                              &ctx->out[ctx->written]) == DecodeResult::kOk) {
      ++ctx->written;
    }
  }

  PcapHandle pcap_;
  std::string interface_;
  int fd_;  // -1 where the platform has no selectable descriptor (then pcap_dispatch blocks)
  int timeout_ms_;
  int link_type_;
  bool nanos_;
  Decoder decoder_;
  std::atomic<bool> stopped_{false};
  mutable std::mutex stats_mu_;
};

std::string ActivateError(const std::string& iface, int rc, pcap_t* p) {
  const std::string where = "live:" + iface + ": ";
  const std::string detail = pcap_geterr(p);
  switch (rc) {
    case PCAP_ERROR_PERM_DENIED:
      return where +
             "permission denied opening the interface (run as root or with CAP_NET_RAW "
             "and CAP_NET_ADMIN): " +
             detail;
    case PCAP_ERROR_PROMISC_PERM_DENIED:
      return where +
             "permission denied for promiscuous mode (run as root, or set "
             "promiscuous: false): " +
             detail;
    case PCAP_ERROR_NO_SUCH_DEVICE:
      return where + "no such interface (see `ip link`): " + detail;
    case PCAP_ERROR_IFACE_NOT_UP:
      return where + "interface is down (ip link set " + iface + " up)";
    case PCAP_ERROR_RFMON_NOTSUP:
      return where + "monitor mode not supported: " + detail;
    default:
      return where + pcap_statustostr(rc) + (detail.empty() ? "" : ": " + detail);
  }
}

}  // namespace

Result<std::unique_ptr<PacketSource>> OpenPcapFile(const std::string& path,
                                                   const DecodeOptions& decode,
                                                   const SiteClassifier* site) {
  // Classic pcap in a regular file: our own chunked reader. WB_PCAP_READER=libpcap forces
  // libpcap's (the benchmarks compare the two; the tests check they agree).
  const char* force = std::getenv("WB_PCAP_READER");
  if (path != "-" && !(force != nullptr && std::string_view(force) == "libpcap")) {
    const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    struct stat st {};
    if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
      if (auto reader = internal::PcapChunkReader::Open(fd)) {
        return std::unique_ptr<PacketSource>(
            std::make_unique<PcapChunkSource>(std::move(reader), path, decode, site));
      }
    }
    if (fd >= 0) close(fd);
  }
  char errbuf[PCAP_ERRBUF_SIZE] = {};
  // "-" is libpcap's own spelling of standard input.
  PcapHandle p(
      pcap_open_offline_with_tstamp_precision(path.c_str(), PCAP_TSTAMP_PRECISION_NANO, errbuf));
  if (!p) {
    return Status::Error("cannot open capture file " +
                         (path == "-" ? std::string("- (standard input)") : path) + ": " + errbuf);
  }
  return std::unique_ptr<PacketSource>(
      std::make_unique<PcapFileSource>(std::move(p), path, decode, site));
}

Result<std::unique_ptr<PacketSource>> OpenPcapLive(const LiveCaptureOptions& options,
                                                   const DecodeOptions& decode,
                                                   const SiteClassifier* site) {
  const std::string& iface = options.interface;
  if (iface.empty()) return Status::Error("live capture: no interface given");
  char errbuf[PCAP_ERRBUF_SIZE] = {};
  PcapHandle p(pcap_create(iface.c_str(), errbuf));
  if (!p) return Status::Error("live:" + iface + ": " + errbuf);

  const int buffer = static_cast<int>(std::min<std::uint64_t>(options.buffer_bytes, INT_MAX));
  const int snaplen = static_cast<int>(std::min<std::uint32_t>(options.snaplen, 262144));
  if (pcap_set_snaplen(p.get(), snaplen) != 0 ||
      pcap_set_promisc(p.get(), options.promiscuous ? 1 : 0) != 0 ||
      pcap_set_buffer_size(p.get(), buffer) != 0 ||
      pcap_set_timeout(p.get(), options.timeout_ms) != 0 ||
      // Immediate mode would wake us per packet; block-at-a-time delivery is what keeps up.
      pcap_set_immediate_mode(p.get(), 0) != 0) {
    return Status::Error("live:" + iface + ": cannot set capture options: " + pcap_geterr(p.get()));
  }
  // Nanosecond timestamps where the platform has them (Linux does); otherwise microseconds.
  const bool asked_nanos = pcap_set_tstamp_precision(p.get(), PCAP_TSTAMP_PRECISION_NANO) == 0;

  const int rc = pcap_activate(p.get());
  if (rc < 0) return Status::Error(ActivateError(iface, rc, p.get()));
  if (rc > 0) {
    // Warnings leave a working handle; say what was not honoured (startup only, not per packet).
    std::fprintf(stderr, "weighbridge: live:%s: warning: %s%s%s\n", iface.c_str(),
                 pcap_statustostr(rc), rc == PCAP_WARNING ? ": " : "",
                 rc == PCAP_WARNING ? pcap_geterr(p.get()) : "");
  }
  const bool nanos =
      asked_nanos && pcap_get_tstamp_precision(p.get()) == PCAP_TSTAMP_PRECISION_NANO;

  if (pcap_setnonblock(p.get(), 1, errbuf) != 0) {
    return Status::Error("live:" + iface + ": cannot make the handle non-blocking: " + errbuf);
  }

  if (!options.filter.empty()) {
    bpf_program prog{};
    if (pcap_compile(p.get(), &prog, options.filter.c_str(), 1, PCAP_NETMASK_UNKNOWN) != 0) {
      return Status::Error("live:" + iface + ": bad filter \"" + options.filter +
                           "\": " + pcap_geterr(p.get()));
    }
    const int set = pcap_setfilter(p.get(), &prog);
    pcap_freecode(&prog);
    if (set != 0) {
      return Status::Error("live:" + iface + ": cannot install filter \"" + options.filter +
                           "\": " + pcap_geterr(p.get()));
    }
  }
  return std::unique_ptr<PacketSource>(std::make_unique<PcapLiveSource>(
      std::move(p), iface, nanos, options.timeout_ms, decode, site));
}

}  // namespace weighbridge::capture
