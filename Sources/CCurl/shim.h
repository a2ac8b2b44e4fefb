// libcurl's option and info calls are variadic, which Swift cannot call: one typed wrapper each.
#include <curl/curl.h>

static inline CURLcode faceexport_curl_setopt_long(CURL *handle, CURLoption option, long value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode faceexport_curl_setopt_pointer(CURL *handle, CURLoption option, const void *value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode faceexport_curl_setopt_offset(CURL *handle, CURLoption option, curl_off_t value) {
    return curl_easy_setopt(handle, option, value);
}

typedef size_t (*faceexport_curl_data_callback)(char *data, size_t size, size_t count, void *context);

static inline CURLcode faceexport_curl_setopt_callback(
    CURL *handle, CURLoption option, faceexport_curl_data_callback callback) {
    return curl_easy_setopt(handle, option, callback);
}

static inline CURLcode faceexport_curl_getinfo_long(CURL *handle, CURLINFO info, long *value) {
    return curl_easy_getinfo(handle, info, value);
}

/// Trusts the PEM certificates in `data` (copied by libcurl) instead of the CA bundle file.
static inline CURLcode faceexport_curl_set_ca_blob(CURL *handle, const void *data, size_t length) {
    struct curl_blob blob = {(void *)data, length, CURL_BLOB_COPY};
    return curl_easy_setopt(handle, CURLOPT_CAINFO_BLOB, &blob);
}

/// The CA bundle this libcurl was built to use, or NULL.
static inline const char *faceexport_curl_default_ca_file(void) {
    return curl_version_info(CURLVERSION_NOW)->cainfo;
}
