#include "dragonfly/security/identity.h"

#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <memory>
#include <optional>

#include "dragonfly/security/x509.h"

namespace df::security {
namespace {

template <typename T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const { Free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using X509Ptr = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using BioPtr = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;
using NamesPtr = std::unique_ptr<GENERAL_NAMES, Deleter<GENERAL_NAMES, GENERAL_NAMES_free>>;

constexpr Role kRoles[] = {Role::kScheduler, Role::kSeedPeer, Role::kDaemon, Role::kManager};

bool ValidName(std::string_view name) {
  if (name.empty() || name.size() > 253) {
    return false;
  }
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '-' || c == '_';
    if (!ok) {
      return false;
    }
  }
  return true;
}

std::string KeyPem(EVP_PKEY* k) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), k, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return "";
  }
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(n));
}

std::string CertPem(X509* c) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), c) != 1) {
    return "";
  }
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(n));
}

StatusOr<X509Ptr> ReadCert(std::string_view pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  X509Ptr cert(bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!cert) {
    return InvalidArgument("not a PEM certificate");
  }
  return cert;
}

StatusOr<PkeyPtr> ReadKey(std::string_view pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  PkeyPtr key(bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!key) {
    return InvalidArgument("not a PEM private key");
  }
  return key;
}

}  // namespace

const char* RoleName(Role role) {
  switch (role) {
    case Role::kScheduler:
      return "scheduler";
    case Role::kSeedPeer:
      return "seed-peer";
    case Role::kDaemon:
      return "daemon";
    case Role::kManager:
      return "manager";
  }
  return "?";
}

StatusOr<Role> ParseRole(std::string_view name) {
  for (Role r : kRoles) {
    if (name == RoleName(r)) {
      return r;
    }
  }
  return InvalidArgument("unknown role '" + std::string(name) +
                         "' (scheduler, seed-peer, daemon, manager)");
}

std::string Identity::SpiffeId() const {
  return std::string("spiffe://") + kTrustDomain + "/" + RoleName(role) + "/" + name;
}

StatusOr<Identity> ParseSpiffeId(std::string_view uri) {
  const std::string prefix = std::string("spiffe://") + kTrustDomain + "/";
  if (uri.substr(0, prefix.size()) != prefix) {
    return InvalidArgument("not an identity of this cluster: " + std::string(uri.substr(0, 128)));
  }
  std::string_view rest = uri.substr(prefix.size());
  size_t slash = rest.find('/');
  if (slash == std::string_view::npos) {
    return InvalidArgument("identity without a name: " + std::string(uri.substr(0, 128)));
  }
  DF_ASSIGN_OR_RETURN(Role role, ParseRole(rest.substr(0, slash)));
  std::string_view name = rest.substr(slash + 1);
  if (!ValidName(name)) {
    return InvalidArgument("bad name in identity: " + std::string(uri.substr(0, 128)));
  }
  return Identity{role, std::string(name)};
}

StatusOr<KeyPair> MakeCa(const std::string& common_name, std::chrono::seconds ttl) {
  PkeyPtr key(EVP_EC_gen("P-256"));
  if (!key) {
    return Internal("cannot generate a key");
  }
  X509Ptr cert(MakeCert(common_name, key.get(), nullptr, key.get(), ttl,
                        {{NID_basic_constraints, "critical,CA:TRUE,pathlen:0"},
                         {NID_key_usage, "critical,keyCertSign,cRLSign"},
                         {NID_subject_key_identifier, "hash"}}));
  if (!cert) {
    return Internal("cannot sign the CA certificate");
  }
  return KeyPair{KeyPem(key.get()), CertPem(cert.get())};
}

StatusOr<std::string> MakePrivateKey() {
  PkeyPtr key(EVP_EC_gen("P-256"));
  std::string pem = key ? KeyPem(key.get()) : "";
  if (pem.empty()) {
    return Internal("cannot generate a key");
  }
  return pem;
}

StatusOr<std::string> PublicKeyOf(std::string_view key_pem) {
  DF_ASSIGN_OR_RETURN(PkeyPtr key, ReadKey(key_pem));
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PUBKEY(bio.get(), key.get()) != 1) {
    return Internal("cannot write a public key");
  }
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(n));
}

StatusOr<std::string> IssueForKey(const KeyPair& ca, const Identity& id,
                                  std::string_view public_key_pem, std::chrono::seconds ttl,
                                  const std::vector<std::string>& hosts) {
  if (!ValidName(id.name)) {
    return InvalidArgument("a certificate name is 1-253 of [A-Za-z0-9._-], not '" + id.name + "'");
  }
  BioPtr bio(BIO_new_mem_buf(public_key_pem.data(), static_cast<int>(public_key_pem.size())));
  PkeyPtr key(bio ? PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!key || !EVP_PKEY_is_a(key.get(), "EC") || EVP_PKEY_get_bits(key.get()) != 256) {
    return InvalidArgument("the public key must be a PEM ECDSA P-256 key");
  }
  DF_ASSIGN_OR_RETURN(X509Ptr ca_cert, ReadCert(ca.cert_pem));
  DF_ASSIGN_OR_RETURN(PkeyPtr ca_key, ReadKey(ca.key_pem));
  if (X509_check_private_key(ca_cert.get(), ca_key.get()) != 1) {
    return InvalidArgument("the CA key does not match the CA certificate");
  }
  // The DNS name every certificate of the cluster has: the TLS server name clients ask for
  // (they dial by address and check the identity, see rpc/tls.h).
  std::string san = "URI:" + id.SpiffeId() + ",DNS:" + kTrustDomain;
  for (const std::string& h : hosts) {
    bool ip = h.find_first_not_of("0123456789.") == std::string::npos || h.find(':') != h.npos;
    san += (ip ? ",IP:" : ",DNS:") + h;
  }
  X509Ptr cert(MakeCert(id.name, key.get(), ca_cert.get(), ca_key.get(), ttl,
                        {{NID_basic_constraints, "critical,CA:FALSE"},
                         {NID_key_usage, "critical,digitalSignature"},
                         {NID_ext_key_usage, "serverAuth,clientAuth"},
                         {NID_subject_alt_name, san},
                         {NID_authority_key_identifier, "keyid"}}));
  if (!cert) {
    return Internal("cannot sign a certificate for " + id.SpiffeId());
  }
  return CertPem(cert.get());
}

StatusOr<KeyPair> IssueCertificate(const KeyPair& ca, const Identity& id, std::chrono::seconds ttl,
                                   const std::vector<std::string>& hosts) {
  DF_ASSIGN_OR_RETURN(std::string key, MakePrivateKey());
  DF_ASSIGN_OR_RETURN(std::string pub, PublicKeyOf(key));
  DF_ASSIGN_OR_RETURN(std::string cert, IssueForKey(ca, id, pub, ttl, hosts));
  return KeyPair{std::move(key), std::move(cert)};
}

StatusOr<Identity> IdentityOf(const X509* cert) {
  NamesPtr names(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
  std::optional<Identity> found;
  for (int i = 0; names && i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* n = sk_GENERAL_NAME_value(names.get(), i);
    if (n->type != GEN_URI) {
      continue;
    }
    std::string_view uri(reinterpret_cast<const char*>(ASN1_STRING_get0_data(n->d.ia5)),
                         static_cast<size_t>(ASN1_STRING_length(n->d.ia5)));
    DF_ASSIGN_OR_RETURN(found, ParseSpiffeId(uri));
  }
  if (!found) {
    return InvalidArgument("the certificate has no identity (URI SAN)");
  }
  return *found;
}

StatusOr<CertificateInfo> InspectCertificate(std::string_view cert_pem) {
  DF_ASSIGN_OR_RETURN(X509Ptr cert, ReadCert(cert_pem));
  CertificateInfo info;
  DF_ASSIGN_OR_RETURN(info.identity, IdentityOf(cert.get()));
  struct tm after{};
  struct tm before{};
  if (ASN1_TIME_to_tm(X509_get0_notAfter(cert.get()), &after) != 1 ||
      ASN1_TIME_to_tm(X509_get0_notBefore(cert.get()), &before) != 1) {
    return InvalidArgument("the certificate has a bad validity");
  }
  info.not_before_unix_s = static_cast<int64_t>(timegm(&before));
  info.not_after_unix_s = static_cast<int64_t>(timegm(&after));
  return info;
}

Status CheckIssuedBy(std::string_view cert_pem, std::string_view ca_pem) {
  DF_ASSIGN_OR_RETURN(X509Ptr cert, ReadCert(cert_pem));
  DF_ASSIGN_OR_RETURN(X509Ptr ca, ReadCert(ca_pem));
  std::unique_ptr<X509_STORE, Deleter<X509_STORE, X509_STORE_free>> store(X509_STORE_new());
  std::unique_ptr<X509_STORE_CTX, Deleter<X509_STORE_CTX, X509_STORE_CTX_free>> ctx(
      X509_STORE_CTX_new());
  if (!store || !ctx || X509_STORE_add_cert(store.get(), ca.get()) != 1 ||
      X509_STORE_CTX_init(ctx.get(), store.get(), cert.get(), nullptr) != 1) {
    return Internal("cannot check a certificate chain");
  }
  if (X509_verify_cert(ctx.get()) != 1) {
    return InvalidArgument(std::string("the certificate does not verify against the CA: ") +
                           X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx.get())));
  }
  return Status::Ok();
}

Status CheckKeyMatches(std::string_view key_pem, std::string_view cert_pem) {
  DF_ASSIGN_OR_RETURN(X509Ptr cert, ReadCert(cert_pem));
  DF_ASSIGN_OR_RETURN(PkeyPtr key, ReadKey(key_pem));
  if (X509_check_private_key(cert.get(), key.get()) != 1) {
    return InvalidArgument("the key does not belong to the certificate");
  }
  return Status::Ok();
}

Status WriteSecretFile(const std::string& path, std::string_view data) {
  const std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    return PermissionDenied("cannot write " + tmp);
  }
  ::fchmod(fd, 0600);
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n <= 0) {
      ::close(fd);
      return Internal("cannot write " + tmp);
    }
    off += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0 || std::rename(tmp.c_str(), path.c_str()) != 0) {
    return Internal("cannot write " + path);
  }
  return Status::Ok();
}

}  // namespace df::security
