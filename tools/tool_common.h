/* tool_common.h - helpers for freigabectl and freigabe-app: options, secrets, files, Redis. */
#ifndef TOOL_COMMON_H
#define TOOL_COMMON_H

#include <stddef.h>
#include <hiredis/hiredis.h>

/* ---- errors ------------------------------------------------------------- */

/* Sets the program name used as the prefix of every message (e.g. "freigabectl"). */
void tc_set_progname(const char *name);
const char *tc_progname(void);
/* Prints "<prog>: <message>\n" to stderr (one line; the caller says what to do). */
void tc_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- option parsing ----------------------------------------------------- */

/* One accepted option. `name` is spelled as typed ("--name", "-n"). With has_arg the
 * value is stored in *val ("--name V" or "--name=V"); without, *flag is set to 1. */
typedef struct {
    const char *name;
    int has_arg;
    const char **val;
    int *flag;
} tc_opt_t;

/*
 * Parses argv[1..argc) against opts (terminated by an entry with name NULL). Positional
 * arguments go into pos[0..maxpos) and *npos counts them. "--help"/"-h" set *help (may
 * be NULL if the caller handles them itself). "--" ends the options.
 * Returns 0, or -1 after printing a one-line usage error (unknown option, missing
 * value, too many arguments).
 */
int tc_parse_opts(int argc, char **argv, const tc_opt_t *opts, const char **pos, int maxpos,
                  int *npos, int *help);

/* Parses a decimal integer in [min,max] into *out. Returns 0 or -1 (no message). */
int tc_parse_long(const char *s, long long min, long long max, long long *out);
/* Parses a byte size with optional K/M/G suffix (powers of 1024). Returns 0 or -1. */
int tc_parse_size(const char *s, unsigned long long *out);

/* ---- secrets ------------------------------------------------------------ */

/*
 * Reads one secret line. from_stdin: reads a line from standard input (no prompt).
 * Otherwise prompts on /dev/tty with echo off (termios) and restores the terminal even
 * when interrupted. The trailing newline (and CR) is removed; buf is NUL-terminated.
 * Returns the length, or -1 (no terminal, EOF, too long, interrupted) after printing why.
 * The caller wipes buf with sodium_memzero.
 */
int tc_read_secret(const char *prompt, int from_stdin, char *buf, size_t buflen);
/* As above; on a terminal the secret is asked twice and must match. */
int tc_read_new_secret(const char *prompt, const char *again, int from_stdin, char *buf,
                       size_t buflen);
/* Reads one visible line from /dev/tty after printing prompt. Returns length or -1. */
int tc_read_line_tty(const char *prompt, char *buf, size_t buflen);
/* 1 when stdin / stdout is a terminal. */
int tc_stdin_is_tty(void);
int tc_stdout_is_tty(void);
/* Set by the SIGINT handler that tc_install_sigint() installs (no SA_RESTART, so blocking
 * reads return EINTR and loops can end cleanly). */
extern volatile int tc_interrupted;
void tc_install_sigint(void);

/* ---- files -------------------------------------------------------------- */

/*
 * Writes data to path atomically (temporary file in the same directory, fsync, rename)
 * with exactly `mode`. exclusive: fail with EEXIST if path exists (no overwrite race).
 * Returns 0, or -1 with errno set.
 */
int tc_write_file(const char *path, const void *data, size_t len, int mode, int exclusive);
/* Reads a whole file into a malloc'd NUL-terminated buffer ("-" = stdin). NULL on error
 * with errno set. *len may be NULL. */
char *tc_read_file(const char *path, size_t *len);

/* ---- Redis -------------------------------------------------------------- */

/* Why tc_redis_connect failed. */
enum {
    TC_REDIS_BAD_URL = 1, /* the URL is malformed: a usage error */
    TC_REDIS_DOWN,        /* Redis cannot be reached (refused, timeout, lost connection) */
    TC_REDIS_REFUSED      /* Redis answered AUTH or SELECT with an error */
};

/*
 * Connects to a Redis URL (redis://[user:pass@]host:port/db or unix:/path[?db=N], parsed
 * by fg_redis_url_parse), with connect and command timeouts of timeout_ms, then AUTH and
 * SELECT as the URL asks. Returns the context, or NULL after printing a one-line error,
 * with *why (may be NULL) set to one of TC_REDIS_*. The password is never printed.
 */
redisContext *tc_redis_connect(const char *url, int timeout_ms, int *why);

#endif
