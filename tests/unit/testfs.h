/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * File-system helpers of the unit tests that save and load files: a
 * temporary directory per test (testfs_dir_setup() in a cmocka setup,
 * dir_teardown() removes it whole), paths in it, whole files written and
 * read, entries counted, and a cap on file sizes to make writes fail.
 */
#ifndef XLMIG_TESTFS_H
#define XLMIG_TESTFS_H

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"

static char tmpdir[64];

/* Make /tmp/@name.XXXXXX as tmpdir: 0, or -1 for cmocka. */
static inline int testfs_dir_setup(const char *name)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/%s.XXXXXX", name);
    return mkdtemp(tmpdir) ? 0 : -1;
}

/* Remove @path and all below it, whatever its modes. */
static inline void rm_tree(const char *path)
{
    struct stat st;
    DIR *d;
    struct dirent *de;
    char sub[1024];

    if (lstat(path, &st))
        return;
    if (S_ISDIR(st.st_mode)) {
        chmod(path, 0700);
        d = opendir(path);
        while (d && (de = readdir(d))) {
            if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                continue;
            if (snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name) <
                (int)sizeof(sub))
                rm_tree(sub);
        }
        if (d)
            closedir(d);
        rmdir(path);
    } else {
        unlink(path);
    }
}

static inline int dir_teardown(void **state)
{
    (void)state;
    rm_tree(tmpdir);
    return 0;
}

/* "TMPDIR/@rel", in one of 8 static buffers used in turn. */
static inline const char *at(const char *rel)
{
    static char buf[8][512];
    static unsigned int next;
    char *p = buf[next++ % 8];

    snprintf(p, sizeof(buf[0]), "%s/%s", tmpdir, rel);
    return p;
}

static inline void write_file(const char *path, const char *data,
                              size_t len)
{
    int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0600);

    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    close(fd);
}

/* The whole file, malloc'd and NUL-ended; free() it. */
static inline char *read_file(const char *path)
{
    struct stat sb;
    char *buf;
    int fd = open(path, O_RDONLY);
    ssize_t n;

    assert_true(fd >= 0);
    assert_int_equal(fstat(fd, &sb), 0);
    buf = malloc((size_t)sb.st_size + 1);
    assert_non_null(buf);
    n = read(fd, buf, (size_t)sb.st_size);
    assert_int_equal(n, sb.st_size);
    buf[n] = '\0';
    close(fd);
    return buf;
}

/* read_file(), kept until the next call: not to be freed. */
static inline const char *read_file_tmp(const char *path)
{
    static char *last;

    free(last);
    last = read_file(path);
    return last;
}

/* The names in @dir containing @part. */
static inline int count_entries(const char *dir, const char *part)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    int n = 0;

    assert_non_null(d);
    while ((de = readdir(d))) {
        if (strstr(de->d_name, part))
            n++;
    }
    closedir(d);
    return n;
}

/*
 * Files may not grow past @bytes until fsize_cap_end(): a write beyond
 * fails with EFBIG (SIGXFSZ is ignored meanwhile).
 */
struct fsize_cap {
    struct rlimit lim;
    void (*prev)(int);
};

static inline void fsize_cap_begin(struct fsize_cap *c, rlim_t bytes)
{
    struct rlimit small;

    c->prev = signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &c->lim), 0);
    small = c->lim;
    small.rlim_cur = bytes;
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
}

static inline void fsize_cap_end(struct fsize_cap *c)
{
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &c->lim), 0);
    signal(SIGXFSZ, c->prev);
}

#endif /* XLMIG_TESTFS_H */
