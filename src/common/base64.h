/* base64.h -- RFC 4648 base64 with the standard alphabet, for binary values
 * carried in JSON (TF Serving's {"b64": "..."} objects).
 *
 * Encoding always pads with '='. Decoding accepts padded and unpadded text
 * (TF Serving's clients send both) but nothing else: no whitespace, no
 * URL-safe alphabet, no characters after the padding. (Unused low bits of
 * the last character are ignored, as most decoders do.)
 *
 *     char *text = malloc(base64_encoded_len(n));
 *     base64_encode(bytes, n, text);                 // no NUL written
 *     unsigned char *raw = malloc(base64_decoded_max(len) + 1);
 *     size_t got;
 *     if (base64_decode(text, len, raw, &got)) ... not valid base64 ...
 *
 * Pure functions, any thread. */
#ifndef INFERD_BASE64_H
#define INFERD_BASE64_H

#include <stddef.h>

/* 4 * ceil(n / 3): the length of the encoding of n bytes. */
size_t base64_encoded_len(size_t n);
/* Writes base64_encoded_len(n) characters to dst (no terminating NUL). */
void base64_encode(const void *src, size_t n, char *dst);

/* An upper bound of the decoded length of n characters of base64. */
size_t base64_decoded_max(size_t n);
/* Decodes src[0..n) into dst (base64_decoded_max(n) bytes of room);
 * returns 0 and sets *out_len, or -1 if src is not valid base64. */
int base64_decode(const char *src, size_t n, unsigned char *dst, size_t *out_len);

#endif
