#include "dragonfly/security/cert_keeper.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "dragonfly/common/file.h"
#include "dragonfly/security/x509.h"

namespace df::security {
namespace {

using Clock = std::chrono::system_clock;

int64_t NowS() {
  return std::chrono::duration_cast<std::chrono::seconds>(Clock::now().time_since_epoch()).count();
}

// When a certificate is due for renewal: two thirds into its life (which starts kCertBackdate
// after its notBefore).
int64_t RenewAt(const CertificateInfo& c) {
  const int64_t issued = c.not_before_unix_s + kCertBackdate.count();
  return issued + (c.not_after_unix_s - issued) * 2 / 3;
}

}  // namespace

StatusOr<std::unique_ptr<CertificateKeeper>> CertificateKeeper::Start(Options options) {
  std::unique_ptr<CertificateKeeper> k(new CertificateKeeper(std::move(options)));
  StatusOr<CertificateInfo> current = k->Current();
  if (!current.ok()) {
    spdlog::info("no usable certificate for {} ({}): joining the cluster",
                 k->opts_.identity.SpiffeId(), current.status().message());
    current = k->Replace(k->opts_.join, "joined");
    if (!current.ok()) {
      return current.status().Annotate("joining the cluster as " + k->opts_.identity.SpiffeId());
    }
  }
  k->current_ = *current;
  k->thread_ = std::thread([p = k.get()] { p->Loop(); });
  return k;
}

CertificateKeeper::~CertificateKeeper() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) {
    thread_.join();
  }
}

int64_t CertificateKeeper::not_after_unix_s() const {
  std::lock_guard lock(mu_);
  return current_.not_after_unix_s;
}

StatusOr<CertificateInfo> CertificateKeeper::Current() const {
  DF_ASSIGN_OR_RETURN(std::string cert, ReadSmallFile(opts_.files.cert));
  DF_ASSIGN_OR_RETURN(std::string key, ReadSmallFile(opts_.files.key));
  DF_ASSIGN_OR_RETURN(std::string ca, ReadSmallFile(opts_.files.ca_cert));
  DF_ASSIGN_OR_RETURN(CertificateInfo info, InspectCertificate(cert));
  if (!(info.identity == opts_.identity)) {
    return FailedPrecondition("it is " + info.identity.SpiffeId());
  }
  DF_RETURN_IF_ERROR(CheckIssuedBy(cert, ca));
  DF_RETURN_IF_ERROR(CheckKeyMatches(key, cert));
  return info;
}

StatusOr<CertificateInfo> CertificateKeeper::Replace(const IssueFn& fn, const char* how) {
  DF_ASSIGN_OR_RETURN(std::string key, MakePrivateKey());
  DF_ASSIGN_OR_RETURN(std::string pub, PublicKeyOf(key));
  DF_ASSIGN_OR_RETURN(std::string cert, fn(pub));
  DF_ASSIGN_OR_RETURN(CertificateInfo info, InspectCertificate(cert));
  DF_ASSIGN_OR_RETURN(std::string ca, ReadSmallFile(opts_.files.ca_cert));
  if (!(info.identity == opts_.identity)) {
    return Internal("the CA issued a certificate for " + info.identity.SpiffeId());
  }
  DF_RETURN_IF_ERROR(CheckIssuedBy(cert, ca).Annotate("the issued certificate"));
  // Key first: between the two renames the files disagree for an instant, and gRPC's reload
  // (every reloadInterval) could read that; the next reload reads the pair.
  DF_RETURN_IF_ERROR(WriteSecretFile(opts_.files.key, key));
  DF_RETURN_IF_ERROR(WriteSecretFile(opts_.files.cert, cert));
  spdlog::info("{} a certificate for {}, valid until {} (Unix s)", how, opts_.identity.SpiffeId(),
               info.not_after_unix_s);
  return info;
}

void CertificateKeeper::Loop() {
  std::unique_lock lock(mu_);
  while (!stop_) {
    const CertificateInfo cur = current_;
    const int64_t due = RenewAt(cur);
    if (cv_.wait_until(lock, Clock::time_point(std::chrono::seconds(due)), [&] { return stop_; })) {
      return;
    }
    lock.unlock();
    const bool valid = NowS() < cur.not_after_unix_s;
    StatusOr<CertificateInfo> next =
        valid ? Replace(opts_.renew, "renewed") : Replace(opts_.join, "joined again and got");
    lock.lock();
    if (next.ok()) {
      current_ = *next;
      continue;
    }
    // Retry soon: a twentieth of the certificate's life, between 1 s and a minute.
    const int64_t life = cur.not_after_unix_s - cur.not_before_unix_s - kCertBackdate.count();
    const auto wait = std::chrono::seconds(std::clamp<int64_t>(life / 20, 1, 60));
    spdlog::warn(
        "renewing the certificate of {} failed ({}); it {} at {} (Unix s); retrying in {} s",
        opts_.identity.SpiffeId(), next.status().ToString(), valid ? "expires" : "expired",
        cur.not_after_unix_s, wait.count());
    if (cv_.wait_for(lock, wait, [&] { return stop_; })) {
      return;
    }
    // Loop with the same certificate: its renewal time has passed, so it retries at once.
  }
}

}  // namespace df::security
