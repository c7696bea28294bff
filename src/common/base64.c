/* base64.c -- RFC 4648 base64 encoding and decoding. */
#include "base64.h"

#include <stdint.h>

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t base64_encoded_len(size_t n) { return (n + 2) / 3 * 4; }

void base64_encode(const void *src, size_t n, char *dst) {
    const unsigned char *s = src;
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
        *dst++ = alphabet[v >> 18];
        *dst++ = alphabet[(v >> 12) & 63];
        *dst++ = alphabet[(v >> 6) & 63];
        *dst++ = alphabet[v & 63];
    }
    if (i == n) return;
    uint32_t v = (uint32_t)s[i] << 16 | (i + 1 < n ? (uint32_t)s[i + 1] << 8 : 0);
    *dst++ = alphabet[v >> 18];
    *dst++ = alphabet[(v >> 12) & 63];
    *dst++ = i + 1 < n ? alphabet[(v >> 6) & 63] : '=';
    *dst = '=';
}

size_t base64_decoded_max(size_t n) { return n / 4 * 3 + 3; }

/* 0..63, or -1 for a character outside the alphabet. */
static int sextet(unsigned char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

int base64_decode(const char *src, size_t n, unsigned char *dst, size_t *out_len) {
    size_t pad = 0;
    while (pad < 2 && n > pad && src[n - 1 - pad] == '=') pad++;
    size_t body = n - pad;
    /* With padding the text is whole quads; without, a lone last sextet
     * cannot carry a byte. */
    if ((pad && n % 4) || body % 4 == 1) return -1;
    uint32_t acc = 0;
    int bits = 0;
    size_t out = 0;
    for (size_t i = 0; i < body; i++) {
        int v = sextet((unsigned char)src[i]);
        if (v < 0) return -1;
        acc = (acc << 6 | (uint32_t)v) & 0xffffff;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            dst[out++] = (unsigned char)(acc >> bits);
        }
    }
    *out_len = out;
    return 0;
}
