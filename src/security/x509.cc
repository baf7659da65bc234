#include "dragonfly/security/x509.h"

#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

namespace df::security {
namespace {

bool AddExt(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX v3;
  X509V3_set_ctx_nodb(&v3);
  X509V3_set_ctx(&v3, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &v3, nid, value);
  if (ext == nullptr) {
    return false;
  }
  bool ok = X509_add_ext(cert, ext, -1) == 1;
  X509_EXTENSION_free(ext);
  return ok;
}

}  // namespace

X509* MakeCert(const std::string& subject_cn, EVP_PKEY* pubkey, X509* issuer, EVP_PKEY* issuer_key,
               std::chrono::seconds ttl, const std::vector<std::pair<int, std::string>>& exts) {
  X509* cert = X509_new();
  unsigned char serial[16];
  bool ok = RAND_bytes(serial, sizeof(serial)) == 1;
  serial[0] &= 0x7f;  // positive
  BIGNUM* bn = BN_bin2bn(serial, sizeof(serial), nullptr);
  ok = ok && cert != nullptr && bn != nullptr && X509_set_version(cert, 2) == 1 &&
       BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert)) != nullptr;
  BN_free(bn);
  X509_NAME* name = X509_NAME_new();
  ok = ok && name != nullptr &&
       X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
                                  reinterpret_cast<const unsigned char*>("Dragonfly"), -1, -1,
                                  0) == 1 &&
       X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                  reinterpret_cast<const unsigned char*>(subject_cn.c_str()), -1,
                                  -1, 0) == 1 &&
       X509_set_subject_name(cert, name) == 1 &&
       X509_set_issuer_name(cert, issuer != nullptr ? X509_get_subject_name(issuer) : name) == 1;
  X509_NAME_free(name);
  ok = ok && X509_gmtime_adj(X509_getm_notBefore(cert), -kCertBackdate.count()) != nullptr &&
       X509_gmtime_adj(X509_getm_notAfter(cert), static_cast<long>(ttl.count())) != nullptr &&
       X509_set_pubkey(cert, pubkey) == 1;
  for (const auto& [nid, value] : exts) {
    ok = ok && AddExt(cert, issuer != nullptr ? issuer : cert, nid, value.c_str());
  }
  ok = ok && X509_sign(cert, issuer_key, EVP_sha256()) > 0;
  if (!ok) {
    X509_free(cert);
    return nullptr;
  }
  return cert;
}

}  // namespace df::security
